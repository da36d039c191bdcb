#!/bin/bash
# Device run 56 (session 7): 128-byte-swizzled K/V tiles copied as whole 128-byte rows in the
# Hopper attention kernels (attention.cu with ATTN_SWIZZLE_FWD=1: forward; + ATTN_SWIZZLE_DQ=1:
# dQ), carried as gpu-bin/aF and gpu-bin/aFQ (HRM_KERNEL_SOURCES) against the embedded
# unswizzled kernels: selftest, kernel bench at B96 T901, model at (96, 900) alternating.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); L=$OUT/log.txt
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader | tee -a $L
OK="embedded"
for v in embedded aF aFQ; do
  if [ $v = embedded ]; then unset HRM_KERNEL_SOURCES; else export HRM_KERNEL_SOURCES=$PWD/gpu-bin/$v; fi
  timeout 100 $H selftest device=cuda ops=attention > /tmp/st.log 2>&1; rc=$?
  echo "selftest attention $v rc=$rc: $(grep -E 'checks passed' /tmp/st.log) $(grep -c FAIL /tmp/st.log) FAIL" | tee -a $L
  grep -E "FAIL|rror" /tmp/st.log | head -4 | tee -a $L
  [ $rc = 0 ] && [ $v != embedded ] && OK="$OK $v"
done
for v in $OK; do
  if [ $v = embedded ]; then unset HRM_KERNEL_SOURCES; else export HRM_KERNEL_SOURCES=$PWD/gpu-bin/$v; fi
  timeout 100 $H selftest device=cuda ops=fill bench=true benchops=attention > /tmp/kb.log 2>&1
  echo "-- kernel bench $v" | tee -a $L
  grep -E "^attention.*T901 H8 " /tmp/kb.log | sed 's/   */  /g' | tee -a $L | head -3
done
echo "at $(( $(date +%s) - T0 )) s" | tee -a $L
for r in 1 2; do
  for v in $OK; do
    if [ $v = embedded ]; then unset HRM_KERNEL_SOURCES; else export HRM_KERNEL_SOURCES=$PWD/gpu-bin/$v; fi
    timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 2 > /tmp/b.log 2>&1
    echo "B96 S900 $v: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')" | tee -a $L
  done
done
V=$(echo $OK | awk '{print $NF}')
[ $V = embedded ] || export HRM_KERNEL_SOURCES=$PWD/gpu-bin/$V
timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 5 --eval-repeats 1 --profile --profile-top 8 >> $L 2>&1
echo "total $(( $(date +%s) - T0 )) s" | tee -a $L
