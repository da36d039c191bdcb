// swiglu.cu: SwiGLU activation on the fused gate/up projection, forward and backward.
// gateUp [N, 2I]: gate = columns 0..<I, up = columns I..<2I.
#include "common.cuh"

/// out [N, I] = silu(gate) * up, silu(z) = z * sigmoid(z).
extern "C" __global__ void swiglu_forward_kernel(const void* gu, int gdt, void* out, int odt, i64 rows, i64 inner) {
  const i64 n = rows * inner;
  GRID_LOOP(i, n) {
    const i64 r = i / inner, c = i - r * inner;
    const float g = load_f(gu, gdt, r * 2 * inner + c);
    const float u = load_f(gu, gdt, r * 2 * inner + inner + c);
    store_f(out, odt, i, g * sigmoid_f(g) * u);
  }
}

/// gradGateUp [N, 2I] (overwritten): d gate = dout * up * silu'(gate), d up = dout * silu(gate).
extern "C" __global__ void swiglu_backward_kernel(const void* gu, int gdt, const void* gout, int odt,
                                                  void* ggu, int ggdt, i64 rows, i64 inner) {
  const i64 n = rows * inner;
  GRID_LOOP(i, n) {
    const i64 r = i / inner, c = i - r * inner;
    const float g = load_f(gu, gdt, r * 2 * inner + c);
    const float u = load_f(gu, gdt, r * 2 * inner + inner + c);
    const float dy = load_f(gout, odt, i);
    const float sg = sigmoid_f(g);
    const float silu = g * sg;
    const float dsilu = sg * (1.0f + g * (1.0f - sg));
    store_f(ggu, ggdt, r * 2 * inner + c, dy * u * dsilu);
    store_f(ggu, ggdt, r * 2 * inner + inner + c, dy * silu);
  }
}
