#!/bin/bash
# Device run 38 (nvidia-h200, session 5): the warp-specialised Hopper forward (a producer
# warp copies K/V tiles, mbarriers instead of the block barrier per tile), 2 and 3 consumer
# warpgroups: attention selftest with each, kernel bench, model bench (96, 900) on and off.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
for ws in 3 2; do
  HRM_CUDA_ATTN_WS=$ws timeout 120 $H selftest device=cuda ops=attention > $OUT/st-ws$ws.log 2>&1; echo "selftest attention WS=$ws rc=$? at $(( $(date +%s) - T0 )) s"
  grep -E 'checks passed|FAIL|error' $OUT/st-ws$ws.log | head -6
done
timeout 150 $H selftest device=cuda ops=fill bench=true benchops=attention > $OUT/kb.log 2>&1; echo "kbench rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'T901.*(wgmma|Rotary)' $OUT/kb.log | head -20
for ws in 3 0 2; do
  echo "== B96 S900 HRM_CUDA_ATTN_WS=$ws"
  HRM_CUDA_ATTN_WS=$ws timeout 120 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 3 --profile --profile-top 4 > $OUT/bench-ws$ws.log 2>&1
  grep -E 'train step|evaluation|attention_forward' $OUT/bench-ws$ws.log
done
echo "total $(( $(date +%s) - T0 )) s"
