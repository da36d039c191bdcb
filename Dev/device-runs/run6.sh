#!/bin/bash
# Device run 6: final selftest, bench, whole-model step time (v1, B384) and the demo on the GPU.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$LD_LIBRARY_PATH HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
t0=$(date +%s)
/tmp/hrm selftest device=cuda > $OUT/selftest.log 2>&1; rc=$?
echo "selftest rc=$rc in $(( $(date +%s) - t0 )) s"; grep -E '^selftest|FAIL|checks passed|allocate' $OUT/selftest.log | head -20
timeout 150 /tmp/hrm selftest device=cuda ops=fill bench=true > $OUT/bench.log 2>&1; echo "bench rc=$?"
t0=$(date +%s)
timeout 150 /tmp/hrm bench model --arch v1 --batch 384 --device cuda --repeats 5 --eval-repeats 1 > $OUT/model.log 2>&1; echo "bench model rc=$? in $(( $(date +%s) - t0 )) s"; tail -4 $OUT/model.log
timeout 100 /tmp/hrm bench model --arch v1 --batch 96 --device cuda --repeats 5 >> $OUT/model.log 2>&1; echo "bench model B96 rc=$?"; tail -2 $OUT/model.log
t0=$(date +%s)
timeout 150 /tmp/hrm demo --epochs 12 --eval-interval 4 device=cuda > $OUT/demo.log 2>&1; echo "demo rc=$? in $(( $(date +%s) - t0 )) s"; grep -vE '^\s*$' $OUT/demo.log | tail -22
echo "=== bench"; grep -A40 "^op " $OUT/bench.log | tail -30
