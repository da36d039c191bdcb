#!/bin/bash
# Device run 31 (nvidia-h200, session 4): attention backward with dS^T stored by the dK/dV
# kernel and dQ = scale dS K as one strided-batched cuBLASLt GEMM per head (instead of the dQ
# kernel). Selftest of the attention ops, kernel bench of the attention at T = 82 and 901
# (both backward variants), bench model on the issue-3 shapes, (96, 900) with
# HRM_CUDA_ATTN_DS=0 (the dQ kernel) for the A/B.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
timeout 200 $H selftest device=cuda ops=attention > $OUT/selftest.log 2>&1; echo "selftest rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'checks passed|FAIL|error' $OUT/selftest.log | head -6
timeout 200 $H selftest device=cuda ops=fill bench=true benchops=attention > $OUT/kbench.log 2>&1; echo "kernel bench rc=$?"
grep -E "^attention" $OUT/kbench.log | grep -E "T901|T82 H8 *[0-9]|dQ kernel|Rotary" | head -20
for shape in "384 81 11" "768 81 11" "96 900 12"; do
  set -- $shape; echo "== B$1 S$2"
  timeout 150 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 --profile --profile-top 20 > $OUT/bench-$1-$2.log 2>&1
  grep -E 'train step|evaluation|attention|batched' $OUT/bench-$1-$2.log | head -12
done
echo "== B96 S900 HRM_CUDA_ATTN_DS=0"
HRM_CUDA_ATTN_DS=0 timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 3 2>&1 | grep -E 'train step|evaluation'
echo "total $(( $(date +%s) - T0 )) s"
