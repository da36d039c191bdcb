#!/bin/bash
# Device run 45 (nvidia-h200, session 6): where the T = 901 forward's warps wait, per SASS
# instruction (Nsight Compute source counters: warp-state samples per instruction).
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); NCU=/usr/local/cuda/bin/ncu
$NCU --version | tail -1
$NCU --help | grep -iE "print-source|page" | head
for k in attention_forward_wg_64_g4; do
  timeout 200 $NCU --clock-control none -k regex:$k --launch-skip 20 --launch-count 1 --section SourceCounters --section WarpStateStats --import-source no -o $OUT/$k $H bench model --arch v1 --device cuda --batch 96 --seq-len 900 --vocab 12 --repeats 1 --eval-repeats 1 > $OUT/ncu-$k.log 2>&1; echo "ncu $k rc=$? at $(( $(date +%s) - T0 )) s"
  tail -3 $OUT/ncu-$k.log
  $NCU -i $OUT/$k.ncu-rep --page source --csv --print-source sass > $OUT/$k-sass.csv 2> $OUT/$k-sass.err; echo "source page rc=$?"; head -c 600 $OUT/$k-sass.err
  $NCU -i $OUT/$k.ncu-rep --page details --csv > $OUT/$k-details.csv 2>&1
  wc -l $OUT/$k-sass.csv; head -3 $OUT/$k-sass.csv | cut -c1-1500
done
echo "total $(( $(date +%s) - T0 )) s"
