// embedding.cu: row gather (forward) and scatter-add (backward) for embedding tables.
// Backward: small tables (the token embedding) take a deterministic two-pass column sum;
// large ones one atomic add per element (order, hence rounding, not deterministic).
#include "common.cuh"

/// out [N, D] = table [R, D] rows ids [N]. Ids outside [0, R) give NaN rows (visible, not silent).
/// Grid: x over columns, y over rows (grid-stride).
extern "C" __global__ void embedding_forward_kernel(const void* table, int tdt, const int* ids,
                                                    void* out, int odt, i64 rows, i64 d, i64 tableRows) {
  const i64 c = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= d) return;
  for (i64 r = blockIdx.y; r < rows; r += gridDim.y) {
    const int id = ids[r];
    const float v = (id >= 0 && id < tableRows) ? load_f(table, tdt, (i64)id * d + c) : HRM_NAN;
    store_f(out, odt, r * d + c, v);
  }
}

#define EMB_MAX_ROWS 64   // table rows handled by the deterministic two-pass backward
#define EMB_COLS 128      // columns per block (blockDim.x) of its first pass

/// Deterministic backward for small tables (R <= 64), pass 1. Block (chunk c, column block):
/// each thread owns one column and sums, in row order, the chunk's gradOut rows into one
/// shared accumulator per table row; partials [chunks, R, D] f32 receive the sums.
extern "C" __global__ void embedding_backward_partial_kernel(const void* grad, int gdt, const int* ids, i64 rows,
                                                             i64 d, int tableRows, i64 rowsPerChunk, float* partials) {
  __shared__ float acc[EMB_MAX_ROWS][EMB_COLS];
  const i64 c = (i64)blockIdx.y * EMB_COLS + threadIdx.x;
  for (int r = 0; r < tableRows; r++) acc[r][threadIdx.x] = 0.0f;
  if (c < d) {
    const i64 first = (i64)blockIdx.x * rowsPerChunk;
    const i64 last = first + rowsPerChunk < rows ? first + rowsPerChunk : rows;
    for (i64 n = first; n < last; n++) {
      const int id = ids[n];
      if (id >= 0 && id < tableRows) acc[id][threadIdx.x] += load_f(grad, gdt, n * d + c);
    }
    for (int r = 0; r < tableRows; r++) partials[((i64)blockIdx.x * tableRows + r) * d + c] = acc[r][threadIdx.x];
  }
}

/// Pass 2: gradTable [R, D] += sum over chunks (in chunk order) of partials.
extern "C" __global__ void embedding_backward_final_kernel(const float* partials, int chunks, void* table, int tdt,
                                                           i64 tableRows, i64 d) {
  const i64 n = tableRows * d;
  GRID_LOOP(i, n) {
    float s = 0.0f;
    for (int k = 0; k < chunks; k++) s += partials[(i64)k * n + i];
    store_f(table, tdt, i, load_f(table, tdt, i) + s);
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
