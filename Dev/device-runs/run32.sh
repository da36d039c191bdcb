#!/bin/bash
# Device run 32 (nvidia-h200, session 4): the attention backward's two kernels chosen
# separately (mma.sync or Hopper wgmma with 1 or 2 warpgroups each) at B96 T901: selftest of
# the backward for each mix, then bench model (96, 900) --profile per mix.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
for mix in "0 0" "0 1" "0 2" "1 0" "2 0" "2 1"; do
  set -- $mix
  HRM_CUDA_ATTN_BWD_WGS=$1 HRM_CUDA_ATTN_BWDQ_WGS=$2 timeout 100 $H selftest device=cuda ops=attentionBackward > $OUT/st-$1$2.log 2>&1
  echo "== dK/dV wgs $1, dQ wgs $2: selftest rc=$? $(grep -E 'checks passed' $OUT/st-$1$2.log)"
  HRM_CUDA_ATTN_BWD_WGS=$1 HRM_CUDA_ATTN_BWDQ_WGS=$2 timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --profile --profile-top 12 > $OUT/b-$1$2.log 2>&1
  grep -E 'train step|attention_backward' $OUT/b-$1$2.log
done
echo "total $(( $(date +%s) - T0 )) s"
