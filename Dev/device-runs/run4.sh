#!/bin/bash
# Device run 4: full selftest, bench, Nsight Compute on the tensor-core attention kernels.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$LD_LIBRARY_PATH HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
t0=$(date +%s)
/tmp/hrm selftest device=cuda > $OUT/selftest.log 2>&1; rc=$?
echo "selftest rc=$rc in $(( $(date +%s) - t0 )) s"; grep -E 'FAIL|checks passed|rror' $OUT/selftest.log | head -20
timeout 120 /tmp/hrm selftest device=cuda ops=fill bench=true > $OUT/bench.log 2>&1; echo "bench rc=$?"
S="--section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis"
t0=$(date +%s)
timeout 150 ncu --clock-control none -k regex:attention_forward_tc_64_w8 --launch-skip 2 --launch-count 1 $S /tmp/hrm selftest device=cuda ops=fill bench=true benchops=attentionForward > $OUT/ncu-fwd.txt 2>&1; echo "ncu fwd rc=$? in $(( $(date +%s) - t0 )) s"
timeout 150 ncu --clock-control none -k regex:'attention_backward_(kv|q)_tc_64_w8' --launch-skip 2 --launch-count 2 $S /tmp/hrm selftest device=cuda ops=fill bench=true benchops=attentionBackward > $OUT/ncu-bwd.txt 2>&1; echo "ncu bwd rc=$? in $(( $(date +%s) - t0 )) s"
for f in $OUT/ncu-fwd.txt $OUT/ncu-bwd.txt; do grep -E '^  attention|Duration|Compute \(SM\) Throughput|Memory Throughput|Achieved Occupancy|Theoretical Occupancy|Registers Per|Block Limit (Reg|Shared)|Issued Warp|No Eligible|Warp Cycles Per Issued|L1/TEX Hit|Mem Busy|Max Bandwidth|ERR|==PROF==' $f | head -40; done
echo "=== bench"; grep -A40 "^op " $OUT/bench.log | tail -26
