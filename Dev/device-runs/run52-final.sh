#!/bin/bash
# Device run 52 (nvidia-h200, session 6), the session's final binary (run 51's five-buffer
# forward reverted): full selftest, golden fixtures, the issue shapes, maze training.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
timeout 240 $H selftest device=cuda > /tmp/st.log 2>&1; echo "selftest rc=$?: $(grep -E 'checks passed' /tmp/st.log) $(grep -c FAIL /tmp/st.log) FAIL"
timeout 120 $H check-reference gpu-bin/golden device=cuda > /tmp/cr.log 2>&1; echo "check-reference rc=$?: $(tail -1 /tmp/cr.log)"
for shape in "96 900 12" "384 81 11" "768 81 11" "96 900 12"; do
  set -- $shape
  timeout 150 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 2 > /tmp/b.log 2>&1
  echo "B$1 S$2: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')"
done
$H dataset maze --generate 200 --test-size 32 --min-moves 40 --output-dir /tmp/m > /dev/null 2>&1
timeout 120 $H train data_path=/tmp/m device=cuda global_batch_size=96 epochs=15 eval_interval=15 lr=1e-4 lr_warmup_steps=5 log_interval=5 checkpoint_every_eval=false checkpoint_path=/tmp/mz > /tmp/maze.log 2>&1; echo "maze train rc=$?"
grep -E "^step (5|30)/|eval @|done" /tmp/maze.log | cut -c1-150
echo "total $(( $(date +%s) - T0 )) s"
