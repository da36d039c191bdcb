#!/usr/bin/env bash
# gpu-check.sh: what a device run checks, in one call (the GPU machine keeps nothing).
# Usage on the GPU machine, from the repository root, with the release binary in gpu-bin/:
#   LD_LIBRARY_PATH=/usr/local/cuda/lib64 Dev/gpu-check.sh [OUT_DIR] [quick]
# Steps: GPU facts; `hrm selftest device=cuda`; `hrm bench model` on the three issue shapes
# (train step + 16-segment evaluation batch); the same small Sudoku training run on the
# GPU and on the CPU, so their loss/accuracy curves can be compared.
set -uo pipefail
OUT=${1:-${OUT:-/tmp/gpu-check}}
MODE=${2:-full}
HRM=${HRM:-./gpu-bin/hrm}
mkdir -p "$OUT"
export HRM_KERNEL_CACHE=${HRM_KERNEL_CACHE:-/tmp/hrm-kernels}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
nproc | sed 's/^/cpu cores: /' | tee -a "$OUT/gpu.txt"

echo "== selftest"; "$HRM" selftest device=cuda 2>&1 | tee "$OUT/selftest.log" | tail -n 60

echo "== bench (default arch, 16-segment evaluation)"
for shape in "384 81 11" "768 81 11" "96 900 12"; do
  set -- $shape
  "$HRM" bench model --arch v1 --device cuda --batch "$1" --seq-len "$2" --vocab "$3" --repeats 10 --eval-repeats 3 \
    2>&1 | tee -a "$OUT/bench.log"
done
[ "$MODE" = quick ] && exit 0

echo "== the same small Sudoku run on the GPU and on the CPU"
"$HRM" dataset sudoku --generate 2000 --test-size 256 --min-blanks 1 --max-blanks 4 --output-dir /tmp/sudoku-small \
  > "$OUT/dataset.log" 2>&1
for dev in cuda cpu; do
  "$HRM" train data_path=/tmp/sudoku-small arch=hrm_tiny epochs=10 eval_interval=2 global_batch_size=64 \
    lr=1e-3 lr_warmup_steps=50 puzzle_emb_lr=1e-3 checkpoint_every_eval=false checkpoint_path=/tmp/ckpt-$dev \
    device=$dev > "$OUT/train-$dev.log" 2> "$OUT/train-$dev.err"; echo "$dev rc=$?"
  grep -E "eval @|done" "$OUT/train-$dev.log"
done
