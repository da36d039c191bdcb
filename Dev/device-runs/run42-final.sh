#!/bin/bash
# Device run 42 (nvidia-h200, session 5), the session's final binary: the four tensor-core
# backward kernels read their head's offsets from one BackwardHead (SASS changed), so the
# full selftest, the attention selftest with every backward kernel choice, the golden
# fixtures, and bench model on the issue shapes.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
timeout 240 $H selftest device=cuda > $OUT/selftest.log 2>&1; echo "selftest rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'checks passed|FAIL|error' $OUT/selftest.log | head -6
for v in "HRM_CUDA_ATTN_BWD_WGS=1" "HRM_CUDA_ATTN_BWD_WGS=2" "HRM_CUDA_ATTN_MINB=0" "HRM_CUDA_ATTN_BWDQ_WGS=0"; do
  env $v timeout 100 $H selftest device=cuda ops=attentionBackward > $OUT/st-bwd.log 2>&1; echo "selftest attentionBackward $v rc=$?: $(grep -E 'checks passed' $OUT/st-bwd.log) $(grep -c FAIL $OUT/st-bwd.log) FAIL"
done
timeout 120 $H check-reference gpu-bin/golden device=cuda > $OUT/checkref.log 2>&1; echo "check-reference rc=$?"; tail -1 $OUT/checkref.log
for shape in "384 81 11" "768 81 11" "96 900 12"; do
  set -- $shape; echo "== B$1 S$2"
  timeout 150 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 --profile --profile-top 6 > $OUT/bench-$1-$2.log 2>&1
  grep -E 'train step|evaluation|attention_backward' $OUT/bench-$1-$2.log
done
echo "total $(( $(date +%s) - T0 )) s"
