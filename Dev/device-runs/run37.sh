#!/bin/bash
# Device run 37 (nvidia-h200, session 5): targets and counters before changing the attention
# kernels. PyTorch SDPA per backend on the issue shapes (Dev/sdpa-bench.py); Nsight Compute
# pipe utilisation and stall reasons of the T = 901 forward (in the model) and backward.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
timeout 120 python3 Dev/sdpa-bench.py > $OUT/sdpa.log 2>&1; echo "sdpa rc=$? at $(( $(date +%s) - T0 )) s"; cat $OUT/sdpa.log
M="regex:sm__inst_executed_pipe_.*\.avg\.pct_of_peak_sustained_active,regex:sm__pipe_.*_cycles_active\.avg\.pct_of_peak_sustained_active,regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio,sm__cycles_elapsed.avg.per_second,smsp__issue_active.avg.pct_of_peak_sustained_active,gpu__time_duration.sum"
for k in attention_forward_wg_64_g4 attention_backward_kv_tc_64_w4_m attention_backward_q_wg_64_g1; do
  skip=20; [ $k != attention_forward_wg_64_g4 ] && skip=2
  timeout 150 /usr/local/cuda/bin/ncu --clock-control none -k regex:$k --launch-skip $skip --launch-count 1 --metrics "$M" $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 1 --eval-repeats 1 > $OUT/ncu-$k.txt 2>&1; echo "ncu $k rc=$? at $(( $(date +%s) - T0 )) s"
  grep -E 'pct_of_peak|ratio|per_second|duration|ERR|==PROF==' $OUT/ncu-$k.txt | awk '$NF+0 > 0.5 || /ERR|PROF|second|duration/' | head -60
done
echo "total $(( $(date +%s) - T0 )) s"
