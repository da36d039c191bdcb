#!/bin/bash
# Device run 1: selftest (+ per-op fallback), simple-GEMM selftest, bench.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$LD_LIBRARY_PATH HRM_KERNEL_CACHE=/tmp/hrmk
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader
ls /usr/local/cuda/lib64 | grep -E 'nvrtc|cublasLt' | tr '\n' ' '; echo
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
t0=$(date +%s)
HRM_CUDA_PTXAS_VERBOSE=1 /tmp/hrm selftest device=cuda > $OUT/selftest.log 2>&1; rc=$?
echo "selftest rc=$rc in $(( $(date +%s) - t0 )) s"
grep -E 'entry function|Used|spill' $OUT/selftest.log > $OUT/ptxas.txt
if [ $rc -ne 0 ]; then
  for op in fill copy addScaled scale selectRows gemm addBias sumRows embeddingForward embeddingBackward rmsNormForward rmsNormBackward rope attentionForward attentionBackward swigluForward swigluBackward crossEntropyForward crossEntropyBackward bceWithLogits rowNormalizedWeights dot sumOfSquares tokenCorrectness argmax actHalt actTarget adamATan2Step sparseSignSGDStep; do
    timeout 120 /tmp/hrm selftest device=cuda ops=$op >> $OUT/perop.log 2>&1 || echo "op $op rc=$?"
  done
  grep -E 'FAIL|error' $OUT/perop.log | head -40
fi
HRM_CUDA_GEMM=simple timeout 120 /tmp/hrm selftest device=cuda ops=gemm > $OUT/simple-gemm.log 2>&1; echo "simple gemm rc=$?"; tail -2 $OUT/simple-gemm.log
timeout 240 /tmp/hrm selftest device=cuda ops=fill bench=true > $OUT/bench.log 2>&1; echo "bench rc=$?"
echo "=== selftest"; grep -E '^selftest|FAIL|checks passed|rror' $OUT/selftest.log | grep -v ptxas | head -60
echo "=== bench"; tail -28 $OUT/bench.log
