#!/bin/bash
# Device run 44 (nvidia-h200, session 5, review pass): the Hopper dK/dV kernel's two
# accumulating products through one helper (wg_kv_products; its SASS changed in address
# arithmetic outside the loop): the attention selftest with that kernel (1 and 2
# warpgroups) and with the defaults, kernel bench of the backward at T = 901.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
for v in "HRM_CUDA_ATTN_BWD_WGS=1" "HRM_CUDA_ATTN_BWD_WGS=2" "HRM_CUDA_ATTN_ROPE=1"; do
  env $v timeout 100 $H selftest device=cuda ops=attention > $OUT/st-attn.log 2>&1; echo "selftest attention $v rc=$?: $(grep -E 'checks passed' $OUT/st-attn.log) $(grep -c FAIL $OUT/st-attn.log) FAIL"
done
timeout 120 $H selftest device=cuda ops=fill bench=true benchops=attention > $OUT/kb.log 2>&1; echo "kbench rc=$?"
grep -E '^  attentionBackward bf16 B96 T901' $OUT/kb.log
echo "total $(( $(date +%s) - T0 )) s"
