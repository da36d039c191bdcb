#!/bin/bash
# 2-GPU smoke test: the same 50 steps on one GPU and on two (gpus=2), loss curves compared.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk NCCL_NVLS_ENABLE=0
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
nvidia-smi -L
/tmp/hrm dataset sudoku --generate 3000 --test-size 64 --min-blanks 20 --max-blanks 40 --output-dir /tmp/s > /dev/null 2>&1
K="data_path=/tmp/s global_batch_size=768 epochs=13 eval_interval=13 lr=1e-4 lr_warmup_steps=10 checkpoint_every_eval=false"
t0=$(date +%s%N); timeout 50 /tmp/hrm train $K device=cuda checkpoint_path=/tmp/r1 > $OUT/g1.log 2>&1; rc=$?; echo "1 GPU rc=$rc $(( ($(date +%s%N) - t0) / 1000000 )) ms"
t0=$(date +%s%N); timeout 50 /tmp/hrm train $K gpus=2 checkpoint_path=/tmp/r2 > $OUT/g2.log 2>&1; rc=$?; echo "2 GPUs rc=$rc $(( ($(date +%s%N) - t0) / 1000000 )) ms"
grep -E "done|eval @|error" $OUT/g1.log $OUT/g2.log | head -8
cp /tmp/r1/metrics.jsonl $OUT/m1.jsonl 2>/dev/null; cp /tmp/r2/metrics.jsonl $OUT/m2.jsonl 2>/dev/null
python3 - <<'PY'
import json
def load(p):
    try: return [json.loads(l) for l in open(p) if '"train"' in l]
    except Exception as e: print("no", p, e); return []
a, b = load("/tmp/r1/metrics.jsonl"), load("/tmp/r2/metrics.jsonl")
n = min(len(a), len(b)); print("steps", len(a), len(b))
if n:
    d = [abs(a[i]["lm_loss"] - b[i]["lm_loss"]) / max(1e-9, abs(a[i]["lm_loss"])) for i in range(n)]
    print("lm_loss step1 %.5f/%.5f step%d %.5f/%.5f max rel diff %.4f" % (a[0]["lm_loss"], b[0]["lm_loss"], n, a[n-1]["lm_loss"], b[n-1]["lm_loss"], max(d)))
PY
