#!/bin/bash
# Device run 53 (session 7): first light of the fused-epilogue projection GEMM
# (Kernels/linear_fused.cu, HRM_CUDA_FUSED_LINEAR=1 three stages, =2 four stages): its selftest
# cases, its kernel-bench lines against cuBLASLt + the separate kernel, then the model with it
# off / 1 / 2 on the issue shapes, alternating. A variant whose selftest fails is not timed.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); L=$OUT/log.txt
nvidia-smi --query-gpu=name,clocks.max.sm,power.limit --format=csv,noheader | tee -a $L
OK="0"
for v in 1 2; do
  HRM_CUDA_FUSED_LINEAR=$v timeout 100 $H selftest device=cuda ops=linear > /tmp/st.log 2>&1
  rc=$?
  echo "selftest linear HRM_CUDA_FUSED_LINEAR=$v rc=$rc: $(grep -E 'checks passed' /tmp/st.log)" | tee -a $L
  grep -E "FAIL|rror" /tmp/st.log | head -8 | tee -a $L
  [ $rc = 0 ] && OK="$OK $v"
done
cp /tmp/st.log $OUT/selftest-last.log
echo "variants timed: $OK" | tee -a $L
timeout 120 $H selftest device=cuda ops=fill bench=true benchops=fused > /tmp/kb.log 2>&1
grep -E "^fused|rror" /tmp/kb.log | sed 's/   */  /g' | tee -a $L
echo "at $(( $(date +%s) - T0 )) s" | tee -a $L
for shape in "96 900 12" "384 81 11"; do
  set -- $shape
  for v in $OK $OK; do
    HRM_CUDA_FUSED_LINEAR=$v timeout 150 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 2 > /tmp/b.log 2>&1
    echo "B$1 S$2 fused=$v: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')" | tee -a $L
  done
  echo "at $(( $(date +%s) - T0 )) s" | tee -a $L
done
V=$(echo $OK | awk '{print $NF}')
HRM_CUDA_FUSED_LINEAR=$V timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 5 --eval-repeats 1 --profile --profile-top 14 >> $L 2>&1
echo "total $(( $(date +%s) - T0 )) s" | tee -a $L
