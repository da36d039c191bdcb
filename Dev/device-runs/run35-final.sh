#!/bin/bash
# Device run 35 (nvidia-h200, session 4), the session's final binary: full selftest, golden
# fixtures, bench model on the issue-3 shapes (with the kernel profile), Sudoku and maze
# training runs (the maze at T = 901 trains through the Hopper dQ kernel now).
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
timeout 240 $H selftest device=cuda > $OUT/selftest.log 2>&1; echo "selftest rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'checks passed|FAIL|error' $OUT/selftest.log | head -6
timeout 120 $H check-reference gpu-bin/golden device=cuda > $OUT/checkref.log 2>&1; echo "check-reference rc=$?"; tail -1 $OUT/checkref.log
for shape in "384 81 11" "768 81 11" "96 900 12"; do
  set -- $shape; echo "== B$1 S$2"
  timeout 150 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 --profile --profile-top 25 > $OUT/bench-$1-$2.log 2>&1
  grep -E 'train step|evaluation' $OUT/bench-$1-$2.log
done
$H dataset sudoku --generate 3000 --test-size 64 --min-blanks 20 --max-blanks 40 --output-dir /tmp/s > /dev/null 2>&1
timeout 100 $H train data_path=/tmp/s device=cuda global_batch_size=384 epochs=40 eval_interval=40 lr=1e-4 lr_warmup_steps=10 checkpoint_every_eval=false log_interval=10 checkpoint_path=/tmp/ck > $OUT/train.log 2>&1; echo "sudoku train rc=$?"
grep -E "^step (10|100|200|300)/|eval @|done" $OUT/train.log | cut -c1-160
$H dataset maze --generate 200 --test-size 32 --min-moves 40 --output-dir /tmp/m > /dev/null 2>&1
timeout 120 $H train data_path=/tmp/m device=cuda global_batch_size=96 epochs=15 eval_interval=15 lr=1e-4 lr_warmup_steps=5 log_interval=5 checkpoint_every_eval=false checkpoint_path=/tmp/mz > $OUT/maze.log 2>&1; echo "maze train rc=$?"
grep -E "^step (5|15|30)/|eval @|done" $OUT/maze.log | cut -c1-150
echo "total $(( $(date +%s) - T0 )) s"
