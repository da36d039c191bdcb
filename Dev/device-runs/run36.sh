#!/bin/bash
# Device run 36 (nvidia-h200, session 4): the short-sequence attention forward with all 12
# global loads of a thread issued first (HRM_CUDA_ATTN_SHORT_EARLY=1, register-capped for 3
# blocks per SM) against the row-by-row loads. Selftest of the attention ops both ways, kernel
# bench, bench model at (384, 81) and (768, 81) both ways.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
for e in 0 1; do
  HRM_CUDA_ATTN_SHORT_EARLY=$e timeout 100 $H selftest device=cuda ops=attentionForward > $OUT/st-$e.log 2>&1
  echo "early=$e selftest rc=$? $(grep -E 'checks passed' $OUT/st-$e.log)"; grep FAIL $OUT/st-$e.log | head -3
  HRM_CUDA_ATTN_SHORT_EARLY=$e timeout 100 $H selftest device=cuda ops=fill bench=true benchops=attentionForward > $OUT/kb-$e.log 2>&1
  grep -E "^attentionForward(Rotary)? bf16 B384 T82 H8 " $OUT/kb-$e.log | head -2
done
for shape in "384 81 11" "768 81 11"; do
  set -- $shape
  for e in 0 1 0 1; do
    echo "== B$1 S$2 early=$e"
    HRM_CUDA_ATTN_SHORT_EARLY=$e timeout 100 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 --profile --profile-top 3 2>&1 | grep -E 'train step|evaluation|short'
  done
done
echo "total $(( $(date +%s) - T0 )) s"
