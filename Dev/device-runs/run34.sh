#!/bin/bash
# Device run 34 (nvidia-h200, session 4): Hopper attention forward with 128-key tiles (two
# warpgroups, m64n128k16 scores; HRM_CUDA_ATTN_KTILE=128) against the 64-key default.
# Selftest of the forward with it, bench model (96, 900) both ways.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
HRM_CUDA_ATTN_KTILE=128 timeout 100 $H selftest device=cuda ops=attentionForward > $OUT/st.log 2>&1
echo "selftest (128-key tiles) rc=$? $(grep -E 'checks passed' $OUT/st.log)"; grep FAIL $OUT/st.log | head -5
for k in 64 128 64 128; do
  echo "== key tile $k"
  HRM_CUDA_ATTN_KTILE=$k timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 3 --profile --profile-top 4 > $OUT/b-$k.log 2>&1
  grep -E 'train step|evaluation|attention_forward' $OUT/b-$k.log
done
echo "total $(( $(date +%s) - T0 )) s"
