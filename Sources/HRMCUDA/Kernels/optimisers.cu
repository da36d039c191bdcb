// optimisers.cu: the fused optimiser steps, all in f32: AdamATan2 (the reference's form)
// and the sparse sign-SGD of the puzzle-embedding table.
#include "common.cuh"

/// p *= 1 - lr*wd; m += (1-b1)(g-m); v += (1-b2)(g^2-v); p -= (lr/bc1) * atan2(m, sqrt(v)/sqrt(bc2)).
extern "C" __global__ void adam_atan2_kernel(float* param, const void* grad, int gdt, float* m, float* v, i64 n,
                                             float lr, float beta1, float beta2, float weightDecay,
                                             float bc1, float bc2) {
  const float decay = 1.0f - lr * weightDecay;
  const float stepSize = lr / bc1;
  const float sqrtBc2 = sqrtf(bc2);
  GRID_LOOP(i, n) {
    const float g = load_f(grad, gdt, i);
    float p = param[i] * decay;
    float mi = m[i], vi = v[i];
    mi += (1.0f - beta1) * (g - mi);
    vi += (1.0f - beta2) * (g * g - vi);
    p -= stepSize * atan2f(mi, sqrtf(vi) / sqrtBc2);
    m[i] = mi;
    v[i] = vi;
    param[i] = p;
  }
}

/// One block per gradient row n. The block whose row is the first occurrence of its id u sums
/// (in row order) every row with that id, then updates table[u] = table[u]*(1-lr*wd) - lr*sign(g).
/// Later occurrences exit, so each distinct id is updated exactly once and without races.
extern "C" __global__ void sparse_sign_sgd_kernel(float* table, const int* ids, const void* grads, int gdt,
                                                  i64 rows, i64 d, i64 tableRows, float lr, float weightDecay) {
  for (i64 n = blockIdx.x; n < rows; n += gridDim.x) {
    const int u = ids[n];
    int seenBefore = 0;
    for (i64 k = threadIdx.x; k < n; k += blockDim.x) seenBefore |= ids[k] == u;
    if (__syncthreads_or(seenBefore)) continue;
    if (u < 0 || u >= tableRows) continue;
    const float decay = 1.0f - lr * weightDecay;
    for (i64 c = threadIdx.x; c < d; c += blockDim.x) {
      double g = 0.0;
      for (i64 k = n; k < rows; k++) if (ids[k] == u) g += (double)load_f(grads, gdt, k * d + c);
      const float sgn = g > 0.0 ? 1.0f : (g < 0.0 ? -1.0f : 0.0f);
      const i64 idx = (i64)u * d + c;
      table[idx] = table[idx] * decay - lr * sgn;
    }
  }
}
