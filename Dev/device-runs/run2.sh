#!/bin/bash
# Device run 2: selftest with tensor-core attention, simple-attention selftest, sanitizers, bench.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$LD_LIBRARY_PATH HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
t0=$(date +%s)
HRM_CUDA_PTXAS_VERBOSE=1 /tmp/hrm selftest device=cuda > $OUT/selftest.log 2>&1; rc=$?
echo "selftest rc=$rc in $(( $(date +%s) - t0 )) s"
grep -E 'entry function|Used|spill' $OUT/selftest.log > $OUT/ptxas.txt
grep -A2 -E "entry function '(attention|rmsnorm_.*_w16|rope|swiglu)" $OUT/ptxas.txt | grep -vE '^--' | paste - - - | sed -E 's/ptxas (info    :|        \.)//g' | cut -c1-230
HRM_CUDA_ATTENTION=simple timeout 120 /tmp/hrm selftest device=cuda ops=attention > $OUT/simple-attn.log 2>&1; echo "simple attention rc=$?"; tail -1 $OUT/simple-attn.log
t0=$(date +%s)
timeout 150 compute-sanitizer --tool memcheck --print-limit 5 /tmp/hrm selftest device=cuda ops=attention,rope,swiglu,rmsNorm,embedding,sparse > $OUT/memcheck.log 2>&1; echo "memcheck rc=$? in $(( $(date +%s) - t0 )) s"; grep -E 'ERROR SUMMARY|checks passed|Invalid|out of bounds' $OUT/memcheck.log | head -5
t0=$(date +%s)
timeout 120 compute-sanitizer --tool racecheck --print-limit 5 /tmp/hrm selftest device=cuda ops=attention > $OUT/racecheck.log 2>&1; echo "racecheck rc=$? in $(( $(date +%s) - t0 )) s"; grep -E 'RACECHECK SUMMARY|ERROR SUMMARY|checks passed|hazard' $OUT/racecheck.log | head -5
timeout 120 /tmp/hrm selftest device=cuda ops=fill bench=true > $OUT/bench.log 2>&1; echo "bench rc=$?"
echo "=== selftest"; grep -E '^selftest|FAIL|checks passed|rror|^attention' $OUT/selftest.log | grep -v ptxas | head -60
echo "=== bench"; grep -A40 '^op ' $OUT/bench.log | tail -22
