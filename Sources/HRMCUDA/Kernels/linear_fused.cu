// linear_fused.cu: y = x W^T (bf16 operands, f32 accumulation) on Hopper tensor cores
// (wgmma), with the element-wise op that follows the projection in the model applied to the
// accumulators, for forward passes that keep nothing for a gradient: SwiGLU after the gate/up
// projection (the [M, 2I] product never reaches memory) and RoPE on the query and key heads
// after the QKV projection. These round as the unfused path does: the product is rounded to
// bf16 before the element-wise op, which then matches swiglu.cu / rope.cu.
//
// One producer thread (warp 8 of warpgroup 2, which gives its registers to the others with
// setmaxnreg: 40 per thread there, 232 in the consumers) issues a TMA copy per operand tile
// into four 128-byte-swizzled stages (the layout wg_desc_sw128 reads) and two consumer
// warpgroups (warps 0-7) run the products; full / empty mbarriers replace the block
// barrier, so copies run four k-steps ahead and a warpgroup waits only for its own data. Tiles of 128 rows x 256 columns
// (m64n256k16 per warpgroup, 128 accumulators per thread); SwiGLU tiles cover 128 outputs
// (128 gate rows of W, then the 128 matching up rows), RoPE tiles four heads. Persistent:
// one block per SM walks tiles blockIdx.x, + gridDim.x, ... (column tiles fastest), so the
// producer fills the stages for the next tile while the consumers run this one's epilogue.
// Measured (docs/perf-cuda.md runs 53-61): an earlier version with cp.async copies by every
// thread and 128 x 128 tiles reached 175 TFLOP/s unswizzled and 460 swizzled; this one
// 561-613 (cuBLASLt 593-610 in the same calls), gate/up + SwiGLU 0.551-0.586 ms against
// 0.581-0.632 for cuBLASLt + swiglu.cu timed alone (runs 58, 59, 61) and -15 to -17 ms per
// (96, 900) evaluation batch in the model (run 59). The RoPE epilogue cost 0.2 ms while it spilled and loaded its table
// entries one after another (run 58); loading all of them at once with the consumers' larger
// register budget, QKV + RoPE takes 0.355 ms against 0.335 for cuBLASLt + rope.cu (run 61),
// so the model uses it only on request (HRM_CUDA_FUSED_ROPE=1).
// Needs K % 64 == 0, 16-byte aligned rows, N % 256 == 0 (SwiGLU: I % 128 == 0).
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
  asm volatile(
      "{\n"
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
      "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
      "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
      "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
      "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, "
      "%128, %129, 1, 1, 1, 0, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
        "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
        "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
        "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
        "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
        "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
        "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
        "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
        "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
      : "l"(adesc), "l"(bdesc)
      : "memory");
}

/// A consumer warp's share of a TMA tile's epilogue: its 16 rows (from rowBase) x 256
/// columns of products in C fragments (acc[nt * 4 + e]: columns 8 nt + 2 t + (e & 1), rows
/// g (e < 2) and g + 8), the element-wise op applied, stored through the warp's 2 KB stage.
template <int EPI>
__device__ __forceinline__ void linear_tma_epilogue(float (&acc)[128], bf16_t* __restrict__ out, int m, int n,
                                                    int rowBase, int c0, int lane, bf16_t* stage,
                                                    const float* __restrict__ cosT, const float* __restrict__ sinT,
                                                    int seq, int heads) {
  float(*c)[4] = (float(*)[4])acc;
  if constexpr (EPI == LF_SWIGLU) {
    // Gate columns 0..127 (c[0..15]), up columns 128..255 (c[16..31]); h in the gate slots.
#pragma unroll
    for (int nt = 0; nt < 16; nt++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const float g = round_bf16(c[nt][e]), u = round_bf16(c[nt + 16][e]);
        c[nt][e] = g * fast_sigmoid(g) * u;
      }
    store_c_rows_staged(out, DT_BF16, c0, n, c, rowBase, m, lane, 1.0f, 1.0f, stage);
    store_c_rows_staged(out, DT_BF16, c0 + 64, n, c + 8, rowBase, m, lane, 1.0f, 1.0f, stage);
  } else if constexpr (EPI == LF_ROPE) {
    // Four heads of 64 columns; query and key head slots (< 2H) rotate: element d < 32 pairs
    // with d + 32 (column tiles nt and nt + 4 of the same thread). The table entries a thread
    // needs are the same for the four heads.
    const int t = lane & 3, g = lane >> 2;
    const int p0 = (rowBase + g) % seq, p1 = (rowBase + g + 8) % seq;
    const int rotating = min(4, max(0, 2 * heads - c0 / 64));   // heads of this tile that rotate
    // Every table entry first (64 registers, independent loads in flight together).
    float2 cl[4][2], ch[4][2], sl[4][2], sh[4][2];
#pragma unroll
    for (int nt = 0; nt < 4; nt++)
#pragma unroll
      for (int half = 0; half < 2; half++) {
        const i64 p = (i64)(half ? p1 : p0) * 64 + nt * 8 + 2 * t;
        cl[nt][half] = *(const float2*)(cosT + p);
        ch[nt][half] = *(const float2*)(cosT + p + 32);
        sl[nt][half] = *(const float2*)(sinT + p);
        sh[nt][half] = *(const float2*)(sinT + p + 32);
      }
#pragma unroll
    for (int hh = 0; hh < 4; hh++) {
      if (hh >= rotating) break;
#pragma unroll
      for (int nt = 0; nt < 4; nt++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          const int half = e >> 1, j = e & 1;
          const float c1 = j ? cl[nt][half].y : cl[nt][half].x, c2 = j ? ch[nt][half].y : ch[nt][half].x;
          const float s1 = j ? sl[nt][half].y : sl[nt][half].x, s2 = j ? sh[nt][half].y : sh[nt][half].x;
          const float x1 = round_bf16(c[hh * 8 + nt][e]), x2 = round_bf16(c[hh * 8 + nt + 4][e]);
          c[hh * 8 + nt][e] = x1 * c1 - x2 * s1;
          c[hh * 8 + nt + 4][e] = x2 * c2 + x1 * s2;
        }
    }
#pragma unroll
    for (int hh = 0; hh < 4; hh++)
      store_c_rows_staged(out, DT_BF16, c0 + 64 * hh, n, c + 8 * hh, rowBase, m, lane, 1.0f, 1.0f, stage);
  } else {
#pragma unroll
    for (int q = 0; q < 4; q++)
      store_c_rows_staged(out, DT_BF16, c0 + 64 * q, n, c + 8 * q, rowBase, m, lane, 1.0f, 1.0f, stage);
  }
}

template <int EPI>
__device__ __forceinline__ void linear_tma_impl(const TmaMap* xmap, const TmaMap* wmap, bf16_t* __restrict__ out, int m,
                                                int n, int k, int colTiles, const float* __restrict__ cosT,
                                                const float* __restrict__ sinT, int seq, int heads) {
  constexpr int BM = 128, BN = 256, BK = 64, STAGES = 4;
  constexpr int ATILE = BM * BK, STAGE = (BM + BN) * BK;   // bf16 elements
  extern __shared__ __align__(128) unsigned char lt_smem[];
  bf16_t* sm = (bf16_t*)align_1024(lt_smem);
  bf16_t* staging = sm + STAGES * STAGE;                   // 2 KB per consumer warp
  u64* full = (u64*)(staging + 8 * 1024);
  u64* empty = full + STAGES;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  constexpr int COLS = EPI == LF_SWIGLU ? BN / 2 : BN;   // output columns per tile
  const int ktiles = k / BK, tiles = colTiles * ((m + BM - 1) / BM);
  if (threadIdx.x == 0) {
#pragma unroll
    for (int s = 0; s < STAGES; s++) {
      mbar_init(&full[s], 1);    // the producer's arrival (+ the copies' bytes)
      mbar_init(&empty[s], 8);   // one arrival per consumer warp
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();   // the only block-wide barrier: the producer leaves after its loop

  // Stage use `it` counts k-steps over all of this block's tiles: stage it % STAGES, phase
  // (it / STAGES) & 1 of its barriers.
  if (warp >= 8) {   // the producer warpgroup: one thread issues the copies
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
    if (warp == 8 && lane == 0) {
      int it = 0;
      for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const int m0 = (tile / colTiles) * BM, c0 = (tile % colTiles) * COLS;
        for (int kt = 0; kt < ktiles; kt++, it++) {
          const int s = it % STAGES;
          if (it >= STAGES) mbar_wait(&empty[s], ((it / STAGES) - 1) & 1);   // its last use is done
          mbar_arrive_expect_tx(&full[s], STAGE * 2);
          bf16_t* a = sm + s * STAGE;
          tma_load_2d(a, xmap, kt * BK, m0, &full[s]);
          tma_load_2d(a + ATILE, wmap, kt * BK, c0, &full[s]);
          tma_load_2d(a + ATILE + 128 * BK, wmap, kt * BK, EPI == LF_SWIGLU ? n + c0 : c0 + 128, &full[s]);
        }
      }
    }
    return;
  }

  asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
  const int wg = wg_index();   // 0 or 1: rows 64 wg .. of the tile
  bf16_t* stage = staging + warp * 1024;
  int it = 0;
  for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int m0 = (tile / colTiles) * BM, c0 = (tile % colTiles) * COLS;
    float acc[128];
#pragma unroll
    for (int i = 0; i < 128; i++) acc[i] = 0.0f;
    for (int kt = 0; kt < ktiles; kt++, it++) {
      const int s = it % STAGES;
      mbar_wait(&full[s], (it / STAGES) & 1);
      const bf16_t* a = sm + s * STAGE + wg * (64 * BK);
      const bf16_t* b = sm + s * STAGE + ATILE;
      wg_fence();
#pragma unroll
      for (int kc = 0; kc < BK / 16; kc++)
        wgmma_m64n256k16_ss(acc, wg_desc_sw128(a + kc * 16), wg_desc_sw128(b + kc * 16));
      wg_commit();
      wg_wait<1>();   // the previous k-step's products are done: its stage may be refilled
      if (kt > 0 && lane == 0) mbar_arrive(&empty[(it - 1) % STAGES]);
    }
    wg_wait<0>();
    wg_hold(acc);
    if (lane == 0) mbar_arrive(&empty[(it - 1) % STAGES]);   // the tile's last stage
    linear_tma_epilogue<EPI>(acc, out, m, n, m0 + wg * 64 + (warp & 3) * 16, c0, lane, stage, cosT, sinT, seq, heads);
  }
}

/// The kernels: out [M, N] = x W^T; out [M, I] = silu(g) u with [g | u] = x W^T, W [2I, K];
/// out [M, 3 H 64] = x W^T with RoPE (cos, sin [T, 64]; row r at position r % T) on the query
/// and key heads. Tensor maps of x [M, K] (boxes 64 x 128) and W [N or 2I, K] (boxes 64 x
/// 128); colTiles = N / 256 (SwiGLU: I / 128) column tiles
/// by ceil(M / 128) row tiles, walked by at most one block per SM; 384 threads; 4 x 48 KB
/// stages + 16 KB staging + barriers + 1 KB alignment.
extern "C" __global__ void __launch_bounds__(384, 1) linear_tma_plain(const __grid_constant__ TmaMap xmap,
                                                                      const __grid_constant__ TmaMap wmap, bf16_t* out,
                                                                      int m, int n, int k, int colTiles) {
  linear_tma_impl<LF_PLAIN>(&xmap, &wmap, out, m, n, k, colTiles, nullptr, nullptr, 1, 0);
}
extern "C" __global__ void __launch_bounds__(384, 1) linear_tma_swiglu(const __grid_constant__ TmaMap xmap,
                                                                       const __grid_constant__ TmaMap wmap, bf16_t* out,
                                                                       int m, int inner, int k, int colTiles) {
  linear_tma_impl<LF_SWIGLU>(&xmap, &wmap, out, m, inner, k, colTiles, nullptr, nullptr, 1, 0);
}
extern "C" __global__ void __launch_bounds__(384, 1) linear_tma_rope(const __grid_constant__ TmaMap xmap,
                                                                     const __grid_constant__ TmaMap wmap, bf16_t* out,
                                                                     int m, int n, int k, int colTiles,
                                                                     const float* cosT, const float* sinT, int seq,
                                                                     int heads) {
  linear_tma_impl<LF_ROPE>(&xmap, &wmap, out, m, n, k, colTiles, cosT, sinT, seq, heads);
}

#endif  // HRM_SM90A
