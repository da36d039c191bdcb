#!/bin/sh
# check-kernels.sh: syntax- and type-check every CUDA kernel file with the clang that ships
# with the Swift toolchain (no CUDA toolkit or GPU needed). Catches typos, undeclared names
# and template errors before a device call; NVRTC on the GPU machine remains the real test.
# Usage: Dev/check-kernels.sh   (exit status non-zero on any error)
set -e
here=$(cd "$(dirname "$0")" && pwd)
kernels="$here/../Sources/HRMCUDA/Kernels"
status=0
for f in "$kernels"/*.cu; do
  if ! clang++ -x cuda --cuda-device-only -nocudainc -nocudalib --cuda-gpu-arch=sm_90 -std=c++17 \
      -fsyntax-only -Wall -Wno-unknown-cuda-version -include "$here/nvrtc-mock.h" -I "$kernels" "$f"; then
    status=1
  fi
done
[ $status -eq 0 ] && echo "check-kernels: all $(ls "$kernels"/*.cu | wc -l) kernel files OK"
exit $status
