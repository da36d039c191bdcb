#!/bin/bash
# Device run 19 (nvidia-h200): Hopper wgmma attention backward (dK/dV and dQ kernels, 1 or 2
# warpgroups per block) next to run 18's forward. selftest (auto choice, and wgmma forced for
# every length with each block size), kernel bench, model bench.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
timeout 150 $H selftest device=cuda ops=attention > $OUT/st-auto.log 2>&1; echo "selftest attention (auto) rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'checks passed|FAIL|error' $OUT/st-auto.log | head -8
for w in 1 2; do
  HRM_CUDA_ATTN_WGS=2 HRM_CUDA_ATTN_BWD_WGS=$w timeout 100 $H selftest device=cuda ops=attention > $OUT/st-b$w.log 2>&1; echo "selftest attention (wgmma everywhere, backward $w WG) rc=$?"
  grep -E 'checks passed|FAIL|error' $OUT/st-b$w.log | head -8
done
timeout 150 $H selftest device=cuda ops=fill bench=true benchops=attention > $OUT/kbench.log 2>&1; echo "kbench rc=$?"
grep -E '^  attention' $OUT/kbench.log | grep -E 'wgmma|H8:' | head -30
for v in "" "HRM_CUDA_ATTN_BWD_WGS=2" "HRM_CUDA_ATTN_BWD_WGS=0"; do
  echo "== B96 S900 $v"
  env $v timeout 120 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 3 2>&1 | tee -a $OUT/bench.log | grep -E 'train step|evaluation'
done
for shape in "384 81 11" "768 81 11"; do
  set -- $shape; echo "== B$1 S$2"
  timeout 120 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 2>&1 | tee -a $OUT/bench.log | grep -E 'train step|evaluation'
done
echo "total $(( $(date +%s) - T0 )) s"
