#!/bin/bash
# Device run 23 (nvidia-h200-x2), the session's final binary. GPU 0: full selftest, the golden
# fixtures (check-reference, copied into gpu-bin/golden), `bench model` on the issue-3 shapes,
# a short maze training run (T = 901: the wgmma forward in training).
# Both GPUs (issue 7): 1 GPU vs gpus=2 with halting made deterministic (arch.halt_max_steps=1),
# and with the default ACT (exploration off), time-stamped for the steady-state step time.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk NCCL_NVLS_ENABLE=0
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
stamp() { while IFS= read -r l; do printf '%s %s\n' "$(date +%s.%N)" "$l"; done; }
timeout 200 $H selftest device=cuda > $OUT/selftest.log 2>&1; echo "selftest rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'checks passed|FAIL|error' $OUT/selftest.log | head -6
timeout 120 $H check-reference gpu-bin/golden device=cuda > $OUT/checkref.log 2>&1; echo "check-reference rc=$?"; tail -3 $OUT/checkref.log
for shape in "384 81 11" "768 81 11" "96 900 12"; do
  set -- $shape; echo "== B$1 S$2"
  timeout 120 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 2>&1 | tee -a $OUT/bench.log | grep -E 'train step|evaluation'
done
t=$(date +%s); $H dataset maze --generate 200 --test-size 32 --min-moves 40 --output-dir /tmp/m > /dev/null 2>&1; echo "maze dataset rc=$? in $(( $(date +%s) - t )) s"
timeout 120 $H train data_path=/tmp/m device=cuda global_batch_size=96 epochs=15 eval_interval=15 lr=1e-4 lr_warmup_steps=5 log_interval=5 checkpoint_every_eval=false checkpoint_path=/tmp/mz > $OUT/maze.log 2>&1; echo "maze train (T = 901, wgmma forward) rc=$?"
grep -E "^step (5|15|30)/|eval @|done" $OUT/maze.log | cut -c1-150
echo "part 1 done at $(( $(date +%s) - T0 )) s"
$H dataset sudoku --generate 3000 --test-size 64 --min-blanks 20 --max-blanks 40 --output-dir /tmp/s > /dev/null 2>&1
K="data_path=/tmp/s global_batch_size=768 epochs=13 eval_interval=13 lr=1e-4 lr_warmup_steps=10 checkpoint_every_eval=false arch.halt_exploration_prob=0 log_interval=5"
timeout 90 $H train $K arch.halt_max_steps=1 device=cuda checkpoint_path=/tmp/h1 > /dev/null 2>&1; echo "1 GPU halt_max_steps=1 rc=$?"
timeout 90 $H train $K arch.halt_max_steps=1 gpus=2 checkpoint_path=/tmp/h2 > /dev/null 2>&1; echo "gpus=2 halt_max_steps=1 rc=$?"
timeout 90 $H train $K device=cuda checkpoint_path=/tmp/d1 2>&1 | stamp > $OUT/d1.log; echo "1 GPU rc=${PIPESTATUS[0]}"
timeout 90 $H train $K gpus=2 checkpoint_path=/tmp/d2 2>&1 | stamp > $OUT/d2.log; echo "gpus=2 rc=${PIPESTATUS[0]}"
python3 - "$OUT" <<'PY'
import json, re, sys
out = sys.argv[1]
def load(r): return [json.loads(l) for l in open(f"/tmp/{r}/metrics.jsonl") if '"train"' in l]
def rate(p):
    pts = {}
    for l in open(p):
        m = re.match(r"(\d+\.\d+) step (\d+)/", l)
        if m: pts[int(m.group(2))] = float(m.group(1))
    return (pts[50] - pts[10]) / 40 * 1000 if 10 in pts and 50 in pts else None
for x, y, name in (("h1", "h2", "halt_max_steps=1"), ("d1", "d2", "default ACT, exploration off")):
    p, q = load(x), load(y); n = min(len(p), len(q))
    d = [abs(p[i]["lm_loss"] - q[i]["lm_loss"]) / abs(p[i]["lm_loss"]) for i in range(n)]
    first = next((i + 1 for i in range(n) if abs(p[i]["steps"] - q[i]["steps"]) > 1e-9), None)
    print(f"1 GPU vs gpus=2, {name}: {n} steps, lm_loss rel diff max {max(d):.2e} (step {d.index(max(d)) + 1}), mean {sum(d)/n:.2e}, steps 1-30 max {max(d[:30]):.2e}, first halting difference at step {first}")
    print("   " + " ".join(f"{s}:{p[s-1]['lm_loss']:.4f}/{q[s-1]['lm_loss']:.4f}" for s in (1, 10, 20, 30, 40, 50) if s <= n))
r1, r2 = rate(f"{out}/d1.log"), rate(f"{out}/d2.log")
print(f"ms/step (steps 10-50): 1 GPU {r1:.2f}, gpus=2 {r2:.2f}; throughput ratio {r1 / r2:.3f}")
PY
echo "total $(( $(date +%s) - T0 )) s"
