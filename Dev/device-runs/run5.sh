#!/bin/bash
# Device run 5: selftest, attention sanitizers (cp.async pipeline), bench.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$LD_LIBRARY_PATH HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
t0=$(date +%s)
HRM_CUDA_PTXAS_VERBOSE=1 /tmp/hrm selftest device=cuda > $OUT/selftest.log 2>&1; rc=$?
echo "selftest rc=$rc in $(( $(date +%s) - t0 )) s"; grep -E 'FAIL|checks passed|rror' $OUT/selftest.log | grep -v ptxas | head -20
grep -A2 -E "entry function 'attention_.*tc_64" $OUT/selftest.log | grep -vE '^--' | paste - - - | sed -E 's/ptxas (info    :|        \.)//g' | cut -c1-200
timeout 100 compute-sanitizer --tool memcheck --print-limit 5 /tmp/hrm selftest device=cuda ops=attention > $OUT/memcheck.log 2>&1; echo "memcheck rc=$?"; grep -E 'ERROR SUMMARY|checks passed' $OUT/memcheck.log | head -3
timeout 120 compute-sanitizer --tool racecheck --print-limit 5 /tmp/hrm selftest device=cuda ops=attention > $OUT/racecheck.log 2>&1; echo "racecheck rc=$?"; grep -E 'RACECHECK SUMMARY|checks passed' $OUT/racecheck.log | head -3
timeout 150 /tmp/hrm selftest device=cuda ops=fill bench=true > $OUT/bench.log 2>&1; echo "bench rc=$?"
echo "=== bench"; grep -A40 "^op " $OUT/bench.log | tail -30
