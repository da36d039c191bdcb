#!/bin/bash
# Device run 66 (session 8): the same binary as run 65. The reference stand-in at (768, 81)
# (run 65's 330-second limit ended before it), our bench on the three shapes on the same
# GPU, and full profiles (every kernel) of a (96, 900) and a (384, 81) training step.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); L=$OUT/log.txt
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader | tee -a $L
timeout 120 $H selftest device=cuda ops=linear > /tmp/st.log 2>&1; echo "selftest linear rc=$?: $(grep -E 'checks passed' /tmp/st.log)" | tee -a $L
echo "at $(( $(date +%s) - T0 )) s" | tee -a $L
timeout 250 python3 Dev/ref-bench.py --no-tiling-analysis --shapes 768x81x11 --repeats 10 --eval-repeats 2 > /tmp/ref.log 2>&1; echo "ref-bench rc=$?" | tee -a $L
grep -E "^torch|^batch" /tmp/ref.log | tee -a $L; grep -E "Error|error" /tmp/ref.log | tail -3 | tee -a $L
echo "at $(( $(date +%s) - T0 )) s" | tee -a $L
for shape in "768 81 11" "96 900 12" "384 81 11"; do
  set -- $shape
  timeout 60 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 2 > /tmp/b.log 2>&1
  echo "hrm B$1 S$2: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')" | tee -a $L
done
for shape in "96 900 12" "384 81 11"; do
  set -- $shape
  timeout 60 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 3 --eval-repeats 1 --profile --profile-top 60 >> $L 2>&1
done
echo "total $(( $(date +%s) - T0 )) s" | tee -a $L
