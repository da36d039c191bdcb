#!/bin/bash
# Device run 63 (session 8): linear_ws, the fused GEMM with separate epilogue warps (the
# consumers hand bf16 products over through a shared-memory output tile and go on to the next
# tile), 192- and 256-column tiles, against linear_tma: selftest, kernel bench, the model at
# (96, 900) per kernel with the fused RoPE route off and on.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); L=$OUT/log.txt
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader | tee -a $L
timeout 150 $H selftest device=cuda ops=linear > /tmp/st.log 2>&1; rc=$?
cp /tmp/st.log $OUT/selftest.log
echo "selftest linear rc=$rc: $(grep -E 'checks passed' /tmp/st.log)" | tee -a $L; grep -E "FAIL|rror" /tmp/st.log | head -8 | tee -a $L
echo "at $(( $(date +%s) - T0 )) s" | tee -a $L
[ $rc = 0 ] || { echo "stop"; exit 1; }
timeout 90 $H selftest device=cuda ops=fill bench=true benchops=fused > /tmp/kb.log 2>&1
grep -E "^fused" /tmp/kb.log | sed 's/   */  /g' | tee -a $L
for r in 1 2; do
  for v in tma 192 256; do
    HRM_CUDA_FUSED_TILE=$v timeout 60 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 2 > /tmp/b.log 2>&1
    echo "B96 S900 tile=$v: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')" | tee -a $L
    HRM_CUDA_FUSED_ROPE=1 HRM_CUDA_FUSED_TILE=$v timeout 60 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 2 > /tmp/b.log 2>&1
    echo "B96 S900 tile=$v rope: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')" | tee -a $L
  done
done
echo "total $(( $(date +%s) - T0 )) s" | tee -a $L
