// embedding.cu: row gather (forward) and scatter-add (backward) for embedding tables.
#include "common.cuh"

/// out [N, D] = table [R, D] rows ids [N]. Ids outside [0, R) give NaN rows (visible, not silent).
extern "C" __global__ void embedding_forward_kernel(const void* table, int tdt, const int* ids,
                                                    void* out, int odt, i64 rows, i64 d, i64 tableRows) {
  const i64 n = rows * d;
  GRID_LOOP(i, n) {
    const i64 r = i / d, c = i - r * d;
    const int id = ids[r];
    const float v = (id >= 0 && id < tableRows) ? load_f(table, tdt, (i64)id * d + c) : HRM_NAN;
    store_f(out, odt, i, v);
  }
}

/// Deterministic backward for small tables: one thread per (table row, column) sums, in row
/// order, every gradOut row whose id matches, then adds the sum into gradTable.
/// grid (ceil(D / blockDim.x), min(R, 65535)); rows beyond gridDim.y loop.
extern "C" __global__ void embedding_backward_rows_kernel(const void* grad, int gdt, const int* ids,
                                                          void* table, int tdt, i64 rows, i64 d,
                                                          i64 tableRows) {
  const i64 c = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= d) return;
  for (i64 r = blockIdx.y; r < tableRows; r += gridDim.y) {
    float acc = 0.0f;
    bool any = false;
    for (i64 n = 0; n < rows; n++) {
      if (ids[n] == (int)r) { acc += load_f(grad, gdt, n * d + c); any = true; }
    }
    if (any) store_f(table, tdt, r * d + c, load_f(table, tdt, r * d + c) + acc);
  }
}

__device__ __forceinline__ void atomic_add_bf16(bf16_t* address, float v) {
  unsigned int* base = (unsigned int*)((u64)address & ~(u64)3);
  const unsigned int shift = ((u64)address & 2) ? 16u : 0u;
  unsigned int old = *base, assumed;
  do {
    assumed = old;
    const bf16_t cur = (bf16_t)((assumed >> shift) & 0xffffu);
    const bf16_t next = f32_to_bf16(bf16_to_f32(cur) + v);
    const unsigned int replaced = (assumed & ~(0xffffu << shift)) | ((unsigned int)next << shift);
    old = atomicCAS(base, assumed, replaced);
  } while (assumed != old);
}

/// Backward for large tables: one atomic add per gradOut element (order not deterministic).
extern "C" __global__ void embedding_backward_atomic_kernel(const void* grad, int gdt, const int* ids,
                                                            void* table, int tdt, i64 rows, i64 d,
                                                            i64 tableRows) {
  const i64 n = rows * d;
  GRID_LOOP(i, n) {
    const i64 r = i / d, c = i - r * d;
    const int id = ids[r];
    if (id < 0 || id >= tableRows) continue;
    const float g = load_f(grad, gdt, i);
    if (tdt == DT_BF16) atomic_add_bf16(((bf16_t*)table) + (i64)id * d + c, g);
    else atomicAdd(((float*)table) + (i64)id * d + c, g);
  }
}
