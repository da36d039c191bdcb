#!/usr/bin/env bash
# Dev/bench-cpu.sh: benchmark the CPU SGEMM against numpy (OpenBLAS) on HRM's shapes.
#
# Builds release, then for ROUNDS rounds runs `hrm bench gemm --json` and a numpy timing of
# the very same shapes (read from hrm's JSON) with the same warm-up / repeat / median rule,
# alternating which goes first so background load hits both alike. Prints, per shape, the
# median over rounds of each side's GFLOP/s and the ratio ours / numpy.
#
# Usage: Dev/bench-cpu.sh [--rounds R] [--threads N] [--repeats R] [--filter TEXT] [--no-build]
#                         [--cpu-time]
# --cpu-time times both sides with process CPU time instead of wall time: on a machine shared
# with other work, time spent descheduled is then not counted. Meaningful with --threads 1
# (with more threads it also counts OpenBLAS's spin-waiting threads against numpy).
# Python (numpy, optionally threadpoolctl) is used only here, never by the product.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
threads=2
repeats=7
filter=""
build=1
clock=wall
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --filter) filter="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --cpu-time) clock=cpu; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

if [[ $build == 1 ]]; then
  swift build -c release 2>&1 | tail -1
fi
hrm="$(swift build -c release --show-bin-path)/hrm"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

hrm_args=(bench gemm --json --threads "$threads" --repeats "$repeats")
[[ -n $filter ]] && hrm_args+=(--filter "$filter")
[[ $clock == cpu ]] && hrm_args+=(--cpu-time)

# numpy side: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (if set in the environment) pin an older,
# slower kernel; unset them so OpenBLAS picks its own for this CPU, and use `threads` threads.
run_numpy() {
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
    OPENBLAS_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads" \
    python3 - "$1" "$2" "$repeats" "$clock" <<'PY'
import json, sys, time
import numpy as np
shapes_file, out_file, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
clock = time.process_time if sys.argv[4] == "cpu" else time.perf_counter
warmup = 2
results = []
rng = np.random.default_rng(12345)
for s in json.load(open(shapes_file)):
    m, n, k = s["m"], s["n"], s["k"]
    # Same storage as hrm: A is [k, m] when transA, B is [n, k] when transB; numpy hands the
    # transposed views to sgemm as transpose flags (no copies).
    a = rng.uniform(-1, 1, (k, m) if s["transA"] else (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, k) if s["transB"] else (k, n)).astype(np.float32)
    opa = a.T if s["transA"] else a
    opb = b.T if s["transB"] else b
    c = np.empty((m, n), dtype=np.float32)
    times = []
    for i in range(warmup + repeats):
        t0 = clock()
        np.matmul(opa, opb, out=c)
        t1 = clock()
        if i >= warmup:
            times.append(t1 - t0)
    times.sort()
    mid = len(times) // 2
    med = times[mid] if len(times) % 2 else (times[mid - 1] + times[mid]) / 2
    results.append({"name": s["name"], "ms": med * 1e3, "gflops": 2.0 * m * n * k / med * 1e-9})
json.dump(results, open(out_file, "w"))
PY
}

# Which OpenBLAS kernel numpy really runs (needs threadpoolctl; `pip install threadpoolctl`).
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$threads" python3 - <<'PY' || true
import numpy as np
try:
    from threadpoolctl import threadpool_info
    for i in threadpool_info():
        print("numpy %s: %s %s, kernel %s, %s threads" % (np.__version__, i.get("internal_api"),
              i.get("version"), i.get("architecture"), i.get("num_threads")))
except ImportError:
    print("numpy %s (threadpoolctl not installed: kernel unknown)" % np.__version__)
PY

# The shape list comes from hrm itself, so both sides time exactly the same multiplies.
list_args=(bench gemm --list)
[[ -n $filter ]] && list_args+=(--filter "$filter")
"$hrm" "${list_args[@]}" > "$tmp/shapes.json"

for ((i = 0; i < rounds; i++)); do
  if ((i % 2 == 0)); then
    "$hrm" "${hrm_args[@]}" > "$tmp/ours$i.json"
    run_numpy "$tmp/shapes.json" "$tmp/numpy$i.json"
  else
    run_numpy "$tmp/shapes.json" "$tmp/numpy$i.json"
    "$hrm" "${hrm_args[@]}" > "$tmp/ours$i.json"
  fi
  echo "round $((i + 1))/$rounds done" >&2
done

python3 - "$tmp" "$rounds" "$threads" "$clock" <<'PY'
import json, math, statistics, sys
tmp, rounds, threads, clock = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ours = [json.load(open(f"{tmp}/ours{i}.json")) for i in range(rounds)]
nump = [json.load(open(f"{tmp}/numpy{i}.json")) for i in range(rounds)]
print(f"threads {threads}, {clock} clock; per shape: median over {rounds} rounds of (median of repeats)")
print(f"| {'shape':<22} | op | {'m':>5} | {'n':>5} | {'k':>5} | ours ms | ours GFLOP/s | numpy GFLOP/s | ratio |")
print(f"|{'-'*24}|----|{'-'*7}|{'-'*7}|{'-'*7}|---------|--------------|---------------|-------|")
ratios = []
for j, r in enumerate(ours[0]):
    s = r["shape"]
    og = statistics.median(o[j]["gflops"] for o in ours)
    oms = statistics.median(o[j]["ms"] for o in ours)
    ng = statistics.median(n[j]["gflops"] for n in nump)
    ratio = og / ng
    ratios.append(ratio)
    op = ("T" if s["transA"] else "N") + ("T" if s["transB"] else "N")
    print(f"| {s['name']:<22} | {op} | {s['m']:>5} | {s['n']:>5} | {s['k']:>5} | {oms:7.2f} | {og:12.1f} | {ng:13.1f} | {ratio:5.2f} |")
gm = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
print(f"ratio ours/numpy: geometric mean {gm:.2f}, min {min(ratios):.2f}, max {max(ratios):.2f}")
PY

# The whole CPU training step of the demo config (hrm demo: hidden 128, 2+2 layers, batch 64,
# Sudoku 81 tokens) in the same run, so the GEMM figures and the step time share a machine state.
echo "CPU training step, demo config:"
"$hrm" bench model --arch demo --batch 64 --seq-len 81 --repeats 10 --eval-repeats 3
