#!/bin/bash
# Device run 50 (nvidia-h200, session 6): the default long-sequence backward as one launch
# (attention_backward_pair_64: mma.sync dK/dV and Hopper dQ blocks interleaved) against the
# two launches (HRM_CUDA_ATTN_PAIR=0) and against the mma.sync dQ (HRM_CUDA_ATTN_BWDQ_WGS=0),
# in the model, alternating.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); L=$OUT/log.txt
for v in "X=1" "HRM_CUDA_ATTN_PAIR=0" "HRM_CUDA_ATTN_BWDQ_WGS=0" "HRM_CUDA_ATTN_BWD_WGS=2"; do
  env $v timeout 100 $H selftest device=cuda ops=attention > /tmp/st.log 2>&1; echo "selftest attention $v rc=$?: $(grep -E 'checks passed' /tmp/st.log) $(grep -c FAIL /tmp/st.log) FAIL"
  grep FAIL /tmp/st.log | head -3
done
timeout 100 $H selftest device=cuda ops=fill bench=true benchops=attention > /tmp/kb.log 2>&1
grep -E "^attention.*T901" /tmp/kb.log | sed 's/   */  /g' | tee -a $L | head -4
echo "at $(( $(date +%s) - T0 )) s"
for r in 1 2; do
  for v in "X=1" "HRM_CUDA_ATTN_PAIR=0" "HRM_CUDA_ATTN_BWDQ_WGS=0"; do
    env $v timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 1 > /tmp/b.log 2>&1
    echo "B96 S900 $v: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')"
  done
done
for v in "X=1" "HRM_CUDA_ATTN_BWDQ_WGS=0"; do
  env $v timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 5 --eval-repeats 1 --profile --profile-top 6 > /tmp/p.log 2>&1
  echo "== profile $v" >> $L; cat /tmp/p.log >> $L; grep -A7 "profile of one training" /tmp/p.log | grep -E "attention|profile"
done
echo "total $(( $(date +%s) - T0 )) s"
