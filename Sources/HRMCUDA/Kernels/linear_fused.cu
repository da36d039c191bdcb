// linear_fused.cu: y = x W^T (bf16 operands, f32 accumulation) on Hopper tensor cores
// (wgmma), with the element-wise op that follows the projection in the model applied on the
// way out, for forward passes that keep nothing for a gradient: SwiGLU after the gate/up
// projection (the [M, 2I] product never reaches memory) and RoPE on the query and key heads
// after the QKV projection. These round as the unfused path does: the product is rounded to
// bf16 before the element-wise op, which then matches swiglu.cu / rope.cu.
//
// Warp-specialised and persistent (one block of 384 threads per SM walks tiles blockIdx.x,
// + gridDim.x, ..., column tiles fastest). Tiles of 128 rows x BN columns (BN = 256 or 192):
//  - one producer thread (warp 8) issues TMA copies (tensor maps from the driver's
//    cuTensorMapEncodeTiled) of each k-step's A and B tiles into 128-byte-swizzled stages
//    (the layout wg_desc_sw128 reads), full / empty mbarriers per stage;
//  - two consumer warpgroups (warps 0-7, rows 0-63 and 64-127) run m64nBNk16 products, then
//    round them to bf16 into a shared-memory output tile and go straight on to the next
//    tile;
//  - three epilogue warps (9-11) take the output tile from there, apply the op and store
//    whole 16-byte chunks while the next tile's products run. Named barriers hand the
//    output tile over: 1 = written (consumers arrive, epilogue warps wait), 2 = free.
// SwiGLU tiles pair BN / 2 gate rows of W with the matching up rows; RoPE tiles hold BN / 64
// heads. BN = 256 fits three stages beside its 64 KB output tile, BN = 192 four beside 48 KB.
// Measured (docs/perf-cuda.md runs 53-63): the first version (cp.async copies by every
// thread, 128 x 128 tiles) reached 175 TFLOP/s unswizzled and 460 swizzled; with TMA and the
// op applied by the consumers themselves (tensor cores idle meanwhile) gate/up + SwiGLU took
// 0.567 ms and QKV + RoPE 0.356 ms; with the epilogue warps 0.486 and 0.262 ms (BN 256),
// against 0.624 and 0.334 ms for cuBLASLt + swiglu.cu / rope.cu (run 63).
// Needs K % 64 == 0, 16-byte aligned rows, N % BN == 0 (SwiGLU: 2I % BN == 0).
#include "common.cuh"
#include "tensorcore.cuh"

#if defined(HRM_SM90A)

#define LF_PLAIN 0    // out [M, N] = x W^T
#define LF_SWIGLU 1   // W [2I, K] (gate rows, then up rows); out [M, I] = silu(gate) * up
#define LF_ROPE 2     // W [3 H 64, K]; out [M, 3 H 64], query and key heads rotated

/// A CUtensorMap (128 bytes, 64-byte aligned), passed by value as a __grid_constant__
/// kernel parameter; copies name it by its address.
struct __align__(64) TmaMap {
  unsigned long long opaque[16];
};

__device__ __forceinline__ void mbar_init(u64* bar, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(shared_address(bar)), "r"(count) : "memory");
}
/// Arrives on `bar` and adds `bytes` to the transaction count its phase waits for.
__device__ __forceinline__ void mbar_arrive_expect_tx(u64* bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(shared_address(bar)), "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void mbar_arrive(u64* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(shared_address(bar)) : "memory");
}
/// Waits until the phase of `bar` with this parity has completed.
__device__ __forceinline__ void mbar_wait(u64* bar, unsigned parity) {
  const unsigned a = shared_address(bar);
  unsigned done = 0;
  while (!done) {
    asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                 : "=r"(done)
                 : "r"(a), "r"(parity)
                 : "memory");
  }
}
/// TMA copy of the box at (c0 along the contiguous dimension, c1 along rows) of `map` into
/// `dst`; completion is counted in bytes on `bar`. Rows past the tensor arrive as zeros.
__device__ __forceinline__ void tma_load_2d(void* dst, const TmaMap* map, int c0, int c1, u64* bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(
          shared_address(dst)),
      "l"(reinterpret_cast<u64>(map)), "r"(c0), "r"(c1), "r"(shared_address(bar))
      : "memory");
}

/// d (64x256 f32, 128 per thread) += A (64x16) * B (16x256), both from shared memory, K-major.
__device__ __forceinline__ void wgmma_m64n256k16_ss(float (&d)[128], u64 adesc, u64 bdesc) {
  asm volatile("{\nwgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 "
               "{" WG_R0_15 ", " WG_R16_31 ", " WG_R32_47 ", " WG_R48_63 ", " WG_R64_79 ", " WG_R80_95 ", " WG_R96_111
               ", " WG_R112_127 "}, %128, %129, 1, 1, 1, 0, 0;\n}\n"
               : WG_D32(0), WG_D32(32), WG_D32(64), WG_D32(96)
               : "l"(adesc), "l"(bdesc)
               : "memory");
}

/// d (64x192 f32, 96 per thread) += A (64x16) * B (16x192), both from shared memory, K-major.
__device__ __forceinline__ void wgmma_m64n192k16_ss(float (&d)[96], u64 adesc, u64 bdesc) {
  asm volatile("{\nwgmma.mma_async.sync.aligned.m64n192k16.f32.bf16.bf16 "
               "{" WG_R0_15 ", " WG_R16_31 ", " WG_R32_47 ", " WG_R48_63 ", " WG_R64_79 ", " WG_R80_95
               "}, %96, %97, 1, 1, 1, 0, 0;\n}\n"
               : WG_D32(0), WG_D32(32), WG_D32(64)
               : "l"(adesc), "l"(bdesc)
               : "memory");
}

/// d (64 x BN f32, BN / 2 per thread) += A (64 x 16) * B (16 x BN), from shared memory.
template <int BN>
__device__ __forceinline__ void wgmma_ss(float (&d)[BN / 2], u64 adesc, u64 bdesc) {
  if constexpr (BN == 192) wgmma_m64n192k16_ss(d, adesc, bdesc);
  else wgmma_m64n256k16_ss(d, adesc, bdesc);
}

__device__ __forceinline__ void named_bar_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void named_bar_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

/// The output tile in shared memory: 64-column slabs of 128 rows x 128 bytes, 16-byte chunk c
/// of row r at chunk c ^ (r % 8) (so the consumers' 4-byte writes, 8 rows x 4 threads, and
/// the epilogue's 16-byte reads, 8 chunks of a row, meet no bank twice). Element offset of
/// the 8 columns from `col` (a multiple of 8; a thread's pair at col + 2 t adds 2 t).
__device__ __forceinline__ int ws_chunk(int row, int col) {
  return (col >> 6) * 8192 + row * 64 + ((((col & 63) >> 3) ^ (row & 7)) << 3);
}

/// The epilogue warps' work on one output tile (rows m0.., tile columns c0.. of the output):
/// read 16-byte chunks from `ob`, apply the op with the helpers swiglu.cu and rope.cu use
/// (so the fused and the unfused path round alike), store 16-byte chunks. e = 0..95.
template <int EPI, int BN>
__device__ __forceinline__ void ws_epilogue(const bf16_t* ob, bf16_t* __restrict__ out, int m, int n, int m0, int c0,
                                            int e, const float* __restrict__ cosT, const float* __restrict__ sinT,
                                            int seq, int heads) {
  constexpr int THREADS = 96;
  const vec16* chunks = (const vec16*)ob;   // chunk (row, col) at ws_chunk(row, col) / 8
  if constexpr (EPI == LF_PLAIN) {
    constexpr int CHUNKS = BN / 8;   // per row
    for (int i = e; i < 128 * CHUNKS; i += THREADS) {
      const int row = i / CHUNKS, cc = i - row * CHUNKS;
      const vec16 v = chunks[ws_chunk(row, cc * 8) / 8];
      if (m0 + row < m) *(vec16*)(out + (i64)(m0 + row) * n + c0 + cc * 8) = v;
    }
  } else if constexpr (EPI == LF_SWIGLU) {
    // Gate columns 0 .. BN/2 - 1 of the tile, the matching up columns BN/2 .. BN - 1.
    constexpr int CHUNKS = BN / 16;
    for (int i = e; i < 128 * CHUNKS; i += THREADS) {
      const int row = i / CHUNKS, cc = i - row * CHUNKS;
      const vec16 h = swiglu_fwd8(chunks[ws_chunk(row, cc * 8) / 8], chunks[ws_chunk(row, BN / 2 + cc * 8) / 8]);
      if (m0 + row < m) *(vec16*)(out + (i64)(m0 + row) * n + c0 + cc * 8) = h;
    }
  } else {
    // Units (row, j): columns 8 j .. 8 j + 7 of every head in the tile paired with 32 + 8 j ..;
    // the table entries (position (m0 + row) % seq) are loaded once for all BN / 64 heads.
    const int rotating = min(BN / 64, max(0, 2 * heads - c0 / 64));   // heads of the tile that rotate
    for (int i = e; i < 128 * 4; i += THREADS) {
      const int row = i >> 2, j = i & 3;
      const i64 p = (i64)((m0 + row) % seq) * 64;
      const RopeTable8 rt = rope_table8(cosT + p, sinT + p, 8 * j, 32);
#pragma unroll
      for (int hh = 0; hh < BN / 64; hh++) {
        vec16 o1 = chunks[ws_chunk(row, hh * 64 + 8 * j) / 8], o2 = chunks[ws_chunk(row, hh * 64 + 32 + 8 * j) / 8];
        if (hh < rotating) rope_apply8(o1, o2, rt, false, o1, o2);
        if (m0 + row < m) {
          vec16* o = (vec16*)(out + (i64)(m0 + row) * n + c0 + hh * 64 + 8 * j);
          o[0] = o1;
          o[4] = o2;   // 32 columns further
        }
      }
    }
  }
}

template <int EPI, int BN>
__device__ __forceinline__ void linear_ws_impl(const TmaMap* xmap, const TmaMap* wmap, bf16_t* __restrict__ out, int m,
                                               int n, int k, int colTiles, const float* __restrict__ cosT,
                                               const float* __restrict__ sinT, int seq, int heads) {
  constexpr int BM = 128, BK = 64, STAGES = BN == 192 ? 4 : 3, HANDOFF = 256 + 96;
  constexpr int ATILE = BM * BK, STAGE = (BM + BN) * BK;   // bf16 elements
  extern __shared__ __align__(128) unsigned char lt_smem[];
  bf16_t* sm = (bf16_t*)align_1024(lt_smem);
  bf16_t* ob = sm + STAGES * STAGE;   // the output tile, BN / 64 slabs of 16 KB
  u64* full = (u64*)(ob + BM * BN);
  u64* empty = full + STAGES;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  constexpr int COLS = EPI == LF_SWIGLU ? BN / 2 : BN;   // output columns per tile
  const int ktiles = k / BK, tiles = colTiles * ((m + BM - 1) / BM);
  if (threadIdx.x == 0) {
#pragma unroll
    for (int s = 0; s < STAGES; s++) {
      mbar_init(&full[s], 1);
      mbar_init(&empty[s], 8);
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  // Registers: setmaxnreg moves them within the block's launch allocation (384 x 168), so
  // 256 x 200 for the consumers + 128 x 104 here must not exceed it (more makes .inc wait
  // forever).
  if (warp >= 8) {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 104;\n" ::: "memory");
    if (warp == 8) {   // the producer: one thread issues the copies
      if (lane == 0) {
        int it = 0;
        for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
          const int m0 = (tile / colTiles) * BM, c0 = (tile % colTiles) * COLS;
          const int w1 = EPI == LF_SWIGLU ? n + c0 : c0 + BN / 2;   // the second half's first W row
          for (int kt = 0; kt < ktiles; kt++, it++) {
            const int s = it % STAGES;
            if (it >= STAGES) mbar_wait(&empty[s], ((it / STAGES) - 1) & 1);
            mbar_arrive_expect_tx(&full[s], STAGE * 2);
            bf16_t* a = sm + s * STAGE;
            tma_load_2d(a, xmap, kt * BK, m0, &full[s]);
            tma_load_2d(a + ATILE, wmap, kt * BK, c0, &full[s]);
            tma_load_2d(a + ATILE + (BN / 2) * BK, wmap, kt * BK, w1, &full[s]);
          }
        }
      }
      return;
    }
    // The epilogue warps: the output tile starts free.
    const int e = threadIdx.x - 288;
    named_bar_arrive(2, HANDOFF);
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
      named_bar_sync(1, HANDOFF);
      ws_epilogue<EPI, BN>(ob, out, m, n, (tile / colTiles) * BM, (tile % colTiles) * COLS, e, cosT, sinT, seq,
                           heads);
      if (tile + gridDim.x < tiles) named_bar_arrive(2, HANDOFF);
    }
    return;
  }

  asm volatile("setmaxnreg.inc.sync.aligned.u32 200;\n" ::: "memory");
  const int wg = wg_index();
  const int g = lane >> 2, t = lane & 3, r0 = wg * 64 + (warp & 3) * 16 + g;   // this thread's rows r0, r0 + 8
  int it = 0;
  for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    float acc[BN / 2];
#pragma unroll
    for (int i = 0; i < BN / 2; i++) acc[i] = 0.0f;
    for (int kt = 0; kt < ktiles; kt++, it++) {
      const int s = it % STAGES;
      mbar_wait(&full[s], (it / STAGES) & 1);
      const bf16_t* a = sm + s * STAGE + wg * (64 * BK);
      const bf16_t* b = sm + s * STAGE + ATILE;
      wg_fence();
#pragma unroll
      for (int kc = 0; kc < BK / 16; kc++) wgmma_ss<BN>(acc, wg_desc_sw128(a + kc * 16), wg_desc_sw128(b + kc * 16));
      wg_commit();
      wg_wait<1>();
      if (kt > 0 && lane == 0) mbar_arrive(&empty[(it - 1) % STAGES]);
    }
    wg_wait<0>();
    wg_hold(acc);
    if (lane == 0) mbar_arrive(&empty[(it - 1) % STAGES]);
    // Hand the products over as bf16 (the rounding the unfused path applies before its op).
    float(*c)[4] = (float(*)[4])acc;
    named_bar_sync(2, HANDOFF);
#pragma unroll
    for (int nt = 0; nt < BN / 8; nt++) {
      const int col = nt * 8;
      *(unsigned*)(ob + ws_chunk(r0, col) + 2 * t) = pack_bf16x2(c[nt][0], c[nt][1]);
      *(unsigned*)(ob + ws_chunk(r0 + 8, col) + 2 * t) = pack_bf16x2(c[nt][2], c[nt][3]);
    }
    named_bar_arrive(1, HANDOFF);
  }
}

/// The kernels, linear_ws_{plain,swiglu,rope}_{192,256}: out [M, N] = x W^T; out [M, I] =
/// silu(g) u with [g | u] = x W^T, W [2I, K]; out [M, 3 H 64] = x W^T with RoPE (cos, sin
/// [T, 64] f32, 16-byte aligned; row r at position r % T) on the query and key heads. Tensor
/// maps of x [M, K] (boxes 64 x 128) and W [N or 2I, K] (boxes 64 x BN / 2); colTiles = N /
/// BN (SwiGLU: 2I / BN) column tiles by ceil(M / 128) row tiles, walked by at most one block
/// per SM; 384 threads; the stages, the output tile (128 x BN bf16), the stages' mbarriers and
/// 1 KB for alignment of dynamic shared memory.
#define LINEAR_WS_KERNELS(BN)                                                                                       \
  extern "C" __global__ void __launch_bounds__(384, 1)                                                             \
      linear_ws_plain_##BN(const __grid_constant__ TmaMap xmap, const __grid_constant__ TmaMap wmap, bf16_t* out,  \
                           int m, int n, int k, int colTiles) {                                                    \
    linear_ws_impl<LF_PLAIN, BN>(&xmap, &wmap, out, m, n, k, colTiles, nullptr, nullptr, 1, 0);                    \
  }                                                                                                                \
  extern "C" __global__ void __launch_bounds__(384, 1)                                                             \
      linear_ws_swiglu_##BN(const __grid_constant__ TmaMap xmap, const __grid_constant__ TmaMap wmap, bf16_t* out, \
                            int m, int inner, int k, int colTiles) {                                               \
    linear_ws_impl<LF_SWIGLU, BN>(&xmap, &wmap, out, m, inner, k, colTiles, nullptr, nullptr, 1, 0);               \
  }                                                                                                                \
  extern "C" __global__ void __launch_bounds__(384, 1)                                                             \
      linear_ws_rope_##BN(const __grid_constant__ TmaMap xmap, const __grid_constant__ TmaMap wmap, bf16_t* out,   \
                          int m, int n, int k, int colTiles, const float* cosT, const float* sinT, int seq,        \
                          int heads) {                                                                             \
    linear_ws_impl<LF_ROPE, BN>(&xmap, &wmap, out, m, n, k, colTiles, cosT, sinT, seq, heads);                     \
  }
LINEAR_WS_KERNELS(192)
LINEAR_WS_KERNELS(256)

#endif  // HRM_SM90A
