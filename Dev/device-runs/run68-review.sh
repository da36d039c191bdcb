#!/bin/bash
# Device run 68 (session 8, review): linear_ws's epilogue on the shared helpers (vec16,
# swiglu_fwd8, rope_table8 / rope_apply8, as swiglu.cu and rope.cu) instead of its own
# copies: the fused-projection selftest, the kernel bench, the model at (96, 900) twice.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); L=$OUT/log.txt
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader | tee -a $L
timeout 120 $H selftest device=cuda ops=linear > /tmp/st.log 2>&1; rc=$?
echo "selftest linear rc=$rc: $(grep -E 'checks passed' /tmp/st.log)" | tee -a $L; grep -E "FAIL|rror" /tmp/st.log | head -5 | tee -a $L
[ $rc = 0 ] || exit 1
timeout 60 $H selftest device=cuda ops=fill bench=true benchops=fused > /tmp/kb.log 2>&1
grep -E "^fused linear" /tmp/kb.log | sed 's/   */  /g' | tee -a $L
for r in 1 2; do
  timeout 60 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 2 > /tmp/b.log 2>&1
  echo "B96 S900: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')" | tee -a $L
done
echo "total $(( $(date +%s) - T0 )) s" | tee -a $L
