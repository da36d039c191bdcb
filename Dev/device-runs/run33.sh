#!/bin/bash
# Device run 33 (nvidia-h200, session 4): Hopper attention forward with private K/V tiles per
# warpgroup (no block barrier per tile; HRM_CUDA_ATTN_PRIVATE=1) against the shared tiles,
# 4 and 2 warpgroups per block. Selftest of the forward each way, bench model (96, 900).
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
for cfg in "1 4" "1 2"; do
  set -- $cfg
  HRM_CUDA_ATTN_PRIVATE=$1 HRM_CUDA_ATTN_WGS=$2 timeout 100 $H selftest device=cuda ops=attentionForward > $OUT/st-$1$2.log 2>&1
  echo "== private $1, $2 warpgroups: selftest rc=$? $(grep -E 'checks passed' $OUT/st-$1$2.log)"; grep FAIL $OUT/st-$1$2.log | head -3
done
for cfg in "0 4" "1 4" "1 2" "0 4"; do
  set -- $cfg
  echo "== private $1, $2 warpgroups"
  HRM_CUDA_ATTN_PRIVATE=$1 HRM_CUDA_ATTN_WGS=$2 timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 3 --profile --profile-top 6 > $OUT/b-$1$2.log 2>&1
  grep -E 'train step|evaluation|attention_forward' $OUT/b-$1$2.log
done
echo "total $(( $(date +%s) - T0 )) s"
