#!/bin/bash
# Device run 55 (session 7): the fused projection GEMM with 128-byte-swizzled tiles (embedded)
# against run 53's unswizzled core-matrix layout (gpu-bin/k0/linear_fused.cu via
# HRM_KERNEL_SOURCES): selftest, kernel bench, Nsight Compute summary of the plain GEMM of
# each, then the model at (96, 900) with the projections fused or not.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk PATH=$PATH:/usr/local/cuda/bin
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); L=$OUT/log.txt
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader | tee -a $L
for v in 1 2; do
  HRM_CUDA_FUSED_LINEAR=$v timeout 100 $H selftest device=cuda ops=linear > /tmp/st.log 2>&1
  echo "selftest linear (swizzled) HRM_CUDA_FUSED_LINEAR=$v rc=$?: $(grep -E 'checks passed' /tmp/st.log)" | tee -a $L
  grep -E "FAIL|rror" /tmp/st.log | head -8 | tee -a $L
done
for src in embedded gpu-bin/k0; do
  if [ $src = embedded ]; then unset HRM_KERNEL_SOURCES; else export HRM_KERNEL_SOURCES=$PWD/$src; fi
  timeout 120 $H selftest device=cuda ops=fill bench=true benchops=fused > /tmp/kb.log 2>&1
  echo "-- kernel bench, $src" | tee -a $L
  grep -E "^fused|rror" /tmp/kb.log | sed 's/   */  /g' | tee -a $L
  timeout 120 ncu --clock-control none -k regex:linear_fused_plain$ --launch-skip 2 --launch-count 1 \
    --section SpeedOfLight --section MemoryWorkloadAnalysis_Tables --section WarpStateStats --section Occupancy \
    $H selftest device=cuda ops=fill bench=true benchops=fused > /tmp/ncu.log 2>&1
  echo "-- ncu linear_fused_plain, $src" >> $L
  grep -vE "^==PROF==|^fused|^op " /tmp/ncu.log | grep -E "[A-Za-z]" | head -90 >> $L
done
unset HRM_KERNEL_SOURCES
echo "at $(( $(date +%s) - T0 )) s" | tee -a $L
for v in 0 1 0 1; do
  HRM_CUDA_FUSED_LINEAR=$v timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 2 > /tmp/b.log 2>&1
  echo "B96 S900 fused=$v: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')" | tee -a $L
done
echo "total $(( $(date +%s) - T0 )) s" | tee -a $L
