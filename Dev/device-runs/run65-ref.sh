#!/bin/bash
# Device run 65 (session 8): the committed state (linear_ws, fused RoPE on, no row
# threshold). Kernels compiled first (selftest of the fused projections), then the
# reference stand-in (Dev/ref-bench.py with Inductor's tiling analysis off) and our bench on
# the issue shapes on the same GPU, then one maze checkpoint evaluated with the fused RoPE
# route off and on.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); L=$OUT/log.txt
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader | tee -a $L
timeout 150 $H selftest device=cuda ops=linear > /tmp/st.log 2>&1; echo "selftest linear rc=$?: $(grep -E 'checks passed' /tmp/st.log)" | tee -a $L
echo "at $(( $(date +%s) - T0 )) s" | tee -a $L
timeout 330 python3 Dev/ref-bench.py --no-tiling-analysis --shapes 96x900x12,384x81x11,768x81x11 --repeats 10 --eval-repeats 2 > /tmp/ref.log 2>&1; echo "ref-bench rc=$?" | tee -a $L
cp /tmp/ref.log $OUT/ref.log; grep -E "^torch|^batch" /tmp/ref.log | tee -a $L; grep -E "Error|error" /tmp/ref.log | tail -3 | tee -a $L
echo "at $(( $(date +%s) - T0 )) s" | tee -a $L
for r in 1 2; do
  for shape in "96 900 12" "384 81 11" "768 81 11"; do
    set -- $shape
    timeout 60 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 2 > /tmp/b.log 2>&1
    echo "hrm B$1 S$2: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')" | tee -a $L
  done
done
$H dataset maze --generate 200 --test-size 32 --min-moves 40 --output-dir /tmp/m > /dev/null 2>&1
HRM_CUDA_FUSED_ROPE=0 timeout 60 $H train data_path=/tmp/m device=cuda global_batch_size=96 epochs=15 eval_interval=15 lr=1e-4 lr_warmup_steps=5 log_interval=5 checkpoint_path=/tmp/mz0 > /tmp/maze.log 2>&1; echo "maze train rope=0 rc=$?: $(grep 'eval @' /tmp/maze.log)" | tee -a $L
ck=$(ls /tmp/mz0/step_*.safetensors | grep -v state | tail -1); echo "checkpoint $ck" | tee -a $L
for v in 0 1; do
  HRM_CUDA_FUSED_ROPE=$v timeout 60 $H evaluate checkpoint=$ck device=cuda output_dir=/tmp/ev$v > /tmp/ev.log 2>&1; echo "evaluate rope=$v rc=$?: $(tail -3 /tmp/ev.log | tr '\n' ' ')" | tee -a $L
done
ls /tmp/ev0 | tr '\n' ' ' | tee -a $L; for f in /tmp/ev0/*.npy; do cmp $f /tmp/ev1/$(basename $f) > /dev/null && echo "$(basename $f) identical" || echo "$(basename $f) differs"; done | tee -a $L
echo "total $(( $(date +%s) - T0 )) s" | tee -a $L
