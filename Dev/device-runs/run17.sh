#!/bin/bash
# Device run 17 (nvidia-h200): the Hopper wgmma attention forward, second version (K offset
# fixed; S_j = Q K_j^T issued with O += P_{j-1} V_{j-1}, softmax overlapping the P V wgmma,
# three K/V buffers). selftest (2 and 1 warpgroups), kernel bench, Nsight Compute on the
# T = 901 kernel, model bench on the issue shapes with it on and off.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
timeout 150 $H selftest device=cuda ops=attention > $OUT/st-wg2.log 2>&1; echo "selftest attention (wgmma, 2 WG) rc=$? at $(( $(date +%s) - T0 )) s"
grep -E 'checks passed|FAIL|error' $OUT/st-wg2.log | head -12
HRM_CUDA_ATTN_WGS=1 timeout 100 $H selftest device=cuda ops=attention > $OUT/st-wg1.log 2>&1; echo "selftest attention (wgmma, 1 WG) rc=$?"
grep -E 'checks passed|FAIL|error' $OUT/st-wg1.log | head -6
timeout 120 $H selftest device=cuda ops=fill bench=true benchops=attentionForward > $OUT/kbench.log 2>&1; echo "kbench rc=$?"
grep -E '^  attentionForward' $OUT/kbench.log | head -30
S="--section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section SchedulerStats"
timeout 150 /usr/local/cuda/bin/ncu --clock-control none -k regex:attention_forward_wg_64_g2 --launch-skip 20 --launch-count 1 $S $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 1 --eval-repeats 1 > $OUT/ncu.txt 2>&1; echo "ncu rc=$?"
grep -E 'Duration|Compute \(SM\) Throughput|Memory Throughput|Achieved Occupancy|Theoretical Occupancy|Registers Per|Block Limit (Reg|Shared)|Issued Warp|No Eligible|Warp Cycles Per Issued|Grid Size|ERR|==PROF==' $OUT/ncu.txt | head -30
for shape in "96 900 12" "384 81 11" "768 81 11"; do
  set -- $shape
  for wgs in 2 0; do
    echo "== B$1 S$2 HRM_CUDA_ATTN_WGS=$wgs"
    HRM_CUDA_ATTN_WGS=$wgs timeout 120 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 3 2>&1 | tee -a $OUT/bench.log | grep -E 'train step|evaluation'
  done
done
echo "total $(( $(date +%s) - T0 )) s"
