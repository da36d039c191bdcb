#!/bin/bash
# Device run 43 (nvidia-h200, session 5, review pass): host-side changes only (the profiler's
# events around the launch call itself, the Hopper kernel choices renamed and taking the
# head-dim condition): full selftest, the backward with each kernel choice, golden fixtures,
# bench model with the profile on the long shape and the Sudoku shape.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
timeout 240 $H selftest device=cuda > $OUT/selftest.log 2>&1; echo "selftest rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'checks passed|FAIL|error' $OUT/selftest.log | head -6
for v in "HRM_CUDA_ATTN_BWD_WGS=1" "HRM_CUDA_ATTN_BWD_WGS=2" "HRM_CUDA_ATTN_BWDQ_WGS=0" "HRM_CUDA_ATTN_WGS=0"; do
  env $v timeout 100 $H selftest device=cuda ops=attention > $OUT/st-attn.log 2>&1; echo "selftest attention $v rc=$?: $(grep -E 'checks passed' $OUT/st-attn.log) $(grep -c FAIL $OUT/st-attn.log) FAIL"
done
timeout 120 $H check-reference gpu-bin/golden device=cuda > $OUT/checkref.log 2>&1; echo "check-reference rc=$?"; tail -1 $OUT/checkref.log
for shape in "96 900 12" "384 81 11"; do
  set -- $shape; echo "== B$1 S$2"
  timeout 150 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 --profile --profile-top 5 > $OUT/bench-$1-$2.log 2>&1
  grep -E 'train step|evaluation|profile of|attention' $OUT/bench-$1-$2.log
done
echo "total $(( $(date +%s) - T0 )) s"
