#!/bin/bash
# Device run 8 (cudaperf): attention exp2/ldmatrix/32-row forward, fused residual add + RMSNorm.
# selftest of the touched ops (both forward row-group variants), kernel bench, then
# `hrm bench model` on the three issue shapes (default variants) plus the other forward
# variant on (96, 900) and (384, 81).
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$LD_LIBRARY_PATH HRM_KERNEL_CACHE=/tmp/hrmk HRM_CUDA_PTXAS_VERBOSE=1
gunzip -c gpu-bin/hrm-cudaperf.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
t0=$(date +%s)
$H selftest device=cuda ops=attention,rmsnorm > $OUT/selftest.log 2>&1; echo "selftest rc=$? in $(( $(date +%s) - t0 )) s"
grep -E 'checks passed|FAIL' $OUT/selftest.log | head -12
HRM_CUDA_ATTN_ROWS=2 $H selftest device=cuda ops=attention > $OUT/selftest-r2.log 2>&1; echo "selftest r2 rc=$?"
grep -E 'checks passed|FAIL' $OUT/selftest-r2.log | head -8
HRM_CUDA_ATTN_ROWS=1 $H selftest device=cuda ops=attentionForward > $OUT/selftest-r1.log 2>&1; echo "selftest r1 rc=$?"
grep -E 'checks passed|FAIL' $OUT/selftest-r1.log | head -8
grep -iE 'attention_forward_tc_64_w4|add_rmsnorm|spill|registers' $OUT/selftest.log | head -12
timeout 120 $H selftest device=cuda ops=fill bench=true benchops=attention,rmsnorm > $OUT/kbench.log 2>&1; echo "kbench rc=$?"
grep -E 'attention|rmsNorm|addRMS' $OUT/kbench.log | head -24
for shape in "384 81 11" "768 81 11" "96 900 12"; do
  set -- $shape
  timeout 150 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 2>&1 | tee -a $OUT/bench.log | grep -E 'train step|evaluation'
done
echo "== other forward variant"
HRM_CUDA_ATTN_ROWS=1 timeout 100 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 3 2>&1 | tee -a $OUT/bench-alt.log | grep -E 'train step|evaluation'
HRM_CUDA_ATTN_ROWS=2 timeout 100 $H bench model --arch v1 --device cuda --batch 384 --seq-len 81 --vocab 11 --repeats 10 --eval-repeats 3 2>&1 | tee -a $OUT/bench-alt.log | grep -E 'train step|evaluation'
echo "total $(( $(date +%s) - t0 )) s"
