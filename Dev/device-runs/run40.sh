#!/bin/bash
# Device run 40 (nvidia-h200, session 5): the forward with two 64-row query tiles per
# warpgroup (softmax of one tile overlaps the other's products), 1 and 2 warpgroups per
# block: attention selftest with each, kernel bench, model bench (96, 900) on and off.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
for wp in 1 2; do
  HRM_CUDA_ATTN_WP=$wp timeout 100 $H selftest device=cuda ops=attention > $OUT/st-wp$wp.log 2>&1; echo "selftest attention WP=$wp rc=$? at $(( $(date +%s) - T0 )) s"
  grep -E 'checks passed|FAIL|error' $OUT/st-wp$wp.log | head -6
done
timeout 100 $H selftest device=cuda ops=fill bench=true benchops=attention > $OUT/kb.log 2>&1; echo "kbench rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'T901.*(wgmma, 4|producer|query tiles)' $OUT/kb.log | head -8
for wp in 1 2 0; do
  echo "== B96 S900 HRM_CUDA_ATTN_WP=$wp"
  HRM_CUDA_ATTN_WP=$wp timeout 100 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 3 --profile --profile-top 4 > $OUT/bench-wp$wp.log 2>&1
  grep -E 'train step|evaluation|attention_forward' $OUT/bench-wp$wp.log
done
echo "total $(( $(date +%s) - T0 )) s"
