#!/bin/bash
# Device run 11 (cudaperf): final state, GEMM tuning on by default (two timing rounds).
# selftest of gemm and attention, the GEMM kernel bench, `hrm bench model` on the three shapes.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$LD_LIBRARY_PATH HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm-cudaperf.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm
t0=$(date +%s)
$H selftest device=cuda ops=gemm,attention,rmsnorm,swiglu > $OUT/selftest.log 2>&1; echo "selftest rc=$? in $(( $(date +%s) - t0 )) s"
grep -E 'checks passed|FAIL' $OUT/selftest.log | head -8
timeout 60 $H selftest device=cuda ops=fill bench=true benchops=gemm > $OUT/kbench.log 2>&1; echo "kbench rc=$?"
grep -E '^  gemm' $OUT/kbench.log | head -8
for shape in "384 81 11" "768 81 11" "96 900 12"; do
  set -- $shape
  timeout 120 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 2>&1 | tee -a $OUT/bench.log | grep -E 'train step|evaluation'
done
echo "total $(( $(date +%s) - t0 )) s"
