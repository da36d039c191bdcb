#!/bin/bash
# Device run 39 (nvidia-h200, session 5): the producer-warp forward made persistent (one
# block per SM loops over work items; the producer runs ahead across items, Q through padded
# shared buffers). Attention selftest with 3 and 2 consumer warpgroups (a new B24 T260 case
# gives the blocks several items), kernel bench, model bench (96, 900) on and off.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
for ws in 3 2; do
  HRM_CUDA_ATTN_WS=$ws timeout 100 $H selftest device=cuda ops=attention > $OUT/st-ws$ws.log 2>&1; echo "selftest attention WS=$ws rc=$? at $(( $(date +%s) - T0 )) s"
  grep -E 'checks passed|FAIL|error' $OUT/st-ws$ws.log | head -6
done
timeout 100 $H selftest device=cuda ops=fill bench=true benchops=attention > $OUT/kb.log 2>&1; echo "kbench rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'T901.*(wgmma, 4|producer|Rotary)' $OUT/kb.log | head -8
for ws in 3 0; do
  echo "== B96 S900 HRM_CUDA_ATTN_WS=$ws"
  HRM_CUDA_ATTN_WS=$ws timeout 100 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 3 --profile --profile-top 4 > $OUT/bench-ws$ws.log 2>&1
  grep -E 'train step|evaluation|attention_forward' $OUT/bench-ws$ws.log
done
echo "total $(( $(date +%s) - T0 )) s"
