#!/bin/bash
# Device run 27 (nvidia-h200, session 4): short attention with all loads issued first and 16-byte
# RoPE table loads; Hopper forward rotating Q in registers (K rotated into a scratch by a
# key-heads-only rope pass); vectorised attention delta. Full selftest, golden fixtures,
# bench model --profile on the issue-3 shapes, (384, 81) with HRM_CUDA_ATTN_SHORT=0.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
timeout 240 $H selftest device=cuda > $OUT/selftest.log 2>&1; echo "selftest rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'checks passed|FAIL|error' $OUT/selftest.log | head -8
timeout 120 $H check-reference gpu-bin/golden device=cuda > $OUT/checkref.log 2>&1; echo "check-reference rc=$?"; tail -2 $OUT/checkref.log
for shape in "384 81 11" "768 81 11" "96 900 12"; do
  set -- $shape; echo "== B$1 S$2"
  timeout 150 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 --profile --profile-top 40 > $OUT/bench-$1-$2.log 2>&1
  grep -E 'train step|evaluation|profile of' $OUT/bench-$1-$2.log
done
echo "== B384 S81 HRM_CUDA_ATTN_SHORT=0"
HRM_CUDA_ATTN_SHORT=0 timeout 150 $H bench model --arch v1 --device cuda --batch 384 --seq-len 81 --vocab 11 --repeats 10 --eval-repeats 3 2>&1 | grep -E 'train step|evaluation'
echo "total $(( $(date +%s) - T0 )) s"
