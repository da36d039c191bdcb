#!/bin/bash
# Device run 26 (nvidia-h200, session 4): short-sequence attention forward (one block per head,
# RoPE applied on load), weights cast once per training step / evaluation batch, in-place rope
# reads only Q and K. Full selftest, golden fixtures, bench model --profile on the issue-3 shapes
# (and (384, 81) with HRM_CUDA_ATTN_SHORT=0 for the A/B), a short Sudoku training run.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
timeout 240 $H selftest device=cuda > $OUT/selftest.log 2>&1; echo "selftest rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'checks passed|FAIL|error' $OUT/selftest.log | head -8
timeout 120 $H check-reference gpu-bin/golden device=cuda > $OUT/checkref.log 2>&1; echo "check-reference rc=$?"; tail -2 $OUT/checkref.log
for shape in "384 81 11" "768 81 11" "96 900 12"; do
  set -- $shape; echo "== B$1 S$2"
  timeout 150 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 --profile --profile-top 40 > $OUT/bench-$1-$2.log 2>&1
  grep -E 'train step|evaluation|profile of' $OUT/bench-$1-$2.log
done
echo "== B384 S81 HRM_CUDA_ATTN_SHORT=0"
HRM_CUDA_ATTN_SHORT=0 timeout 150 $H bench model --arch v1 --device cuda --batch 384 --seq-len 81 --vocab 11 --repeats 10 --eval-repeats 3 2>&1 | grep -E 'train step|evaluation'
$H dataset sudoku --generate 3000 --test-size 64 --min-blanks 20 --max-blanks 40 --output-dir /tmp/s > /dev/null 2>&1
timeout 100 $H train data_path=/tmp/s device=cuda global_batch_size=384 epochs=40 eval_interval=40 lr=1e-4 lr_warmup_steps=10 checkpoint_every_eval=false log_interval=10 checkpoint_path=/tmp/ck > $OUT/train.log 2>&1; echo "sudoku train rc=$?"
grep -E "^step (10|50|100|150|200|300)/|eval @|done" $OUT/train.log | cut -c1-160
echo "total $(( $(date +%s) - T0 )) s"
