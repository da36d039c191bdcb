#!/bin/bash
# Device run 16 (nvidia-h200-x2). Part A (GPU 0, issue 3): the Hopper wgmma attention forward
# (selftest with 2 and 1 warpgroups per block, kernel bench, model bench on the issue shapes
# with it on and off). Part B (issue 7): loss-curve controls with the mma.sync attention:
# two 1-GPU runs that differ only in GEMM algorithms (the bf16 noise floor) against gpus=2,
# and 1 GPU against gpus=2 in float32.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk NCCL_NVLS_ENABLE=0
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
timeout 150 $H selftest device=cuda ops=attention > $OUT/st-wg2.log 2>&1; echo "selftest attention (wgmma, 2 WG) rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'checks passed|FAIL|error' $OUT/st-wg2.log | head -12
HRM_CUDA_ATTN_WGS=1 timeout 100 $H selftest device=cuda ops=attention > $OUT/st-wg1.log 2>&1; echo "selftest attention (wgmma, 1 WG) rc=$?"
grep -E 'checks passed|FAIL|error' $OUT/st-wg1.log | head -6
timeout 120 $H selftest device=cuda ops=fill bench=true benchops=attention > $OUT/kbench.log 2>&1; echo "kbench rc=$?"
grep -E '^  attentionForward' $OUT/kbench.log | head -30
for shape in "96 900 12" "384 81 11" "768 81 11"; do
  set -- $shape
  for wgs in 2 0; do
    echo "== B$1 S$2 HRM_CUDA_ATTN_WGS=$wgs"
    HRM_CUDA_ATTN_WGS=$wgs timeout 120 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 2>&1 | tee -a $OUT/bench.log | grep -E 'train step|evaluation'
  done
done
echo "part A done at $(( $(date +%s) - T0 )) s"
export HRM_CUDA_ATTN_WGS=0
$H dataset sudoku --generate 3000 --test-size 64 --min-blanks 20 --max-blanks 40 --output-dir /tmp/s > /dev/null 2>&1
K="data_path=/tmp/s global_batch_size=768 epochs=13 eval_interval=13 lr=1e-4 lr_warmup_steps=10 checkpoint_every_eval=false arch.halt_exploration_prob=0 log_interval=50"
timeout 90 $H train $K device=cuda checkpoint_path=/tmp/a > $OUT/a.log 2>&1; echo "1 GPU tuned rc=$?"
HRM_CUDA_GEMM_TUNE=0 timeout 90 $H train $K device=cuda checkpoint_path=/tmp/b > $OUT/b.log 2>&1; echo "1 GPU untuned rc=$?"
timeout 90 $H train $K gpus=2 checkpoint_path=/tmp/c > $OUT/c.log 2>&1; echo "gpus=2 rc=$?"
timeout 150 $H train $K device=cuda arch.forward_dtype=float32 checkpoint_path=/tmp/d > $OUT/d.log 2>&1; echo "1 GPU f32 rc=$?"
timeout 150 $H train $K gpus=2 arch.forward_dtype=float32 checkpoint_path=/tmp/e > $OUT/e.log 2>&1; echo "gpus=2 f32 rc=$?"
grep -h "done:" $OUT/[a-e].log
mkdir -p $OUT/m; for r in a b c d e; do cp /tmp/$r/metrics.jsonl $OUT/m/$r.jsonl 2>/dev/null; done
python3 - <<'PY'
import json
def load(r):
    try: return [json.loads(l) for l in open(f"/tmp/{r}/metrics.jsonl") if '"train"' in l]
    except Exception as e: print("no", r, e); return []
runs = {r: load(r) for r in "abcde"}
for x, y, name in (("a", "b", "1 GPU tuned vs 1 GPU untuned GEMMs (bf16)"), ("a", "c", "1 GPU vs gpus=2 (bf16)"),
                   ("b", "c", "1 GPU untuned vs gpus=2 (bf16)"), ("d", "e", "1 GPU vs gpus=2 (float32)")):
    p, q = runs[x], runs[y]; n = min(len(p), len(q))
    if not n: print(name, "no data"); continue
    d = [abs(p[i]["lm_loss"] - q[i]["lm_loss"]) / abs(p[i]["lm_loss"]) for i in range(n)]
    first = next((i + 1 for i in range(n) if abs(p[i]["steps"] - q[i]["steps"]) > 1e-9), None)
    print(f"{name}: {n} steps, lm_loss rel diff max {max(d):.2e} (step {d.index(max(d)) + 1}), steps 1-30 max {max(d[:30]):.2e}, first halting difference at step {first}")
    print("   " + " ".join(f"{s}:{p[s-1]['lm_loss']:.4f}/{q[s-1]['lm_loss']:.4f}" for s in (1, 10, 20, 30, 40, 50) if s <= n))
PY
echo "total $(( $(date +%s) - T0 )) s"
