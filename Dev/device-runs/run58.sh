#!/bin/bash
# Device run 58 (session 7): the TMA fused projection GEMM made persistent (one block per SM
# walking the tiles) and its RoPE epilogue loading each table entry once for four heads: selftest, kernel bench
# against cuBLASLt + the separate kernels and the cp.async kernels, then the model at
# (96, 900) and (384, 81) with it off / on, alternating, and a profile.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); L=$OUT/log.txt
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader | tee -a $L
OK=0
for v in 3 1; do
  HRM_CUDA_FUSED_LINEAR=$v timeout 90 $H selftest device=cuda ops=linear > /tmp/st.log 2>&1; rc=$?
  echo "selftest linear HRM_CUDA_FUSED_LINEAR=$v rc=$rc: $(grep -E 'checks passed' /tmp/st.log)" | tee -a $L
  grep -E "FAIL|rror" /tmp/st.log | head -8 | tee -a $L
  [ $v = 3 ] && [ $rc = 0 ] && OK=1
  [ $v = 3 ] && cp /tmp/st.log $OUT/selftest3.log
done
timeout 120 $H selftest device=cuda ops=fill bench=true benchops=fused > /tmp/kb.log 2>&1
grep -E "^fused|rror" /tmp/kb.log | sed 's/   */  /g' | tee -a $L
echo "at $(( $(date +%s) - T0 )) s" | tee -a $L
if [ $OK = 1 ]; then
  for shape in "96 900 12" "384 81 11"; do
    set -- $shape
    for v in 0 3 0 3; do
      HRM_CUDA_FUSED_LINEAR=$v timeout 150 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 2 > /tmp/b.log 2>&1
      echo "B$1 S$2 fused=$v: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')" | tee -a $L
    done
  done
  HRM_CUDA_FUSED_LINEAR=3 timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 5 --eval-repeats 1 --profile --profile-top 12 >> $L 2>&1
fi
echo "total $(( $(date +%s) - T0 )) s" | tee -a $L
