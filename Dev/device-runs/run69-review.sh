#!/bin/bash
# Device run 69 (session 8, review): run 68's shared epilogue helpers with pack_bf16x8 on the
# cvt.rn.bf16x2 instruction (it rounded in software, which run 68 found made linear_ws's
# epilogue warps the bottleneck); every kernel that packs bf16 x 8 changes, so the full
# selftest, then the fused kernel bench and the model at (96, 900) and (384, 81).
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); L=$OUT/log.txt
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader | tee -a $L
timeout 150 $H selftest device=cuda > /tmp/st.log 2>&1; rc=$?
echo "selftest rc=$rc: $(grep -E 'checks passed' /tmp/st.log) $(grep -c FAIL /tmp/st.log) FAIL" | tee -a $L; grep FAIL /tmp/st.log | head -5 | tee -a $L
echo "at $(( $(date +%s) - T0 )) s" | tee -a $L
[ $rc = 0 ] || exit 1
timeout 40 $H selftest device=cuda ops=fill bench=true benchops=fused > /tmp/kb.log 2>&1
grep -E "^fused linear" /tmp/kb.log | sed 's/   */  /g' | tee -a $L
for s in "96 900 12" "96 900 12" "384 81 11"; do
  set -- $s
  timeout 40 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 2 > /tmp/b.log 2>&1
  echo "B$1 S$2: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')" | tee -a $L
done
echo "total $(( $(date +%s) - T0 )) s" | tee -a $L
