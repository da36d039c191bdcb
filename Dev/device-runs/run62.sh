#!/bin/bash
# Device run 62 (session 7): rope_bf16x8_kernel with one thread per (token, group of 8
# pairs) walking the head slots (table loaded once, 32-bit index arithmetic) against the
# previous one (gpu-bin/r0/rope.cu via HRM_KERNEL_SOURCES): selftest, the model at (96, 900)
# alternating, a profile of the new one.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); L=$OUT/log.txt
timeout 40 $H selftest device=cuda ops=rope,attention > /tmp/st.log 2>&1; rc=$?
echo "selftest rope,attention rc=$rc: $(grep -E 'checks passed' /tmp/st.log)" | tee -a $L; grep -E "FAIL|rror" /tmp/st.log | head -5 | tee -a $L
[ $rc = 0 ] || { echo stop; exit 1; }
for v in new old new old; do
  if [ $v = new ]; then unset HRM_KERNEL_SOURCES; else export HRM_KERNEL_SOURCES=$PWD/gpu-bin/r0; fi
  timeout 40 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 2 > /tmp/b.log 2>&1
  echo "B96 S900 rope $v: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')" | tee -a $L
done
unset HRM_KERNEL_SOURCES
timeout 40 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 5 --eval-repeats 1 --profile --profile-top 8 > /tmp/p.log 2>&1
grep -E "profile|rope" /tmp/p.log | tee -a $L
echo "total $(( $(date +%s) - T0 )) s" | tee -a $L
# The selftest above timed out (40 s is too short for the first NVRTC compile plus the
# attention checks); the measurement was this second call on the warm machine:
#   timeout 60 $H selftest device=cuda ops=rope
#   for v in new old: HRM_KERNEL_SOURCES unset / gpu-bin/r0, then
#   timeout 35 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 \
#     --repeats 10 --eval-repeats 1 --profile --profile-top 30   (rope_bf16x8_kernel lines)
