#!/bin/bash
# Device run 61 (session 7): the fused QKV + RoPE projection with its table entries loaded
# at once, in a kernel whose producer warpgroup hands its registers to the consumers
# (setmaxnreg 40 / 232, 384 threads): selftest, kernel bench, the model at (96, 900) with the
# fused RoPE route on / off (HRM_CUDA_FUSED_ROPE=0) alternating, maze training.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); L=$OUT/log.txt
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader | tee -a $L
timeout 45 $H selftest device=cuda ops=linear > /tmp/st.log 2>&1; rc=$?
echo "selftest linear rc=$rc: $(grep -E 'checks passed' /tmp/st.log)" | tee -a $L; grep -E "FAIL|rror" /tmp/st.log | head -5 | tee -a $L
[ $rc = 0 ] || { echo "stop"; exit 1; }
timeout 45 $H selftest device=cuda ops=fill bench=true benchops=fused > /tmp/kb.log 2>&1
grep -E "^fused" /tmp/kb.log | sed 's/   */  /g' | tee -a $L
for v in 1 0 1 0; do
  HRM_CUDA_FUSED_ROPE=$v timeout 45 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 2 > /tmp/b.log 2>&1
  echo "B96 S900 rope-fused=$v: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')" | tee -a $L
done
$H dataset maze --generate 200 --test-size 32 --min-moves 40 --output-dir /tmp/m > /dev/null 2>&1
timeout 50 $H train data_path=/tmp/m device=cuda global_batch_size=96 epochs=15 eval_interval=15 lr=1e-4 lr_warmup_steps=5 log_interval=5 checkpoint_every_eval=false checkpoint_path=/tmp/mz > /tmp/maze.log 2>&1; echo "maze train rc=$?" | tee -a $L
grep -E "^step (5|15|30)/|eval @|done" /tmp/maze.log | cut -c1-150 | tee -a $L
echo "total $(( $(date +%s) - T0 )) s" | tee -a $L
