// losses.cu: LM cross-entropy (stablemax in f64, softmax in f32), BCE-with-logits and the
// per-sequence loss weights; forward and backward side by side.
// Cross-entropy kernels use one warp per row; blockDim.x a multiple of 32.
#include "common.cuh"

#define CE_STABLEMAX 0
#define CE_SOFTMAX 1

/// s(x) = x + 1 for x >= 0, 1 / (1 - x + 1e-30) otherwise (the reference's stablemax).
__device__ __forceinline__ double stablemax_s(double x) {
  return x >= 0.0 ? x + 1.0 : 1.0 / (1.0 - x + 1e-30);
}

/// sum_j s(x_j) over one row (V logits from base), by one warp in f64; every lane gets it.
__device__ __forceinline__ double row_stablemax_sum(const void* logits, int ldt, i64 base, int vocab, int lane) {
  double sum = 0.0;
  for (int j = lane; j < vocab; j += 32) sum += stablemax_s((double)load_f(logits, ldt, base + j));
  return warp_sum_d(sum);
}

/// One row's maximum and sum_j exp(x_j - max), by one warp in f32; every lane gets both.
__device__ __forceinline__ void row_softmax_stats(const void* logits, int ldt, i64 base, int vocab, int lane,
                                                  float& mx, float& sum) {
  mx = -HRM_INF;
  for (int j = lane; j < vocab; j += 32) mx = fmaxf(mx, load_f(logits, ldt, base + j));
  mx = warp_max(mx);
  sum = 0.0f;
  for (int j = lane; j < vocab; j += 32) sum += expf(load_f(logits, ldt, base + j) - mx);
  sum = warp_sum(sum);
}

/// losses [N] f32 (0 where label == -100). Labels outside [0, V) otherwise give NaN.
extern "C" __global__ void cross_entropy_forward_kernel(int kind, const void* logits, int ldt, const int* labels,
                                                        float* losses, i64 rows, int vocab) {
  const i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  const i64 warps = ((i64)gridDim.x * blockDim.x) >> 5;
  for (i64 r = warp; r < rows; r += warps) {
    const int label = labels[r];
    const i64 base = r * vocab;
    if (label == IGNORE_LABEL) { if (lane == 0) losses[r] = 0.0f; continue; }
    if (label < 0 || label >= vocab) { if (lane == 0) losses[r] = HRM_NAN; continue; }
    if (kind == CE_STABLEMAX) {
      const double sum = row_stablemax_sum(logits, ldt, base, vocab, lane);
      if (lane == 0) {
        const double sc = stablemax_s((double)load_f(logits, ldt, base + label));
        losses[r] = (float)(log(sum) - log(sc));
      }
    } else {
      float mx, sum;
      row_softmax_stats(logits, ldt, base, vocab, lane, mx, sum);
      if (lane == 0) losses[r] = mx + logf(sum) - load_f(logits, ldt, base + label);
    }
  }
}

/// gradLogits [N, V] (overwritten) = gradScale[0] * weights[n] * d ce(n) / d logits[n]; 0 on ignored rows.
extern "C" __global__ void cross_entropy_backward_kernel(int kind, const void* logits, int ldt, const int* labels,
                                                         const float* weights, const float* gradScale,
                                                         void* grad, int gdt, i64 rows, int vocab) {
  const i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  const i64 warps = ((i64)gridDim.x * blockDim.x) >> 5;
  for (i64 r = warp; r < rows; r += warps) {
    const int label = labels[r];
    const i64 base = r * vocab;
    if (label < 0 || label >= vocab) {
      const float fill = label == IGNORE_LABEL ? 0.0f : HRM_NAN;
      for (int j = lane; j < vocab; j += 32) store_f(grad, gdt, base + j, fill);
      continue;
    }
    const double w = (double)gradScale[0] * (double)weights[r];
    if (kind == CE_STABLEMAX) {
      const double sum = row_stablemax_sum(logits, ldt, base, vocab, lane);
      for (int j = lane; j < vocab; j += 32) {
        const double x = (double)load_f(logits, ldt, base + j);
        const double s = stablemax_s(x);
        const double ds = x >= 0.0 ? 1.0 : s * s;   // s'(x)
        double g = ds / sum;
        if (j == label) g -= ds / s;
        store_f(grad, gdt, base + j, (float)(w * g));
      }
    } else {
      float mx, sum;
      row_softmax_stats(logits, ldt, base, vocab, lane, mx, sum);
      const float inv = 1.0f / sum;
      for (int j = lane; j < vocab; j += 32) {
        float g = expf(load_f(logits, ldt, base + j) - mx) * inv;
        if (j == label) g -= 1.0f;
        store_f(grad, gdt, base + j, (float)(w * (double)g));
      }
    }
  }
}

/// losses [N] = max(x, 0) - x * t + log(1 + exp(-|x|)).
extern "C" __global__ void bce_forward_kernel(const void* logits, int ldt, const void* targets, int tdt,
                                              float* losses, i64 n) {
  GRID_LOOP(i, n) {
    const float x = load_f(logits, ldt, i), t = load_f(targets, tdt, i);
    losses[i] = fmaxf(x, 0.0f) - x * t + log1pf(expf(-fabsf(x)));
  }
}

/// gradLogits [N] = gradScale[0] * (sigmoid(x) - t).
extern "C" __global__ void bce_backward_kernel(const void* logits, int ldt, const void* targets, int tdt,
                                               const float* gradScale, void* grad, int gdt, i64 n) {
  GRID_LOOP(i, n) {
    const float x = load_f(logits, ldt, i), t = load_f(targets, tdt, i);
    store_f(grad, gdt, i, gradScale[0] * (sigmoid_f(x) - t));
  }
}

/// weights [B, S] = labels != -100 ? 1 / max(n_b, 1) : 0 with n_b the valid labels of row b.
/// One block per row (grid-stride over rows).
extern "C" __global__ void row_normalized_weights_kernel(const int* labels, float* weights, i64 rows, i64 seq) {
  __shared__ float scratch[32];
  for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
    float count = 0.0f;
    for (i64 s = threadIdx.x; s < seq; s += blockDim.x) count += labels[r * seq + s] != IGNORE_LABEL ? 1.0f : 0.0f;
    count = block_sum(count, scratch);
    const float w = 1.0f / fmaxf(count, 1.0f);
    for (i64 s = threadIdx.x; s < seq; s += blockDim.x)
      weights[r * seq + s] = labels[r * seq + s] != IGNORE_LABEL ? w : 0.0f;
  }
}
