#!/bin/bash
# Device run 51 (nvidia-h200, session 6): the Hopper forward with five K/V buffers and the
# copy of tile j+3 issued after the softmax (embedded) against run 50's four-buffer forward
# (k1, through HRM_KERNEL_SOURCES), then the final checks of the embedded binary: full
# selftest, golden fixtures, every shape, Sudoku and maze training.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); L=$OUT/log.txt
for v in "HRM_KERNEL_SOURCES=gpu-bin/k1" "HRM_CUDA_ATTN_WGS=3" "HRM_CUDA_ATTN_WGS=2" "HRM_CUDA_ATTN_PAIR=0"; do
  env $v timeout 100 $H selftest device=cuda ops=attention > /tmp/st.log 2>&1; echo "selftest attention $v rc=$?: $(grep -E 'checks passed' /tmp/st.log) $(grep -c FAIL /tmp/st.log) FAIL"
  grep FAIL /tmp/st.log | head -3
done
for k in k1 ""; do
  HRM_KERNEL_SOURCES=${k:+gpu-bin/$k} timeout 100 $H selftest device=cuda ops=fill bench=true benchops=attention > /tmp/kb.log 2>&1
  echo "== kernel bench ${k:-embedded}: $(grep -E '^attentionForward bf16 B96 T901 H8 +[0-9]|^attentionForwardRotary bf16 B96 T901 H8 +[0-9]|wgmma, 4 warpgroups' /tmp/kb.log | sed 's/   */  /g' | tr '\n' ';')"
done
echo "at $(( $(date +%s) - T0 )) s"
for k in k1 "" k1 ""; do
  HRM_KERNEL_SOURCES=${k:+gpu-bin/$k} timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 2 > /tmp/b.log 2>&1
  echo "B96 S900 ${k:-embedded}: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')"
done
echo "at $(( $(date +%s) - T0 )) s"
timeout 240 $H selftest device=cuda > /tmp/st.log 2>&1; echo "selftest rc=$?: $(grep -E 'checks passed' /tmp/st.log) $(grep -c FAIL /tmp/st.log) FAIL"
timeout 120 $H check-reference gpu-bin/golden device=cuda > /tmp/cr.log 2>&1; echo "check-reference rc=$?: $(tail -1 /tmp/cr.log)"
for shape in "384 81 11" "768 81 11"; do
  set -- $shape
  timeout 150 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 2 > /tmp/b.log 2>&1
  echo "B$1 S$2: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')"
done
echo "at $(( $(date +%s) - T0 )) s"
$H dataset sudoku --generate 3000 --test-size 64 --min-blanks 20 --max-blanks 40 --output-dir /tmp/s > /dev/null 2>&1
timeout 100 $H train data_path=/tmp/s device=cuda global_batch_size=384 epochs=40 eval_interval=40 lr=1e-4 lr_warmup_steps=10 checkpoint_every_eval=false log_interval=10 checkpoint_path=/tmp/ck > /tmp/train.log 2>&1; echo "sudoku train rc=$?"
grep -E "^step (10|100|200|300)/|eval @|done" /tmp/train.log | cut -c1-160 | tee -a $L
$H dataset maze --generate 200 --test-size 32 --min-moves 40 --output-dir /tmp/m > /dev/null 2>&1
timeout 120 $H train data_path=/tmp/m device=cuda global_batch_size=96 epochs=15 eval_interval=15 lr=1e-4 lr_warmup_steps=5 log_interval=5 checkpoint_every_eval=false checkpoint_path=/tmp/mz > /tmp/maze.log 2>&1; echo "maze train rc=$?"
grep -E "^step (5|15|30)/|eval @|done" /tmp/maze.log | cut -c1-150 | tee -a $L
echo "total $(( $(date +%s) - T0 )) s"
