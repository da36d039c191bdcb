// rope.cu: rotary position embedding on fused qkv rows, half-split convention.
// The backward pass is the same kernel with inverse = 1 (the transpose: rotation by -angle).
#include "common.cuh"

/// qkv, out [B, T, 3H * Dh]; cos, sin [T, Dh] f32. One thread per (token, head slot, pair p):
/// it reads elements p and p + Dh/2 and writes both, so out may alias qkv. Query and key heads
/// (slots < 2H) rotate, value heads copy.
extern "C" __global__ void rope_kernel(const void* qkv, int idt, const float* cosT, const float* sinT,
                                       void* out, int odt, i64 batch, i64 seq, int heads, int headDim,
                                       int inverse) {
  const int half = headDim / 2;
  const int slots = 3 * heads;
  const i64 n = batch * seq * (i64)slots * half;
  GRID_LOOP(i, n) {
    const int p = (int)(i % half);
    const i64 rest = i / half;
    const int slot = (int)(rest % slots);
    const i64 token = rest / slots;           // b * seq + t
    const i64 t = token % seq;
    const i64 base = (token * slots + slot) * headDim;
    const float x1 = load_f(qkv, idt, base + p), x2 = load_f(qkv, idt, base + p + half);
    if (slot < 2 * heads) {
      const float c1 = cosT[t * headDim + p], s1 = sinT[t * headDim + p];
      const float c2 = cosT[t * headDim + p + half], s2 = sinT[t * headDim + p + half];
      if (inverse) {
        // The transpose of the forward map: exact backward for any table, and the rotation
        // by -angle for the reference's tables (equal halves).
        store_f(out, odt, base + p, x1 * c1 + x2 * s2);
        store_f(out, odt, base + p + half, x2 * c2 - x1 * s1);
      } else {
        store_f(out, odt, base + p, x1 * c1 - x2 * s1);
        store_f(out, odt, base + p + half, x2 * c2 + x1 * s2);
      }
    } else {
      store_f(out, odt, base + p, x1);
      store_f(out, odt, base + p + half, x2);
    }
  }
}
