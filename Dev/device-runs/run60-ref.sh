#!/bin/bash
# Device run 60 (session 7): the final binary (fused gate/up + SwiGLU only from 65,536 rows)
# on the issue shapes, then the reference stand-in (Dev/ref-bench.py: HRM from the spec in
# PyTorch, torch.compile, SDPA, bf16) on the same GPU in the same call.
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 HRM_KERNEL_CACHE=/tmp/hrmk
gunzip -c gpu-bin/hrm.gz > /tmp/hrm && chmod +x /tmp/hrm
H=/tmp/hrm; T0=$(date +%s); L=$OUT/log.txt
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader | tee -a $L
timeout 60 $H selftest device=cuda ops=linear > /tmp/st.log 2>&1; echo "selftest linear rc=$?: $(grep -E 'checks passed' /tmp/st.log)" | tee -a $L
for r in 1 2; do
  for shape in "96 900 12" "384 81 11" "768 81 11"; do
    set -- $shape
    timeout 100 $H bench model --arch v1 --device cuda --batch $1 --seq-len $2 --vocab $3 --repeats 10 --eval-repeats 2 > /tmp/b.log 2>&1
    echo "hrm B$1 S$2: $(grep -E 'train step|evaluation' /tmp/b.log | tr '\n' ' ')" | tee -a $L
  done
done
echo "at $(( $(date +%s) - T0 )) s" | tee -a $L
python3 -c "import torch; print('torch', torch.__version__)" | tee -a $L
timeout 330 python3 Dev/ref-bench.py --shapes 96x900x12,384x81x11,768x81x11 --repeats 10 --eval-repeats 2 > /tmp/ref.log 2>&1; echo "ref-bench rc=$?" | tee -a $L
tail -12 /tmp/ref.log | tee -a $L
echo "total $(( $(date +%s) - T0 )) s" | tee -a $L
