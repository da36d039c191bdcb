// gemm.cu: a plain tiled matrix multiply, the fallback when cuBLASLt is unavailable
// (or HRM_CUDA_GEMM=simple). Row-major, f32 accumulation, any mix of f32/bf16 operands.
// C = alpha * op(A) * op(B) + beta * C; beta == 0 ignores C's old contents.
#include "common.cuh"

#define GEMM_TILE 16

extern "C" __global__ void gemm_simple_kernel(int transA, int transB, int m, int n, int k, float alpha,
                                              const void* a, int adt, const void* b, int bdt, float beta,
                                              void* c, int cdt) {
  __shared__ float as[GEMM_TILE][GEMM_TILE + 1];
  __shared__ float bs[GEMM_TILE][GEMM_TILE + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row = blockIdx.y * GEMM_TILE + ty;
  const int col = blockIdx.x * GEMM_TILE + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < k; k0 += GEMM_TILE) {
    {
      // as[ty][tx] = op(A)[blockRow + ty, k0 + tx]
      const int r = blockIdx.y * GEMM_TILE + ty, kk = k0 + tx;
      float v = 0.0f;
      if (r < m && kk < k) v = load_f(a, adt, transA ? (i64)kk * m + r : (i64)r * k + kk);
      as[ty][tx] = v;
    }
    {
      // bs[ty][tx] = op(B)[k0 + ty, blockCol + tx]
      const int kk = k0 + ty, cc = blockIdx.x * GEMM_TILE + tx;
      float v = 0.0f;
      if (kk < k && cc < n) v = load_f(b, bdt, transB ? (i64)cc * k + kk : (i64)kk * n + cc);
      bs[ty][tx] = v;
    }
    __syncthreads();
#pragma unroll
    for (int q = 0; q < GEMM_TILE; q++) acc += as[ty][q] * bs[q][tx];
    __syncthreads();
  }
  if (row < m && col < n) {
    const i64 idx = (i64)row * n + col;
    float out = alpha * acc;
    if (beta != 0.0f) out += beta * load_f(c, cdt, idx);
    store_f(c, cdt, idx, out);
  }
}
