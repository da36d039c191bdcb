// rope.cu: rotary position embedding on fused qkv rows, half-split convention.
// The backward pass is the same kernel with inverse = 1 (the transpose: rotation by -angle).
#include "common.cuh"

/// qkv, out [B, T, 3H * Dh]; cos, sin [T, Dh] f32. One block per token (grid-stride), one
/// thread per (head slot, pair p) of its row: it reads elements p and p + Dh/2 and writes
/// both, so out may alias qkv. Query and key heads (slots < 2H) rotate, value heads copy.
extern "C" __global__ void rope_kernel(const void* qkv, int idt, const float* cosT, const float* sinT,
                                       void* out, int odt, i64 batch, i64 seq, int heads, int headDim,
                                       int inverse) {
  const int half = headDim / 2;
  const int pairs = 3 * heads * half;
  const i64 tokens = batch * seq;
  for (i64 token = blockIdx.x; token < tokens; token += gridDim.x) {
    const int t = (int)(token % seq);
    const float* ct = cosT + (i64)t * headDim;
    const float* st = sinT + (i64)t * headDim;
    for (int idx = threadIdx.x; idx < pairs; idx += blockDim.x) {
      const int slot = idx / half, p = idx - slot * half;
      const i64 base = (token * 3 * heads + slot) * headDim;
      const float x1 = load_f(qkv, idt, base + p), x2 = load_f(qkv, idt, base + p + half);
      if (slot < 2 * heads) {
        const float c1 = ct[p], s1 = st[p], c2 = ct[p + half], s2 = st[p + half];
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
}

/// All-bf16 fast path: one thread per 8 consecutive pairs (16-byte loads of elements p..p+7
/// and p+half..p+half+7), a flat grid-stride loop over (token, head slot, group) for head
/// slots slot0 .. slot1 - 1 of each token (query and key slots rotate, value slots copy): all
/// 3H slots out of place, the 2H query and key slots in place, or only the key slots H .. 2H
/// (the attention kernels that rotate Q themselves). The caller guarantees half % 8 == 0 and
/// 16-byte aligned tensors.
extern "C" __global__ void rope_bf16x8_kernel(const bf16_t* qkv, const float* cosT, const float* sinT, bf16_t* out,
                                              i64 batch, i64 seq, int heads, int headDim, int inverse, int slot0,
                                              int slot1) {
  const int half = headDim / 2, groups = half / 8;
  const int work = (slot1 - slot0) * groups;   // per token
  GRID_LOOP(i, batch * seq * work) {
    const i64 token = i / work;
    const int idx = (int)(i - token * work);
    const int t = (int)(token % seq);
    const int slot = slot0 + idx / groups, p = (idx % groups) * 8;
    const i64 base = (token * 3 * heads + slot) * headDim;
    const vec16 v1 = *(const vec16*)(qkv + base + p), v2 = *(const vec16*)(qkv + base + p + half);
    if (slot < 2 * heads) {
      vec16 o1, o2;
      rope_apply8(v1, v2, rope_table8(cosT + (i64)t * headDim, sinT + (i64)t * headDim, p, half), inverse != 0, o1, o2);
      *(vec16*)(out + base + p) = o1;
      *(vec16*)(out + base + p + half) = o2;
    } else {
      *(vec16*)(out + base + p) = v1;
      *(vec16*)(out + base + p + half) = v2;
    }
  }
}
