#!/bin/bash
# Device run 22 (nvidia-h200): wgmma forward with four K/V buffers (64 KB dynamic shared
# memory, copies issued two tiles ahead) and the 3-warpgroup copy split fixed. Attention
# selftest (auto, and every block size forced), forward kernel bench, model bench (96, 900).
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
timeout 150 $H selftest device=cuda ops=attention > $OUT/st-auto.log 2>&1; echo "selftest attention (auto) rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'checks passed|FAIL|error' $OUT/st-auto.log | head -6
for w in 1 2 3 4; do
  HRM_CUDA_ATTN_WGS=$w timeout 100 $H selftest device=cuda ops=attention > $OUT/st-w$w.log 2>&1; echo "selftest attention (wgmma forward everywhere, $w WG) rc=$?"
  grep -E 'checks passed|FAIL|error' $OUT/st-w$w.log | head -4
done
timeout 150 $H selftest device=cuda ops=fill bench=true benchops=attention > $OUT/kbench.log 2>&1; echo "kbench rc=$?"
grep -E '^  attentionForward' $OUT/kbench.log | grep -E 'wgmma|H8:' | head -30
echo "== B96 S900"
timeout 120 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 3 2>&1 | tee -a $OUT/bench.log | grep -E 'train step|evaluation'
echo "total $(( $(date +%s) - T0 )) s"
