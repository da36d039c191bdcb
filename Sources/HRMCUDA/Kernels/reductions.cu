// reductions.cu: sums (sum, dot, squared norm, column sums) accumulated in f64 in a fixed
// order (two passes, no atomics, so results are deterministic), plus argmax and the per-row
// token-correctness counts of the LM metrics.
#include "common.cuh"

#define RED_SUM 0
#define RED_DOT 1
#define RED_SUMSQ 2

/// Pass 1: partials[blockIdx.x] = this block's share of sum(a), sum(a*b) or sum(a*a), in f64.
extern "C" __global__ void reduce_partial_kernel(int kind, const void* a, int adt, const void* b, int bdt,
                                                 i64 n, double* partials) {
  __shared__ double scratch[32];
  double acc = 0.0;
  GRID_LOOP(i, n) {
    const double x = (double)load_f(a, adt, i);
    if (kind == RED_SUM) acc += x;
    else if (kind == RED_DOT) acc += x * (double)load_f(b, bdt, i);
    else acc += x * x;
  }
  acc = block_sum_d(acc, scratch);
  if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

/// Pass 2 (one block): out[0] (+)= sum of partials[0..<count].
extern "C" __global__ void reduce_final_kernel(const double* partials, int count, float* out, int accumulate) {
  __shared__ double scratch[32];
  double acc = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
  acc = block_sum_d(acc, scratch);
  if (threadIdx.x == 0) out[0] = accumulate ? (float)((double)out[0] + acc) : (float)acc;
}

/// Column sums, pass 1. x [N, C]; block (32, 8); grid (ceil(C/32), chunks).
/// partials [chunks, C] f64: chunk k sums rows k*8 + ty + j * chunks*8 over ty in 0..<8 and j >= 0.
extern "C" __global__ void sum_rows_partial_kernel(const void* x, int xdt, i64 rows, i64 cols, double* partials) {
  __shared__ double tile[8][33];
  const i64 c = (i64)blockIdx.x * 32 + threadIdx.x;
  double acc = 0.0;
  if (c < cols) {
    for (i64 r = (i64)blockIdx.y * 8 + threadIdx.y; r < rows; r += (i64)gridDim.y * 8)
      acc += (double)load_f(x, xdt, r * cols + c);
  }
  tile[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    double t = 0.0;
#pragma unroll
    for (int k = 0; k < 8; k++) t += tile[k][threadIdx.x];
    partials[(i64)blockIdx.y * cols + c] = t;
  }
}

/// Column sums, pass 2: out [C] (+)= sum over chunks of partials.
extern "C" __global__ void sum_rows_final_kernel(const double* partials, int chunks, i64 cols, void* out, int odt,
                                                 int accumulate) {
  GRID_LOOP(c, cols) {
    double t = 0.0;
    for (int k = 0; k < chunks; k++) t += partials[(i64)k * cols + c];
    if (accumulate) t += (double)load_f(out, odt, c);
    store_f(out, odt, c, (float)t);
  }
}

/// Warp argmax over one row (ties: lowest index). Result valid in every lane.
__device__ __forceinline__ int warp_argmax_row(const void* logits, int ldt, i64 base, int vocab, int lane) {
  float best = 0.0f;
  int bestIdx = -1;
  for (int j = lane; j < vocab; j += 32) {
    const float v = load_f(logits, ldt, base + j);
    if (bestIdx < 0 || v > best) { best = v; bestIdx = j; }
  }
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, best, o);
    const int oi = __shfl_xor_sync(0xffffffffu, bestIdx, o);
    if (oi >= 0 && (bestIdx < 0 || ov > best || (ov == best && oi < bestIdx))) { best = ov; bestIdx = oi; }
  }
  return bestIdx;
}

/// out [N] i32 = argmax over the last axis of logits [N, V]. One warp per row.
extern "C" __global__ void argmax_kernel(const void* logits, int ldt, int* out, i64 rows, int vocab) {
  const i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  const i64 warps = ((i64)gridDim.x * blockDim.x) >> 5;
  for (i64 r = warp; r < rows; r += warps) {
    const int idx = warp_argmax_row(logits, ldt, r * vocab, vocab, lane);
    if (lane == 0) out[r] = idx;
  }
}

/// logits [B, S, V], labels [B, S] -> valid [B], correct [B] (i32), seqCorrect [B] f32.
/// One block per batch row, one warp per position.
extern "C" __global__ void token_correctness_kernel(const void* logits, int ldt, const int* labels, int* valid,
                                                   int* correct, float* seqCorrect, i64 batch, i64 seq, int vocab) {
  __shared__ int counts[2];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (i64 b = blockIdx.x; b < batch; b += gridDim.x) {
    if (threadIdx.x == 0) { counts[0] = 0; counts[1] = 0; }
    __syncthreads();
    int myValid = 0, myCorrect = 0;
    for (i64 s = warp; s < seq; s += warps) {
      const int label = labels[b * seq + s];
      if (label == IGNORE_LABEL) continue;
      const int idx = warp_argmax_row(logits, ldt, (b * seq + s) * vocab, vocab, lane);
      myValid += 1;
      myCorrect += idx == label ? 1 : 0;
    }
    if (lane == 0) { atomicAdd(&counts[0], myValid); atomicAdd(&counts[1], myCorrect); }
    __syncthreads();
    if (threadIdx.x == 0) {
      valid[b] = counts[0];
      correct[b] = counts[1];
      seqCorrect[b] = counts[0] == counts[1] ? 1.0f : 0.0f;
    }
    __syncthreads();
  }
}
