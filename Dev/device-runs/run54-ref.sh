#!/bin/bash
# Device run 54 (prepared in session 6, not yet run): the reference stand-in (Dev/ref-bench.py:
# HRM from the spec in PyTorch, torch.compile, SDPA, bf16) and `hrm bench model` on the same
# GPU in one call, so the ratio does not depend on which H200 was lent.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s)
for shape in "384 81 11" "768 81 11" "96 900 12"; do
  set -- $shape
  timeout 150 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 2 > /tmp/b.log 2>&1
  echo "hrm B$1 S$2: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')"
done
timeout 420 python3 Dev/ref-bench.py --shapes 384x81x11,768x81x11,96x900x12 --repeats 10 --eval-repeats 2 2>&1 | tail -5
echo "total $(( $(date +%s) - T0 )) s"
