#!/bin/bash
# Device run 41 (nvidia-h200, session 5): part of the forward's exponentials (2 or 4 of 8
# column groups) by a cubic on the FMA pipe instead of the SFU, 4-warpgroup Hopper kernel:
# attention selftest with each, kernel bench, model bench (96, 900) with each and without.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
for p in 2 4; do
  HRM_CUDA_ATTN_POLY=$p timeout 100 $H selftest device=cuda ops=attention > $OUT/st-p$p.log 2>&1; echo "selftest attention POLY=$p rc=$? at $(( $(date +%s) - T0 )) s"
  grep -E 'checks passed|FAIL|error' $OUT/st-p$p.log | head -6
done
timeout 100 $H selftest device=cuda ops=fill bench=true benchops=attention > $OUT/kb.log 2>&1; echo "kbench rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'T901.*(wgmma, 4|polynomial)' $OUT/kb.log | head -8
for p in 2 0 4; do
  echo "== B96 S900 HRM_CUDA_ATTN_POLY=$p"
  HRM_CUDA_ATTN_POLY=$p timeout 100 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 3 --profile --profile-top 4 > $OUT/bench-p$p.log 2>&1
  grep -E 'train step|evaluation|attention_forward' $OUT/bench-p$p.log
done
echo "total $(( $(date +%s) - T0 )) s"
