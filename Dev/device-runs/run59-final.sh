#!/bin/bash
# Device run 59 (session 7): the session's final binary (swizzled attention K/V tiles; the
# TMA gate/up + SwiGLU GEMM on by default): full selftest, golden fixtures, the issue shapes
# with the fused projection on and off (HRM_CUDA_FUSED_LINEAR=0) alternating, a profile,
# Sudoku and maze training.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); L=$OUT/log.txt
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader | tee -a $L
timeout 200 $H selftest device=cuda > /tmp/st.log 2>&1; echo "selftest rc=$?: $(grep -E 'checks passed' /tmp/st.log) $(grep -c FAIL /tmp/st.log) FAIL" | tee -a $L
grep FAIL /tmp/st.log | head -5 | tee -a $L
timeout 100 $H check-reference gpu-bin/golden device=cuda > /tmp/cr.log 2>&1; echo "check-reference rc=$?: $(tail -1 /tmp/cr.log)" | tee -a $L
echo "at $(( $(date +%s) - T0 )) s" | tee -a $L
for r in 1 2; do
  for shape in "96 900 12" "384 81 11" "768 81 11"; do
    set -- $shape
    for v in 1 0; do
      HRM_CUDA_FUSED_LINEAR=$v timeout 100 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 2 > /tmp/b.log 2>&1
      echo "B$1 S$2 fused=$v: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')" | tee -a $L
    done
  done
done
echo "at $(( $(date +%s) - T0 )) s" | tee -a $L
timeout 60 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 5 --eval-repeats 1 --profile --profile-top 16 >> $L 2>&1
timeout 60 $H selftest device=cuda ops=fill bench=true benchops=fused > /tmp/kb.log 2>&1
grep -E "^fused" /tmp/kb.log | sed 's/   */  /g' | tee -a $L
$H dataset sudoku --generate 3000 --test-size 64 --min-blanks 20 --max-blanks 40 --output-dir /tmp/s > /dev/null 2>&1
timeout 100 $H train data_path=/tmp/s device=cuda global_batch_size=384 epochs=40 eval_interval=40 lr=1e-4 lr_warmup_steps=10 checkpoint_every_eval=false log_interval=10 checkpoint_path=/tmp/ck > /tmp/train.log 2>&1; echo "sudoku train rc=$?" | tee -a $L
grep -E "^step (10|100|200|300)/|eval @|done" /tmp/train.log | cut -c1-160 | tee -a $L
$H dataset maze --generate 200 --test-size 32 --min-moves 40 --output-dir /tmp/m > /dev/null 2>&1
timeout 100 $H train data_path=/tmp/m device=cuda global_batch_size=96 epochs=15 eval_interval=15 lr=1e-4 lr_warmup_steps=5 log_interval=5 checkpoint_every_eval=false checkpoint_path=/tmp/mz > /tmp/maze.log 2>&1; echo "maze train rc=$?" | tee -a $L
grep -E "^step (5|15|30)/|eval @|done" /tmp/maze.log | cut -c1-150 | tee -a $L
echo "total $(( $(date +%s) - T0 )) s" | tee -a $L
