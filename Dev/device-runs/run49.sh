#!/bin/bash
# Device run 49 (nvidia-h200, session 6): backward copies. kQ = run 48's attention.cu + the
# Hopper dQ kernel with four K/V buffers copied two tiles ahead by a WgTileCopier (64 KB
# dynamic shared memory); embedded = kQ + the mma.sync kernels' tile copies unrolled from one
# pointer per thread and the dK/dV kernel's lse/delta loaded a tile early.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); L=$OUT/log.txt
for v in "X=1" "HRM_CUDA_ATTN_BWD_WGS=1" "HRM_CUDA_ATTN_BWD_WGS=2" "HRM_CUDA_ATTN_BWDQ_WGS=0" "HRM_CUDA_ATTN_BWDQ_WGS=2" "HRM_CUDA_ATTN_MINB=0" "HRM_CUDA_ATTN_WGS=0" "HRM_KERNEL_SOURCES=gpu-bin/kQ"; do
  env $v timeout 100 $H selftest device=cuda ops=attention > /tmp/st.log 2>&1; echo "selftest attention $v rc=$?: $(grep -E 'checks passed' /tmp/st.log) $(grep -c FAIL /tmp/st.log) FAIL"
  grep FAIL /tmp/st.log | head -3
done
echo "at $(( $(date +%s) - T0 )) s"
for k in kQ ""; do
  HRM_KERNEL_SOURCES=${k:+gpu-bin/$k} timeout 100 $H selftest device=cuda ops=fill bench=true benchops=attention > /tmp/kb.log 2>&1
  echo "== kernel bench ${k:-embedded}"; grep -E "^attention" /tmp/kb.log | sed 's/   */  /g' | tee -a $L
done
echo "at $(( $(date +%s) - T0 )) s"
for k in kQ "" kQ ""; do
  HRM_KERNEL_SOURCES=${k:+gpu-bin/$k} timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 3 > /tmp/b.log 2>&1
  echo "B96 S900 ${k:-embedded}: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')"
done
for k in kQ ""; do
  HRM_KERNEL_SOURCES=${k:+gpu-bin/$k} timeout 150 $H bench model --arch v1 --device cuda --batch 384 --seq-len 81 --vocab 11 --repeats 10 --eval-repeats 3 > /tmp/b.log 2>&1
  echo "B384 S81 ${k:-embedded}: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')"
done
timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 5 --eval-repeats 1 --profile --profile-top 12 >> $L 2>&1
grep -E 'profile of|attention' $L | tail -8
echo "total $(( $(date +%s) - T0 )) s"
