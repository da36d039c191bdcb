#!/bin/bash
# Device run 18 (nvidia-h200): wgmma forward with 3 and 4 warpgroups per block (K/V tiles
# shared by 192 / 256 query rows: run 17's Nsight showed the kernel L2-bound at 2) and the
# scale folded into one FFMA per score. selftest per block size, kernel bench, model bench.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
for w in 2 4 3 1; do
  HRM_CUDA_ATTN_WGS=$w timeout 150 $H selftest device=cuda ops=attention > $OUT/st-wg$w.log 2>&1; echo "selftest attention HRM_CUDA_ATTN_WGS=$w rc=$? at $(( $(date +%s) - T0 )) s"
  grep -E 'checks passed|FAIL|error' $OUT/st-wg$w.log | head -4
done
timeout 150 $H selftest device=cuda ops=fill bench=true benchops=attention > $OUT/kbench.log 2>&1; echo "kbench rc=$?"
grep -E '^  attention' $OUT/kbench.log | head -40
for wgs in auto 4 3; do
  echo "== B96 S900 HRM_CUDA_ATTN_WGS=$wgs"
  env $([ $wgs != auto ] && echo HRM_CUDA_ATTN_WGS=$wgs) timeout 120 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 3 2>&1 | tee -a $OUT/bench.log | grep -E 'train step|evaluation'
done
echo "total $(( $(date +%s) - T0 )) s"
