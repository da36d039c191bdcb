#!/bin/bash
# Device run 64 (session 8): linear_ws as the only fused kernel (tile 256, else 192), the
# fused QKV + RoPE route on by default: full selftest, golden fixtures, the issue shapes
# (fused projections from 65,536 rows vs from 0 rows at the T = 82 shapes; the RoPE route off
# vs on at (96, 900)), a profile, Sudoku and maze training, and one maze checkpoint
# evaluated with the RoPE route off and on.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); L=$OUT/log.txt
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader | tee -a $L
timeout 240 $H selftest device=cuda > /tmp/st.log 2>&1; echo "selftest rc=$?: $(grep -E 'checks passed' /tmp/st.log) $(grep -c FAIL /tmp/st.log) FAIL" | tee -a $L
grep FAIL /tmp/st.log | head -5 | tee -a $L
timeout 100 $H check-reference gpu-bin/golden device=cuda > /tmp/cr.log 2>&1; echo "check-reference rc=$?: $(tail -1 /tmp/cr.log)" | tee -a $L
echo "at $(( $(date +%s) - T0 )) s" | tee -a $L
bench() { timeout 100 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 2 2>&1 | grep -E 'train step|evaluation' | tr '\n' ' '; }
for r in 1 2; do
  echo "B96 S900 default: $(bench 96 900 12)" | tee -a $L
  echo "B96 S900 rope=0: $(HRM_CUDA_FUSED_ROPE=0 bench 96 900 12)" | tee -a $L
  for s in "384 81 11" "768 81 11"; do
    echo "B${s% *} default: $(bench $s)" | tee -a $L
    echo "B${s% *} minrows=0: $(HRM_CUDA_FUSED_MIN_ROWS=0 bench $s)" | tee -a $L
  done
done
echo "at $(( $(date +%s) - T0 )) s" | tee -a $L
timeout 60 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 5 --eval-repeats 1 --profile --profile-top 16 >> $L 2>&1
$H dataset sudoku --generate 3000 --test-size 64 --min-blanks 20 --max-blanks 40 --output-dir /tmp/s > /dev/null 2>&1
timeout 100 $H train data_path=/tmp/s device=cuda global_batch_size=384 epochs=40 eval_interval=40 lr=1e-4 lr_warmup_steps=10 checkpoint_every_eval=false log_interval=10 checkpoint_path=/tmp/ck > /tmp/train.log 2>&1; echo "sudoku train rc=$?" | tee -a $L
grep -E "^step (10|100|200|300)/|eval @|done" /tmp/train.log | cut -c1-160 | tee -a $L
$H dataset maze --generate 200 --test-size 32 --min-moves 40 --output-dir /tmp/m > /dev/null 2>&1
for v in 1 0; do
  HRM_CUDA_FUSED_ROPE=$v timeout 100 $H train data_path=/tmp/m device=cuda global_batch_size=96 epochs=15 eval_interval=15 lr=1e-4 lr_warmup_steps=5 log_interval=5 checkpoint_path=/tmp/mz$v > /tmp/maze.log 2>&1; echo "maze train rope=$v rc=$?" | tee -a $L
  grep -E "^step (5|15|30)/|eval @|done" /tmp/maze.log | cut -c1-150 | tee -a $L
done
ck=$(ls -t /tmp/mz0/*.safetensors | head -1); echo "checkpoint $ck" | tee -a $L
for v in 0 1; do
  HRM_CUDA_FUSED_ROPE=$v timeout 60 $H evaluate checkpoint=$ck device=cuda output_dir=/tmp/ev$v > /tmp/ev.log 2>&1; echo "evaluate rope=$v rc=$?: $(tail -2 /tmp/ev.log | tr '\n' ' ')" | tee -a $L
done
cmp /tmp/ev0/predictions.npy /tmp/ev1/predictions.npy 2>&1 | head -2 | tee -a $L; ls /tmp/ev0 | tr '\n' ' ' | tee -a $L
echo "total $(( $(date +%s) - T0 )) s" | tee -a $L
