#!/bin/bash
# Device run 25 (nvidia-h200, session 4): the session-3 kernel refactors on the GPU (full
# selftest), then `bench model --profile` on the issue-3 shapes: device time per kernel of one
# training step and one evaluation batch, to decide where the remaining time goes.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
timeout 240 $H selftest device=cuda > $OUT/selftest.log 2>&1; echo "selftest rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'checks passed|FAIL|error' $OUT/selftest.log | head -6
for shape in "384 81 11" "768 81 11" "96 900 12"; do
  set -- $shape; echo "== B$1 S$2"
  timeout 150 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 --profile --profile-top 40 > $OUT/bench-$1-$2.log 2>&1
  grep -E 'train step|evaluation|profile of' $OUT/bench-$1-$2.log
done
echo "total $(( $(date +%s) - T0 )) s"
