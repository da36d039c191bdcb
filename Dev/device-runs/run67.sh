#!/bin/bash
# Device run 67 (session 8): Nsight Compute on linear_ws (the plain and the SwiGLU kernel,
# BN 256, 86,496 x 3072 x 512, from the kernel bench), to see what holds its GEMM at 585
# TFLOP/s where cuBLASLt reached 644 in run 63: throughput of L2 and the tensor pipe, warp
# stalls, the consumers' handoff.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk PATH=$PATH:/usr/local/cuda/bin
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); L=$OUT/log.txt
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader | tee -a $L
timeout 100 $H selftest device=cuda ops=fill bench=true benchops=fused > /tmp/kb.log 2>&1
grep -E "^fused|rror" /tmp/kb.log | sed 's/   */  /g' | tee -a $L
echo "at $(( $(date +%s) - T0 )) s" | tee -a $L
for k in linear_ws_plain_256 linear_ws_swiglu_256; do
  timeout 150 ncu --clock-control none -k regex:$k\$ --launch-skip 2 --launch-count 1 \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis_Tables \
    --section WarpStateStats --section SchedulerStats --section Occupancy \
    $H selftest device=cuda ops=fill bench=true benchops=fused > /tmp/ncu.log 2>&1
  echo "-- ncu $k rc=$? at $(( $(date +%s) - T0 )) s" | tee -a $L
  grep -vE "^==PROF==|^fused|^op " /tmp/ncu.log | grep -E "[A-Za-z]" | head -120 >> $L
done
echo "total $(( $(date +%s) - T0 )) s" | tee -a $L
