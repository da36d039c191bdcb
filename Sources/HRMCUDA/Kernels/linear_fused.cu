// linear_fused.cu: y = x W^T (bf16 operands, f32 accumulation) on Hopper tensor cores
// (wgmma), with the element-wise op that follows the projection in the model applied to the
// accumulators, for forward passes that keep nothing for a gradient: SwiGLU after the gate/up
// projection (the [M, 2I] product never reaches memory) and RoPE on the query and key heads
// after the QKV projection (no separate rotary pass). The rest of the model's projections go
// through cuBLASLt; these round as that path does: the product is rounded to bf16 before the
// element-wise op, which then matches swiglu.cu / rope.cu.
//
// Tiles: 128 rows x 128 columns of W's rows per block, 64-deep k-steps. Two warpgroups, each
// 64 rows x 128 columns (m64n128k16, both operands from shared memory, K-major, 128-byte
// swizzle: row r of a tile at byte 128 r, its 16-byte chunk c at chunk c ^ (r % 8); the
// unswizzled core-matrix order of attention.cu ran at 175 TFLOP/s here, run 53). A and B
// tiles are copied two k-steps ahead with cp.async. Two pipelines:
// - STAGES = 3 (96 KB of dynamic shared memory, two blocks per SM): each warpgroup waits for
//   its k-step's products before the next barrier; the other block's warps keep the tensor
//   cores busy meanwhile, and one block's epilogue overlaps the other's products;
// - STAGES = 4 (128 KB, one block per SM, kernel names ending in _p): the products of k-step
//   kt are still running while the warps pass the barrier of kt + 1 (wait for kt - 1 only).
// Needs K % 64 == 0 and 16-byte aligned rows.
#include "common.cuh"
#include "tensorcore.cuh"

#if defined(HRM_SM90A)

#define LF_PLAIN 0    // out [M, N] = x W^T
#define LF_SWIGLU 1   // W [2I, K] (gate rows, then up rows); out [M, I] = silu(gate) * up
#define LF_ROPE 2     // W [3 H 64, K]; out [M, 3 H 64], query and key heads rotated

/// d (64x128 f32, 64 per thread) = [d +] A (64x16, shared) * B (16x128, shared), both
/// K-major, through their descriptors.
__device__ __forceinline__ void wgmma_m64n128k16_ss(float (&d)[64], u64 adesc, u64 bdesc, int accumulate) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "%64, %65, p, 1, 1, 0, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "l"(adesc), "l"(bdesc), "r"(accumulate)
      : "memory");
}

template <int EPI, int STAGES>
__device__ __forceinline__ void linear_fused_impl(const bf16_t* __restrict__ x, const bf16_t* __restrict__ w,
                                                  bf16_t* __restrict__ out, int m, int n, int k,
                                                  const float* __restrict__ cosT, const float* __restrict__ sinT,
                                                  int seq, int heads) {
  static_assert(STAGES == 3 || STAGES == 4, "three stages (wait per k-step) or four (one k-step in flight)");
  constexpr int BM = 128, BN = 128, BK = 64, AHEAD = 2, TILE = (BM + BN) * BK;   // bf16 per stage: A, then B
  extern __shared__ __align__(128) unsigned char lf_smem[];
  // Swizzled tiles start on 1024-byte boundaries (the host asks for 1 KB more).
  bf16_t* sm = (bf16_t*)align_1024(lf_smem);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, wg = wg_index();
  const int m0 = blockIdx.y * BM;
  // First output column: SwiGLU blocks cover 64 outputs (64 gate rows of W, then the 64
  // matching up rows), the others 128 columns.
  const int c0 = blockIdx.x * (EPI == LF_SWIGLU ? BN / 2 : BN);
  // Copies: thread x moves 16-byte chunk c = x % 8 of rows x / 8 + 32 kk (kk < 4) of each
  // 128-row tile (a warp reads four whole 128-byte rows), into swizzled chunk c ^ (row % 8).
  const int rx = threadIdx.x >> 3, kc8 = (threadIdx.x & 7) * 8;
  const int sdst = rx * BK + (((threadIdx.x & 7) ^ (rx & 7)) * 8);   // element offset for kk = 0
  const int ktiles = k / BK;
  const auto load = [&](int stage, int kt) {
    bf16_t* a = sm + stage * TILE;
    bf16_t* b = a + BM * BK;
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
      const int r = rx + 32 * kk;
      const bool valid = m0 + r < m;   // rows past M read as zeros
      cp_async16(a + sdst + 32 * BK * kk, valid ? x + (i64)(m0 + r) * k + kt * BK + kc8 : x, valid);
      const int wrow = (EPI == LF_SWIGLU && kk >= 2) ? n + c0 + r - 64 : c0 + r;
      cp_async16(b + sdst + 32 * BK * kk, w + (i64)wrow * k + kt * BK + kc8, true);
    }
  };

  float acc[64];
#pragma unroll
  for (int i = 0; i < 64; i++) acc[i] = 0.0f;
#pragma unroll
  for (int s = 0; s < AHEAD; s++) {
    if (s < ktiles) load(s, s);
    cp_async_commit();
  }
  for (int kt = 0; kt < ktiles; kt++) {
    // k-step kt is here for all. Every warpgroup finished the products of k-step
    // kt + AHEAD - STAGES (three stages: kt - 1, waited below; four: kt - 2, the wait below
    // leaves one group running), whose stage takes k-step kt + 2.
    wg_tile_ready<AHEAD - 1>();
    if (kt + AHEAD < ktiles) load((kt + AHEAD) % STAGES, kt + AHEAD);
    cp_async_commit();
    const bf16_t* a = sm + (kt % STAGES) * TILE + wg * (64 * BK);   // this warpgroup's 64 rows
    const bf16_t* b = sm + (kt % STAGES) * TILE + BM * BK;
    wg_fence();
#pragma unroll
    for (int kc = 0; kc < BK / 16; kc++)   // 16 columns of k = 32 bytes into each row
      wgmma_m64n128k16_ss(acc, wg_desc_sw128(a + kc * 16), wg_desc_sw128(b + kc * 16), 1);
    wg_commit();
    wg_wait<STAGES - 3>();
  }
  wg_wait<0>();
  wg_hold(acc);
  __syncthreads();   // no warp reads the tiles any more: their memory stages the output rows

  // C fragments: acc[nt * 4 + e], columns 8 nt + 2 t + (e & 1), rows g (e < 2) and g + 8.
  bf16_t* stage = sm + warp * 2048;   // 4 KB per warp
  const int rowBase = m0 + wg * 64 + (warp & 3) * 16;
  const float(*c)[4] = (const float(*)[4])acc;
  if constexpr (EPI == LF_SWIGLU) {
    float h[8][4];
#pragma unroll
    for (int nt = 0; nt < 8; nt++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const float g = round_bf16(c[nt][e]), u = round_bf16(c[nt + 8][e]);
        h[nt][e] = g * fast_sigmoid(g) * u;
      }
    store_c_rows_staged(out, DT_BF16, c0, n, h, rowBase, m, lane, 1.0f, 1.0f, stage);
  } else if constexpr (EPI == LF_ROPE) {
    // Two heads per block (columns c0 .. c0 + 63, c0 + 64 .. c0 + 127); query and key head
    // slots (< 2H) rotate, value heads are stored as rounded. Element d < 32 of a head pairs
    // with d + 32: column tiles nt and nt + 4 of the same thread.
    const int t = lane & 3, g = lane >> 2;
    const int p0 = (rowBase + g) % seq, p1 = (rowBase + g + 8) % seq;
#pragma unroll
    for (int half = 0; half < 2; half++) {
      float r[8][4];
      const bool rotate = c0 / 64 + half < 2 * heads;
#pragma unroll
      for (int nt = 0; nt < 4; nt++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          const float x1 = round_bf16(c[half * 8 + nt][e]), x2 = round_bf16(c[half * 8 + nt + 4][e]);
          if (rotate) {
            const int d = nt * 8 + 2 * t + (e & 1);
            const float* ct = cosT + (i64)(e < 2 ? p0 : p1) * 64;
            const float* st = sinT + (i64)(e < 2 ? p0 : p1) * 64;
            r[nt][e] = x1 * ct[d] - x2 * st[d];
            r[nt + 4][e] = x2 * ct[d + 32] + x1 * st[d + 32];
          } else {
            r[nt][e] = x1;
            r[nt + 4][e] = x2;
          }
        }
      store_c_rows_staged(out, DT_BF16, c0 + 64 * half, n, r, rowBase, m, lane, 1.0f, 1.0f, stage + 1024 * half);
    }
  } else {
    store_c_rows_staged(out, DT_BF16, c0, n, c, rowBase, m, lane, 1.0f, 1.0f, stage);
    store_c_rows_staged(out, DT_BF16, c0 + 64, n, c + 8, rowBase, m, lane, 1.0f, 1.0f, stage + 1024);
  }
}

/// The kernels: out [M, N] = x [M, K] W[N, K]^T (grid (N / 128, ceil(M / 128))); out [M, I] =
/// silu(g) u with [g | u] = x W^T, W [2I, K] (grid (I / 64, ceil(M / 128))); out [M, 3 H 64] =
/// x W^T with RoPE (cos, sin [T, 64]; row r at position r % T) on the query and key heads
/// (grid (3 H 64 / 128, ceil(M / 128))). 256 threads; 97 KB of dynamic shared memory, or
/// 129 KB for the four-stage `_p` kernels (1 KB for the alignment of the tiles).
#define LINEAR_FUSED_KERNELS(SUFFIX, STAGES, MINB)                                                              \
  extern "C" __global__ void __launch_bounds__(256, MINB) linear_fused_plain##SUFFIX(                           \
      const bf16_t* x, const bf16_t* w, bf16_t* out, int m, int n, int k) {                                      \
    linear_fused_impl<LF_PLAIN, STAGES>(x, w, out, m, n, k, nullptr, nullptr, 1, 0);                             \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(256, MINB) linear_fused_swiglu##SUFFIX(                          \
      const bf16_t* x, const bf16_t* w, bf16_t* out, int m, int inner, int k) {                                  \
    linear_fused_impl<LF_SWIGLU, STAGES>(x, w, out, m, inner, k, nullptr, nullptr, 1, 0);                        \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(256, MINB) linear_fused_rope##SUFFIX(                            \
      const bf16_t* x, const bf16_t* w, bf16_t* out, int m, int n, int k, const float* cosT, const float* sinT,  \
      int seq, int heads) {                                                                                      \
    linear_fused_impl<LF_ROPE, STAGES>(x, w, out, m, n, k, cosT, sinT, seq, heads);                              \
  }

LINEAR_FUSED_KERNELS(, 3, 2)
LINEAR_FUSED_KERNELS(_p, 4, 1)

#endif  // HRM_SM90A
