#!/bin/bash
# Device run 29 (nvidia-h200, session 4): where does the Hopper forward's extra time in the
# model come from (run 27/28: 730 -> 796 us per call at B96 T901 once Q is rotated in
# registers and K read from the rope'd scratch)? Kernel bench of the T = 901 attention
# forward plain / rotary modes 1, 2, 0 (B96, isolated), selftest of mode 2, and bench model
# (96, 900) with HRM_CUDA_ATTN_ROPE=1 (default), 2 and 0.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
timeout 200 $H selftest device=cuda ops=attention,rope > $OUT/selftest.log 2>&1; echo "selftest rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'checks passed|FAIL|error' $OUT/selftest.log | head -4
HRM_CUDA_ATTN_ROPE=2 timeout 200 $H selftest device=cuda ops=attentionForwardRotary > $OUT/selftest2.log 2>&1; echo "selftest mode 2 rc=$?"
grep -E 'checks passed|FAIL|error' $OUT/selftest2.log | head -4
timeout 200 $H selftest device=cuda ops=fill bench=true benchops=attentionForward,rope > $OUT/kbench.log 2>&1; echo "kernel bench rc=$?"
grep -E "T901|T82|rope" $OUT/kbench.log | head -30
for mode in 1 2 0; do
  echo "== B96 S900 HRM_CUDA_ATTN_ROPE=$mode"
  HRM_CUDA_ATTN_ROPE=$mode timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 3 --profile --profile-top 12 > $OUT/bench-rope$mode.log 2>&1
  grep -E 'train step|evaluation|attention_forward|rope' $OUT/bench-rope$mode.log
done
echo "total $(( $(date +%s) - T0 )) s"
