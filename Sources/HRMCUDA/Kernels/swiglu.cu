// swiglu.cu: SwiGLU activation on the fused gate/up projection, forward and backward.
// gateUp [N, 2I]: gate = columns 0..<I, up = columns I..<2I.
// Grid: x over columns (blockDim.x each), y over rows (grid-stride), so no index division.
#include "common.cuh"

/// out [N, I] = silu(gate) * up, silu(z) = z * sigmoid(z).
extern "C" __global__ void swiglu_forward_kernel(const void* gu, int gdt, void* out, int odt, i64 rows, i64 inner) {
  const i64 c = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= inner) return;
  for (i64 r = blockIdx.y; r < rows; r += gridDim.y) {
    const float g = load_f(gu, gdt, r * 2 * inner + c);
    const float u = load_f(gu, gdt, r * 2 * inner + inner + c);
    store_f(out, odt, r * inner + c, g * sigmoid_f(g) * u);
  }
}

/// gradGateUp [N, 2I] (overwritten): d gate = dout * up * silu'(gate), d up = dout * silu(gate).
extern "C" __global__ void swiglu_backward_kernel(const void* gu, int gdt, const void* gout, int odt,
                                                  void* ggu, int ggdt, i64 rows, i64 inner) {
  const i64 c = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= inner) return;
  for (i64 r = blockIdx.y; r < rows; r += gridDim.y) {
    const float g = load_f(gu, gdt, r * 2 * inner + c);
    const float u = load_f(gu, gdt, r * 2 * inner + inner + c);
    const float dy = load_f(gout, odt, r * inner + c);
    const float sg = sigmoid_f(g);
    const float silu = g * sg;
    const float dsilu = sg * (1.0f + g * (1.0f - sg));
    store_f(ggu, ggdt, r * 2 * inner + c, dy * u * dsilu);
    store_f(ggu, ggdt, r * 2 * inner + inner + c, dy * silu);
  }
}

// Vectorised all-bf16 fast paths (8 columns per thread, 16-byte accesses); the caller
// guarantees inner % 8 == 0 and 16-byte aligned tensors. inner8 = inner / 8.
extern "C" __global__ void swiglu_forward_bf16x8_kernel(const vec16* gu, vec16* out, i64 rows, i64 inner8) {
  const i64 c = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= inner8) return;
  for (i64 r = blockIdx.y; r < rows; r += gridDim.y) {
    float g[8], u[8];
    unpack_bf16x8(gu[r * 2 * inner8 + c], g);
    unpack_bf16x8(gu[r * 2 * inner8 + inner8 + c], u);
#pragma unroll
    for (int k = 0; k < 8; k++) g[k] = g[k] * sigmoid_f(g[k]) * u[k];
    out[r * inner8 + c] = pack_bf16x8(g);
  }
}

extern "C" __global__ void swiglu_backward_bf16x8_kernel(const vec16* gu, const vec16* gout, vec16* ggu, i64 rows,
                                                         i64 inner8) {
  const i64 c = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= inner8) return;
  for (i64 r = blockIdx.y; r < rows; r += gridDim.y) {
    float g[8], u[8], dy[8], dg[8];
    unpack_bf16x8(gu[r * 2 * inner8 + c], g);
    unpack_bf16x8(gu[r * 2 * inner8 + inner8 + c], u);
    unpack_bf16x8(gout[r * inner8 + c], dy);
#pragma unroll
    for (int k = 0; k < 8; k++) {
      const float sg = sigmoid_f(g[k]);
      const float silu = g[k] * sg;
      dg[k] = dy[k] * u[k] * sg * (1.0f + g[k] * (1.0f - sg));
      u[k] = dy[k] * silu;
    }
    ggu[r * 2 * inner8 + c] = pack_bf16x8(dg);
    ggu[r * 2 * inner8 + inner8 + c] = pack_bf16x8(u);
  }
}
