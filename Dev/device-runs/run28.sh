#!/bin/bash
# Device run 28 (nvidia-h200, session 4): RoPE table loads hoisted out of branches (rows
# clamped into range) in the short attention forward and in the Hopper forward's Q rotation,
# which run 27 showed serialised (wgmma forward +70 us per call at T = 901). Selftest of the
# attention and rope ops, bench model --profile on the issue-3 shapes.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
timeout 240 $H selftest device=cuda ops=attention,rope > $OUT/selftest.log 2>&1; echo "selftest rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'checks passed|FAIL|error' $OUT/selftest.log | head -8
for shape in "384 81 11" "768 81 11" "96 900 12"; do
  set -- $shape; echo "== B$1 S$2"
  timeout 150 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 --profile --profile-top 40 > $OUT/bench-$1-$2.log 2>&1
  grep -E 'train step|evaluation|profile of' $OUT/bench-$1-$2.log
done
echo "total $(( $(date +%s) - T0 )) s"
