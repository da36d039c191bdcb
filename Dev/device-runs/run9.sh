#!/bin/bash
# Device run 9 (cudaperf): SwiGLU flat grid + SFU sigmoid; register-capped attention variants
# (HRM_CUDA_ATTN_MINB=1). selftest of the touched ops (default and capped attention),
# kernel bench, `hrm bench model` on the three issue shapes, and the capped variant on two.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$LD_LIBRARY_PATH HRM_KERNEL_CACHE=/tmp/hrmk HRM_CUDA_PTXAS_VERBOSE=1
gunzip -c gpu-bin/hrm-cudaperf.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
t0=$(date +%s)
$H selftest device=cuda ops=attention,rmsnorm,swiglu > $OUT/selftest.log 2>&1; echo "selftest rc=$? in $(( $(date +%s) - t0 )) s"
grep -E 'checks passed|FAIL' $OUT/selftest.log | head -12
HRM_CUDA_ATTN_MINB=1 $H selftest device=cuda ops=attention > $OUT/selftest-m.log 2>&1; echo "selftest minb rc=$?"
grep -E 'checks passed|FAIL' $OUT/selftest-m.log | head -8
grep -A3 -E "entry function '(attention_.*tc_64_w4.*|swiglu_.*bf16x8.*)'" $OUT/selftest.log | grep -E "entry|registers|spill" > $OUT/ptxas.txt; cat $OUT/ptxas.txt | sed 's/ptxas info    : //' | paste - - - | awk '{print $4, $0}' | cut -c1-200 | head -20
timeout 120 $H selftest device=cuda ops=fill bench=true benchops=attention,swiglu,rmsnorm > $OUT/kbench.log 2>&1; echo "kbench rc=$?"
grep -E '^  (attention|swiglu|rmsNorm|addRMS)' $OUT/kbench.log | head -30
for shape in "384 81 11" "768 81 11" "96 900 12"; do
  set -- $shape
  timeout 150 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 2>&1 | tee -a $OUT/bench.log | grep -E 'train step|evaluation'
done
echo "== capped-register attention (HRM_CUDA_ATTN_MINB=1)"
HRM_CUDA_ATTN_MINB=1 timeout 100 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 3 2>&1 | tee -a $OUT/bench-alt.log | grep -E 'train step|evaluation'
HRM_CUDA_ATTN_MINB=1 timeout 100 $H bench model --arch v1 --device cuda --batch 384 --seq-len 81 --vocab 11 --repeats 10 --eval-repeats 3 2>&1 | tee -a $OUT/bench-alt.log | grep -E 'train step|evaluation'
echo "total $(( $(date +%s) - t0 )) s"
