#!/bin/bash
# Device run 48 (nvidia-h200, session 6): the lazy-maximum forward in the model (k0 = run 46's
# attention.cu through HRM_KERNEL_SOURCES as the baseline, same run), the fixed kernel-bench
# default lines, and per-instruction stall samples of the forward and both backward kernels.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); NCU=/usr/local/cuda/bin/ncu
for k in k0 "" k0 ""; do
  HRM_KERNEL_SOURCES=${k:+gpu-bin/$k} timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 10 --eval-repeats 3 > $OUT/bench-96.log 2>&1
  echo "B96 S900 ${k:-embedded}: $(grep -E 'train step|evaluation' $OUT/bench-96.log | tr '\n' ' ')"
done
timeout 150 $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 5 --eval-repeats 1 --profile --profile-top 12 > $OUT/prof-96.log 2>&1
timeout 100 $H selftest device=cuda ops=fill bench=true benchops=attention > $OUT/kbench.log 2>&1
grep -E "^attention.*T901" $OUT/kbench.log | head -4
echo "at $(( $(date +%s) - T0 )) s"
for k in attention_forward_wg_64_g4 attention_backward_kv_tc_64_w4_m attention_backward_q_wg_64_g1; do
  skip=20; [ $k != attention_forward_wg_64_g4 ] && skip=2
  timeout 150 $NCU --clock-control none -k regex:$k --launch-skip $skip --launch-count 1 --section SourceCounters --section WarpStateStats --import-source no -o $OUT/$k $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 1 --eval-repeats 1 > $OUT/ncu-$k.log 2>&1; echo "ncu $k rc=$? at $(( $(date +%s) - T0 )) s"
  $NCU -i $OUT/$k.ncu-rep --page source --csv --print-source sass > $OUT/$k-sass.csv 2> /dev/null
  $NCU -i $OUT/$k.ncu-rep --page details --csv > $OUT/$k-details.csv 2>&1
  rm -f $OUT/$k.ncu-rep
done
echo "total $(( $(date +%s) - T0 )) s"
