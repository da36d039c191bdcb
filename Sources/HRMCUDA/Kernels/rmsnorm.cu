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

// Warp-per-row variants for D = 32 * VPL (128, 256, 512, 1024): the row stays in registers
// between the statistics and the output pass, so x (and gradOut, y) are read once.
template <int VPL>
__device__ __forceinline__ void rmsnorm_forward_warp(const void* x, int xdt, void* out, int odt, float* rstd,
                                                     i64 rows, float eps) {
  const int lane = threadIdx.x & 31;
  const i64 warps = ((i64)gridDim.x * blockDim.x) >> 5;
  for (i64 row = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5; row < rows; row += warps) {
    const i64 base = row * (32 * VPL) + lane;
    float v[VPL];
    float ss = 0.0f;
#pragma unroll
    for (int k = 0; k < VPL; k++) { v[k] = load_f(x, xdt, base + 32 * k); ss += v[k] * v[k]; }
    ss = warp_sum(ss);
    const float r = 1.0f / sqrtf(ss / (float)(32 * VPL) + eps);
    if (lane == 0) rstd[row] = r;
#pragma unroll
    for (int k = 0; k < VPL; k++) store_f(out, odt, base + 32 * k, v[k] * r);
  }
}

template <int VPL>
__device__ __forceinline__ void rmsnorm_backward_warp(const void* gy, int gdt, const void* y, int ydt, const float* rstd,
                                                      void* gx, int xdt, i64 rows) {
  const int lane = threadIdx.x & 31;
  const i64 warps = ((i64)gridDim.x * blockDim.x) >> 5;
  for (i64 row = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5; row < rows; row += warps) {
    const i64 base = row * (32 * VPL) + lane;
    float gv[VPL], yv[VPL];
    float dot = 0.0f;
#pragma unroll
    for (int k = 0; k < VPL; k++) {
      gv[k] = load_f(gy, gdt, base + 32 * k);
      yv[k] = load_f(y, ydt, base + 32 * k);
      dot += gv[k] * yv[k];
    }
    dot = warp_sum(dot);
    const float mean = dot / (float)(32 * VPL);
    const float r = rstd[row];
#pragma unroll
    for (int k = 0; k < VPL; k++) store_f(gx, xdt, base + 32 * k, r * (gv[k] - yv[k] * mean));
  }
}

#define RMSNORM_WARP_KERNELS(VPL)                                                                              \
  extern "C" __global__ void rmsnorm_forward_w##VPL(const void* x, int xdt, void* out, int odt, float* rstd,   \
                                                    i64 rows, float eps) {                                     \
    rmsnorm_forward_warp<VPL>(x, xdt, out, odt, rstd, rows, eps);                                              \
  }                                                                                                            \
  extern "C" __global__ void rmsnorm_backward_w##VPL(const void* gy, int gdt, const void* y, int ydt,          \
                                                     const float* rstd, void* gx, int xdt, i64 rows) {         \
    rmsnorm_backward_warp<VPL>(gy, gdt, y, ydt, rstd, gx, xdt, rows);                                          \
  }

RMSNORM_WARP_KERNELS(4)
RMSNORM_WARP_KERNELS(8)
RMSNORM_WARP_KERNELS(16)
RMSNORM_WARP_KERNELS(32)

// Residual add fused with RMSNorm for aligned bf16 rows of D = 256 * C (C = 1, 2, 4), warp per
// row: lane l owns the 16-byte chunks c*32 + l (8 values each), so every load and store is
// 16 bytes and coalesced across the warp. s = bf16(a + b) (the rounding the separate add
// would do), rstd = 1 / sqrt(mean(s^2) + eps), out = bf16(s * rstd): a and b are read once,
// out written once (3 passes instead of the add's 3 plus the norm's 2).
template <int C>
__device__ __forceinline__ void add_rmsnorm_bf16_warp(const vec16* __restrict__ a, const vec16* __restrict__ b,
                                                      vec16* __restrict__ out, float* rstd, i64 rows, float eps) {
  const int lane = threadIdx.x & 31;
  const i64 warps = ((i64)gridDim.x * blockDim.x) >> 5;
  for (i64 row = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5; row < rows; row += warps) {
    const i64 base = row * (32 * C) + lane;
    vec16 va[C], vb[C];
#pragma unroll
    for (int c = 0; c < C; c++) { va[c] = a[base + 32 * c]; vb[c] = b[base + 32 * c]; }
    float s[C][8];
    float ss = 0.0f;
#pragma unroll
    for (int c = 0; c < C; c++) {
      float fa[8], fb[8];
      unpack_bf16x8(va[c], fa);
      unpack_bf16x8(vb[c], fb);
#pragma unroll
      for (int k = 0; k < 8; k++) {
        const float v = round_bf16(fa[k] + fb[k]);
        s[c][k] = v;
        ss += v * v;
      }
    }
    ss = warp_sum(ss);
    const float r = 1.0f / sqrtf(ss / (float)(256 * C) + eps);
    if (lane == 0) rstd[row] = r;
#pragma unroll
    for (int c = 0; c < C; c++) {
#pragma unroll
      for (int k = 0; k < 8; k++) s[c][k] *= r;
      out[base + 32 * c] = pack_bf16x8(s[c]);
    }
  }
}

#define ADD_RMSNORM_KERNEL(C)                                                                                  \
  extern "C" __global__ void add_rmsnorm_bf16_c##C(const vec16* a, const vec16* b, vec16* out, float* rstd,    \
                                                   i64 rows, float eps) {                                      \
    add_rmsnorm_bf16_warp<C>(a, b, out, rstd, rows, eps);                                                      \
  }

ADD_RMSNORM_KERNEL(1)
ADD_RMSNORM_KERNEL(2)
ADD_RMSNORM_KERNEL(4)
