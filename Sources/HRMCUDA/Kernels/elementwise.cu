// elementwise.cu: data movement and pointwise kernels of the HRM CUDA backend
// (copy with dtype conversion, addScaled, scale, copySequence, selectRows, addBias).
// None of these ops has a separate backward kernel: their gradients are the same ops.
#include "common.cuh"

/// dst[i] = src[i] with dtype conversion (f32 <-> bf16, i32 -> float, float -> i32).
extern "C" __global__ void convert_kernel(const void* src, int sdt, void* dst, int ddt, i64 n) {
  GRID_LOOP(i, n) store_f(dst, ddt, i, load_f(src, sdt, i));
}

/// out = alpha * a + beta * b (out may alias a or b: each element is read before it is written).
extern "C" __global__ void add_scaled_kernel(const void* a, int adt, float alpha, const void* b, int bdt,
                                             float beta, void* out, int odt, i64 n) {
  GRID_LOOP(i, n) {
    float va = load_f(a, adt, i), vb = load_f(b, bdt, i);
    store_f(out, odt, i, alpha * va + beta * vb);
  }
}

/// out = alpha * x (out may alias x).
extern "C" __global__ void scale_kernel(const void* x, int xdt, float alpha, void* out, int odt, i64 n) {
  GRID_LOOP(i, n) store_f(out, odt, i, alpha * load_f(x, xdt, i));
}

/// dst[b, dstStart + t, :] (+)= src[b, srcStart + t, :] for t < length.
/// src [B, Ts, D], dst [B, Td, D].
extern "C" __global__ void copy_sequence_kernel(const void* src, int sdt, i64 ts, i64 srcStart,
                                                void* dst, int ddt, i64 td, i64 dstStart,
                                                i64 batch, i64 length, i64 d, int accumulate) {
  const i64 per = length * d;
  const i64 n = batch * per;
  GRID_LOOP(i, n) {
    const i64 b = i / per, r = i - b * per;
    const i64 t = r / d, c = r - t * d;
    const i64 si = (b * ts + srcStart + t) * d + c;
    const i64 di = (b * td + dstStart + t) * d + c;
    float v = load_f(src, sdt, si);
    if (accumulate) v += load_f(dst, ddt, di);
    store_f(dst, ddt, di, v);
  }
}

/// out[r, :] = mask[r] != 0 ? a[aRows == 1 ? 0 : r, :] : b[r, :]; out may alias b.
/// Same dtypes copy raw bits (exact for i32); mixed dtypes convert through float.
extern "C" __global__ void select_rows_kernel(const int* mask, const void* a, int adt, i64 aRows,
                                              const void* b, int bdt, void* out, int odt,
                                              i64 rows, i64 x) {
  const i64 n = rows * x;
  GRID_LOOP(i, n) {
    const i64 r = i / x, c = i - r * x;
    const bool takeA = mask[r] != 0;
    const void* src = takeA ? a : b;
    const int sdt = takeA ? adt : bdt;
    const i64 si = takeA ? ((aRows == 1 ? 0 : r) * x + c) : i;
    if (sdt == odt) {
      if (odt == DT_BF16) ((bf16_t*)out)[i] = ((const bf16_t*)src)[si];
      else ((unsigned int*)out)[i] = ((const unsigned int*)src)[si];
    } else {
      store_f(out, odt, i, load_f(src, sdt, si));
    }
  }
}

/// x [N, C] += bias [C] broadcast over rows.
extern "C" __global__ void add_bias_kernel(void* x, int xdt, const void* bias, int bdt, i64 rows, i64 c) {
  const i64 n = rows * c;
  GRID_LOOP(i, n) {
    const i64 col = i % c;
    store_f(x, xdt, i, load_f(x, xdt, i) + load_f(bias, bdt, col));
  }
}

// Vectorised all-bf16 fast paths: 8 elements per thread with 16-byte loads and stores. The
// caller guarantees 16-byte aligned pointers and n % 8 == 0 (else it uses the kernels above).

/// out = alpha * a + beta * b, all bf16; n8 = n / 8.
extern "C" __global__ void add_scaled_bf16x8_kernel(const vec16* a, float alpha, const vec16* b, float beta,
                                                    vec16* out, i64 n8) {
  GRID_LOOP(i, n8) {
    float fa[8], fb[8];
    unpack_bf16x8(a[i], fa);
    unpack_bf16x8(b[i], fb);
#pragma unroll
    for (int k = 0; k < 8; k++) fa[k] = alpha * fa[k] + beta * fb[k];
    out[i] = pack_bf16x8(fa);
  }
}

/// out = alpha * x, all bf16; n8 = n / 8.
extern "C" __global__ void scale_bf16x8_kernel(const vec16* x, float alpha, vec16* out, i64 n8) {
  GRID_LOOP(i, n8) {
    float f[8];
    unpack_bf16x8(x[i], f);
#pragma unroll
    for (int k = 0; k < 8; k++) f[k] *= alpha;
    out[i] = pack_bf16x8(f);
  }
}
