#!/bin/bash
# Device run 21 (nvidia-h200): wgmma forward with descriptors and copy addresses computed
# once and the O rescale skipped where no row maximum moved; default 4 warpgroups for T > 128.
# Attention selftest (auto, and every block size forced), kernel bench, model bench; then an
# issue-7 control: two 1-GPU Sudoku runs that differ only in the attention kernel's rounding.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
timeout 150 $H selftest device=cuda ops=attention > $OUT/st-auto.log 2>&1; echo "selftest attention (auto) rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'checks passed|FAIL|error' $OUT/st-auto.log | head -6
for w in 1 2 3 4; do
  HRM_CUDA_ATTN_WGS=$w HRM_CUDA_ATTN_BWD_WGS=$(( w > 2 ? 2 : w )) timeout 100 $H selftest device=cuda ops=attention > $OUT/st-w$w.log 2>&1; echo "selftest attention (wgmma everywhere, $w WG) rc=$?"
  grep -E 'checks passed|FAIL|error' $OUT/st-w$w.log | head -4
done
timeout 150 $H selftest device=cuda ops=fill bench=true benchops=attention > $OUT/kbench.log 2>&1; echo "kbench rc=$?"
grep -E '^  attentionForward' $OUT/kbench.log | grep -E 'wgmma|H8:' | head -30
for shape in "96 900 12" "384 81 11" "768 81 11"; do
  set -- $shape; echo "== B$1 S$2"
  timeout 120 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 2>&1 | tee -a $OUT/bench.log | grep -E 'train step|evaluation'
done
$H dataset sudoku --generate 3000 --test-size 64 --min-blanks 20 --max-blanks 40 --output-dir /tmp/s > /dev/null 2>&1
K="data_path=/tmp/s global_batch_size=768 epochs=13 eval_interval=13 lr=1e-4 lr_warmup_steps=10 checkpoint_every_eval=false arch.halt_exploration_prob=0 log_interval=50"
timeout 90 $H train $K device=cuda checkpoint_path=/tmp/a > $OUT/a.log 2>&1; echo "1 GPU mma.sync attention rc=$?"
HRM_CUDA_ATTN_WGS=2 timeout 90 $H train $K device=cuda checkpoint_path=/tmp/b > $OUT/b.log 2>&1; echo "1 GPU wgmma attention rc=$?"
python3 - <<'PY'
import json
def load(r): return [json.loads(l) for l in open(f"/tmp/{r}/metrics.jsonl") if '"train"' in l]
p, q = load("a"), load("b"); n = min(len(p), len(q))
d = [abs(p[i]["lm_loss"] - q[i]["lm_loss"]) / abs(p[i]["lm_loss"]) for i in range(n)]
first = next((i + 1 for i in range(n) if abs(p[i]["steps"] - q[i]["steps"]) > 1e-9), None)
print(f"1 GPU mma.sync vs 1 GPU wgmma attention: {n} steps, lm_loss rel diff max {max(d):.2e} (step {d.index(max(d)) + 1}), steps 1-30 max {max(d[:30]):.2e}, first halting difference at step {first}")
print("   " + " ".join(f"{s}:{p[s-1]['lm_loss']:.4f}/{q[s-1]['lm_loss']:.4f}" for s in (1, 10, 20, 30, 40, 50) if s <= n))
PY
echo "total $(( $(date +%s) - T0 )) s"
