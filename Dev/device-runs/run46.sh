#!/bin/bash
# Device run 46 (nvidia-h200, session 6): attention outputs (O, dK/dV, dQ) staged through
# shared memory and written as 16-byte row chunks instead of 2-byte scattered stores (run 45:
# the forward's stores took ~15% of its warp samples). A/B against the previous binary
# (gpu-bin/hrm-base.gz, commit 123a25c) in the same run.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && gunzip -c gpu-bin/hrm-base.gz > /tmp/hrm-base && chmod +x /tmp/hrm /tmp/hrm-base
H=/tmp/hrm; T0=$(date +%s)
timeout 100 $H selftest device=cuda ops=attention > $OUT/st-attn.log 2>&1; echo "selftest attention rc=$?: $(grep -E 'checks passed' $OUT/st-attn.log) $(grep -c FAIL $OUT/st-attn.log) FAIL"
for v in "HRM_CUDA_ATTN_BWD_WGS=1" "HRM_CUDA_ATTN_BWD_WGS=2" "HRM_CUDA_ATTN_BWDQ_WGS=0" "HRM_CUDA_ATTN_MINB=0" "HRM_CUDA_ATTN_BWDQ_WGS=2"; do
  env $v timeout 100 $H selftest device=cuda ops=attention > $OUT/st-attn-v.log 2>&1; echo "selftest attention $v rc=$?: $(grep -E 'checks passed' $OUT/st-attn-v.log) $(grep -c FAIL $OUT/st-attn-v.log) FAIL"
done
grep FAIL $OUT/st-attn*.log | head -5
for b in base new; do
  X=/tmp/hrm; [ $b = base ] && X=/tmp/hrm-base
  timeout 100 $X selftest device=cuda ops=fill bench=true benchops=attention > $OUT/kbench-$b.log 2>&1; echo "== kernel bench $b rc=$?"; grep -iE "attention|us" $OUT/kbench-$b.log | head -12
done
for shape in "96 900 12" "384 81 11"; do
  set -- $shape
  for b in base new base new; do
    X=/tmp/hrm; [ $b = base ] && X=/tmp/hrm-base
    timeout 150 $X bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 > $OUT/bench-$1-$2-$b.log 2>&1
    echo "B$1 S$2 $b: $(grep -E 'train step|evaluation' $OUT/bench-$1-$2-$b.log | tr '\n' ' ')"
  done
done
timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 5 --eval-repeats 1 --profile --profile-top 8 > $OUT/prof-96.log 2>&1
grep -E 'profile of|attention' $OUT/prof-96.log
echo "total $(( $(date +%s) - T0 )) s"
