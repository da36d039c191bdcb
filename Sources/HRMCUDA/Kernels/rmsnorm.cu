// rmsnorm.cu: RMSNorm without weight, forward and backward; statistics in f32.
// One block per row (grid-stride over rows), blockDim a multiple of 32.
#include "common.cuh"

/// out [N, D] = x * rstd; rstd [N] = 1 / sqrt(mean(x^2) + eps).
extern "C" __global__ void rmsnorm_forward_kernel(const void* x, int xdt, void* out, int odt,
                                                  float* rstd, i64 rows, int d, float eps) {
  __shared__ float scratch[32];
  for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
    const i64 base = row * d;
    float ss = 0.0f;
    for (int c = threadIdx.x; c < d; c += blockDim.x) {
      const float v = load_f(x, xdt, base + c);
      ss += v * v;
    }
    ss = block_sum(ss, scratch);
    const float r = 1.0f / sqrtf(ss / (float)d + eps);
    if (threadIdx.x == 0) rstd[row] = r;
    for (int c = threadIdx.x; c < d; c += blockDim.x) store_f(out, odt, base + c, load_f(x, xdt, base + c) * r);
  }
}

/// gradX = rstd * (gradOut - y * mean(gradOut * y)), y the forward output.
extern "C" __global__ void rmsnorm_backward_kernel(const void* gy, int gdt, const void* y, int ydt,
                                                   const float* rstd, void* gx, int xdt, i64 rows, int d) {
  __shared__ float scratch[32];
  for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
    const i64 base = row * d;
    float dot = 0.0f;
    for (int c = threadIdx.x; c < d; c += blockDim.x) dot += load_f(gy, gdt, base + c) * load_f(y, ydt, base + c);
    dot = block_sum(dot, scratch);
    const float mean = dot / (float)d;
    const float r = rstd[row];
    for (int c = threadIdx.x; c < d; c += blockDim.x) {
      const float g = load_f(gy, gdt, base + c), yy = load_f(y, ydt, base + c);
      store_f(gx, xdt, base + c, r * (g - yy * mean));
    }
  }
}
