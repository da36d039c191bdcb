#!/bin/bash
# Device run 47 (nvidia-h200, session 6): three forward changes timed one by one through
# HRM_KERNEL_SOURCES (one binary): k0 = run 46's attention.cu; kA = lazy row maxima (no
# shuffles or O rescale while no score exceeds its row maximum by > 8 in log2); kAB = + the
# copy of tile j+2 issued after the products; kABC = + Q rows through shared memory and
# ldmatrix; embedded = + the same staged A-fragment loads in the backward kernels.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
timeout 100 $H selftest device=cuda ops=attention > $OUT/st-attn.log 2>&1; echo "selftest attention rc=$?: $(grep -E 'checks passed' $OUT/st-attn.log) $(grep -c FAIL $OUT/st-attn.log) FAIL"
for v in "HRM_CUDA_ATTN_BWD_WGS=1" "HRM_CUDA_ATTN_BWD_WGS=2" "HRM_CUDA_ATTN_BWDQ_WGS=0" "HRM_CUDA_ATTN_MINB=0" "HRM_KERNEL_SOURCES=gpu-bin/kA" "HRM_KERNEL_SOURCES=gpu-bin/kAB" "HRM_KERNEL_SOURCES=gpu-bin/kABC"; do
  env $v timeout 100 $H selftest device=cuda ops=attention > $OUT/st-attn-v.log 2>&1; echo "selftest attention $v rc=$?: $(grep -E 'checks passed' $OUT/st-attn-v.log) $(grep -c FAIL $OUT/st-attn-v.log) FAIL"
  grep FAIL $OUT/st-attn-v.log | head -3
done
echo "at $(( $(date +%s) - T0 )) s"
for k in k0 kA kAB kABC ""; do
  HRM_KERNEL_SOURCES=${k:+gpu-bin/$k} timeout 100 $H selftest device=cuda ops=fill bench=true benchops=attention > $OUT/kbench-$k.log 2>&1
  echo "== kernel bench ${k:-embedded}: $(grep -E '^attention(Forward|Backward) bf16 B96 T901 H8 +[0-9]|T901 H8 wgmma, 4 warpgroups|T901 H8 wgmma, 2 warpgroups|T901 H8, capped' $OUT/kbench-$k.log | awk '{print $NF, $(NF-2)}' | tr '\n' ' ')"
done
echo "at $(( $(date +%s) - T0 )) s"
for k in k0 "" k0 ""; do
  HRM_KERNEL_SOURCES=${k:+gpu-bin/$k} timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 3 > $OUT/bench-96.log 2>&1
  echo "B96 S900 ${k:-embedded}: $(grep -E 'train step|evaluation' $OUT/bench-96.log | tr '\n' ' ')"
done
timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 5 --eval-repeats 1 --profile --profile-top 8 > $OUT/prof-96.log 2>&1
grep -E 'profile of|attention' $OUT/prof-96.log
echo "total $(( $(date +%s) - T0 )) s"
