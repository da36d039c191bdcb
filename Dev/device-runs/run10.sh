#!/bin/bash
# Device run 10 (cudaperf): final defaults (register-capped attention, SwiGLU flat grid, fused
# add + RMSNorm) and the cuBLASLt tuning experiment (HRM_CUDA_GEMM_TUNE=1). Full selftest,
# kernel bench, `hrm bench model` on the three issue shapes without and with GEMM tuning.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$LD_LIBRARY_PATH HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm-cudaperf.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
t0=$(date +%s)
$H selftest device=cuda > $OUT/selftest.log 2>&1; echo "selftest (all ops) rc=$? in $(( $(date +%s) - t0 )) s"
grep -E 'checks passed|FAIL' $OUT/selftest.log | head -12
HRM_CUDA_GEMM_TUNE=1 $H selftest device=cuda ops=gemm > $OUT/selftest-tune.log 2>&1; echo "selftest gemm tuned rc=$?"
grep -E 'checks passed|FAIL' $OUT/selftest-tune.log | head -6
timeout 100 $H selftest device=cuda ops=fill bench=true benchops=gemm,attention,swiglu > $OUT/kbench.log 2>&1; echo "kbench rc=$?"
HRM_CUDA_GEMM_TUNE=1 timeout 60 $H selftest device=cuda ops=fill bench=true benchops=gemm > $OUT/kbench-tune.log 2>&1; echo "kbench tuned rc=$?"
grep -E '^  (gemm|attention)' $OUT/kbench.log | head -20; echo "-- tuned"; grep -E '^  gemm' $OUT/kbench-tune.log | head -8
for tune in 0 1; do
  echo "== HRM_CUDA_GEMM_TUNE=$tune"
  for shape in "384 81 11" "768 81 11" "96 900 12"; do
    set -- $shape
    HRM_CUDA_GEMM_TUNE=$tune timeout 120 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 2>&1 | tee -a $OUT/bench-tune$tune.log | grep -E 'train step|evaluation'
  done
done
echo "total $(( $(date +%s) - t0 )) s"
