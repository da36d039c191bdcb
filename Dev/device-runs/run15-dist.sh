#!/bin/bash
# Device run 15 (nvidia-h200-x2), issue 7's done-when: 1 GPU vs gpus=2 vs torchrun with the same
# seed and global batch and no ACT exploration (loss curves), steady-state step time from
# time-stamped progress lines (throughput ratio), and the fault cases.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk NCCL_NVLS_ENABLE=0
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
nvidia-smi -L
guard() { ( sleep $2; kill -9 $1 2>/dev/null && echo "guard: killed $1 after $2 s" ) >> $OUT/guard.log 2>&1 & }
stamp() { while IFS= read -r l; do printf '%s %s\n' "$(date +%s.%N)" "$l"; done; }
$H dataset sudoku --generate 3000 --test-size 64 --min-blanks 20 --max-blanks 40 --output-dir /tmp/s > /dev/null 2>&1
$H selftest device=cuda ops=gemm > $OUT/warm.log 2>&1; echo "kernel cache warm rc=$? at $(( $(date +%s) - T0 )) s"
K="data_path=/tmp/s global_batch_size=768 epochs=13 eval_interval=13 lr=1e-4 lr_warmup_steps=10 checkpoint_every_eval=false arch.halt_exploration_prob=0 log_interval=5"
timeout 90 $H train $K device=cuda checkpoint_path=/tmp/r1 2>&1 | stamp > $OUT/g1.log; echo "1 GPU rc=${PIPESTATUS[0]}"
timeout 90 $H train $K gpus=2 checkpoint_path=/tmp/r2 2>&1 | stamp > $OUT/g2.log; echo "gpus=2 rc=${PIPESTATUS[0]}"
TR=$(command -v torchrun || echo "python3 -m torch.distributed.run")
timeout 120 $TR --nproc-per-node 2 --master-port 29731 --no-python $H train $K checkpoint_path=/tmp/r3 2>&1 | stamp > $OUT/g3.log; echo "torchrun rc=${PIPESTATUS[0]}"
for r in 1 2 3; do cp /tmp/r$r/metrics.jsonl $OUT/m$r.jsonl 2>/dev/null; ls /tmp/r$r 2>/dev/null | tr '\n' ' '; echo; done
echo "== fault 1: gpus=2, kill -9 one worker after 12 s"
L="data_path=/tmp/s global_batch_size=768 epochs=400 eval_interval=400 checkpoint_every_eval=false"
$H train $L gpus=2 checkpoint_path=/tmp/f1 > $OUT/f1.log 2>&1 & P=$!; guard $P 60
sleep 12; W=$(pgrep -P $P | tail -1); echo "launcher $P workers $(pgrep -P $P | tr '\n' ' ')kill -9 $W"
t=$(date +%s%N); kill -9 $W; wait $P; rc=$?; echo "launcher rc=$rc $(( ($(date +%s%N) - t) / 1000000 )) ms after the kill; alive: $(pgrep -f 'hrm train' | wc -l)"
tail -4 $OUT/f1.log
echo "== fault 2: ranks started by hand, kill -9 rank 1, dist_timeout=20"
E="MASTER_ADDR=127.0.0.1 MASTER_PORT=29741 WORLD_SIZE=2 LOCAL_WORLD_SIZE=2"
env $E RANK=0 LOCAL_RANK=0 $H train $L dist_timeout=20 checkpoint_path=/tmp/f2 > $OUT/f2-r0.log 2>&1 & P0=$!; guard $P0 70
env $E RANK=1 LOCAL_RANK=1 $H train $L dist_timeout=20 checkpoint_path=/tmp/f2 > $OUT/f2-r1.log 2>&1 & P1=$!; guard $P1 70
sleep 12; t=$(date +%s%N); kill -9 $P1; wait $P0; rc=$?; echo "rank 0 rc=$rc $(( ($(date +%s%N) - t) / 1000000 )) ms after the kill"
tail -3 $OUT/f2-r0.log
echo "== fault 3: rank 0 of 2 alone, dist_timeout=10"
t=$(date +%s%N); env $E MASTER_PORT=29751 RANK=0 LOCAL_RANK=0 timeout 60 $H train $L dist_timeout=10 checkpoint_path=/tmp/f3 > $OUT/f3.log 2>&1; rc=$?
echo "rank 0 alone rc=$rc after $(( ($(date +%s%N) - t) / 1000000 )) ms"; tail -2 $OUT/f3.log
echo "== fault 4: torchrun, kill -9 rank 1 worker after 12 s"
$TR --nproc-per-node 2 --master-port 29761 --no-python $H train $L dist_timeout=20 checkpoint_path=/tmp/f4 > $OUT/f4.log 2>&1 & P=$!; guard $P 70
sleep 14; W=$(pgrep -f "hrm train" | while read p; do grep -qz '^RANK=1$' /proc/$p/environ && echo $p; done | head -1)
t=$(date +%s%N); kill -9 $W; wait $P; rc=$?; echo "torchrun rc=$rc $(( ($(date +%s%N) - t) / 1000000 )) ms after killing $W; alive: $(pgrep -f 'hrm train' | wc -l)"
grep -v "^\s*$" $OUT/f4.log | tail -5 | cut -c1-240
python3 - "$OUT" <<'PY'
import json, sys, re
out = sys.argv[1]
def load(p):
    try: return [json.loads(l) for l in open(p) if '"train"' in l]
    except Exception as e: print("no", p, e); return []
def rate(p):
    pts = {}
    for l in open(p):
        m = re.match(r"(\d+\.\d+) step (\d+)/", l)
        if m: pts[int(m.group(2))] = float(m.group(1))
    return (pts[50] - pts[10]) / 40 * 1000 if 10 in pts and 50 in pts else None
m = [load(f"{out}/m{r}.jsonl") for r in (1, 2, 3)]
for name, b in (("gpus=2", m[1]), ("torchrun", m[2])):
    n = min(len(m[0]), len(b))
    if not n: print(name, "no curve"); continue
    d = [abs(m[0][i]["lm_loss"] - b[i]["lm_loss"]) / abs(m[0][i]["lm_loss"]) for i in range(n)]
    print(f"{name}: {n} steps, lm_loss max rel diff {max(d):.5f} (step {d.index(max(d))+1}), mean {sum(d)/n:.5f}")
    for s in (1, 2, 10, 20, 30, 40, 50):
        if s <= n: print(f"  step {s}: {m[0][s-1]['lm_loss']:.5f} / {b[s-1]['lm_loss']:.5f}  steps {m[0][s-1]['steps']:.3f} / {b[s-1]['steps']:.3f}")
r = [rate(f"{out}/g{k}.log") for k in (1, 2, 3)]
print("ms/step steps 10-50: 1 GPU %s, gpus=2 %s, torchrun %s" % tuple(r))
if r[0] and r[1]: print("throughput ratio gpus=2 / 1 GPU: %.3f" % (r[0] / r[1]))
if r[0] and r[2]: print("throughput ratio torchrun / 1 GPU: %.3f" % (r[0] / r[2]))
PY
echo "total $(( $(date +%s) - T0 )) s"
pkill -x sleep; cat $OUT/guard.log 2>/dev/null
