#!/bin/bash
# Device run 24 (nvidia-h200-x2), issue-7 controls with deterministic halting
# (arch.halt_max_steps=1): two 1-GPU bf16 runs that differ only in the attention kernel's
# rounding (mma.sync vs wgmma), the noise floor for run 23's 1 GPU vs gpus=2; and 1 GPU vs
# gpus=2 in float32 (31 steps).
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk NCCL_NVLS_ENABLE=0
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
$H dataset sudoku --generate 3000 --test-size 64 --min-blanks 20 --max-blanks 40 --output-dir /tmp/s > /dev/null 2>&1
K="data_path=/tmp/s global_batch_size=768 eval_interval=13 lr=1e-4 lr_warmup_steps=10 checkpoint_every_eval=false arch.halt_exploration_prob=0 arch.halt_max_steps=1"
timeout 90 $H train $K epochs=13 device=cuda checkpoint_path=/tmp/a > $OUT/a.log 2>&1; echo "1 GPU bf16 mma.sync attention rc=$? at $(( $(date +%s) - T0 )) s"
HRM_CUDA_ATTN_WGS=2 timeout 90 $H train $K epochs=13 device=cuda checkpoint_path=/tmp/b > $OUT/b.log 2>&1; echo "1 GPU bf16 wgmma attention rc=$?"
timeout 120 $H train $K epochs=8 eval_interval=8 arch.forward_dtype=float32 device=cuda checkpoint_path=/tmp/c > $OUT/c.log 2>&1; echo "1 GPU f32 rc=$? at $(( $(date +%s) - T0 )) s"
timeout 120 $H train $K epochs=8 eval_interval=8 arch.forward_dtype=float32 gpus=2 checkpoint_path=/tmp/d > $OUT/d.log 2>&1; echo "gpus=2 f32 rc=$?"
python3 - <<'PY'
import json
def load(r): return [json.loads(l) for l in open(f"/tmp/{r}/metrics.jsonl") if '"train"' in l]
for x, y, name in (("a", "b", "bf16, 1 GPU mma.sync vs 1 GPU wgmma attention"), ("c", "d", "float32, 1 GPU vs gpus=2")):
    p, q = load(x), load(y); n = min(len(p), len(q))
    d = [abs(p[i]["lm_loss"] - q[i]["lm_loss"]) / abs(p[i]["lm_loss"]) for i in range(n)]
    print(f"{name}: {n} steps, lm_loss rel diff max {max(d):.2e} (step {d.index(max(d)) + 1}), mean {sum(d)/n:.2e}, last {d[-1]:.2e}")
    print("   " + " ".join(f"{s}:{p[s-1]['lm_loss']:.4f}/{q[s-1]['lm_loss']:.4f}" for s in (1, 10, 20, 24, 30, 40, 50) if s <= n))
PY
echo "total $(( $(date +%s) - T0 )) s"
