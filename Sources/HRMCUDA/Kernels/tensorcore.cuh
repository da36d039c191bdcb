// tensorcore.cuh: cp.async copies and Hopper warpgroup-MMA (wgmma) helpers shared by the
// tensor-core kernels (attention.cu, swiglu.cu). The wgmma part needs sm_90a (HRM_SM90A).
#pragma once
#include "common.cuh"

__device__ __forceinline__ unsigned int shared_address(const void* p) {
  unsigned int a;
  asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }\n" : "=r"(a) : "l"(p));
  return a;
}

/// 16-byte asynchronous global -> shared copy (cp.async, L2 only); !valid writes zeros.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(smem)), "l"(gmem),
               "r"(valid ? 16 : 0)
               : "memory");
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

/// Waits until at most N committed cp.async groups of this thread are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }

/// Writes a warp's 16 x DH f32 accumulator (C fragments per 8-column tile) times mul0 (row
/// r0) / mul1 (row r0 + 8).
template <int DH>
__device__ __forceinline__ void store_c_rows(void* dst, int dt, i64 base, i64 stride, const float (*acc)[4], int r0,
                                             int limit, int t, float mul0, float mul1) {
  const int r1 = r0 + 8;
#pragma unroll
  for (int dn = 0; dn < DH / 8; dn++) {
    const int c = dn * 8 + 2 * t;
    if (r0 < limit) {
      store_f(dst, dt, base + (i64)r0 * stride + c, acc[dn][0] * mul0);
      store_f(dst, dt, base + (i64)r0 * stride + c + 1, acc[dn][1] * mul0);
    }
    if (r1 < limit) {
      store_f(dst, dt, base + (i64)r1 * stride + c, acc[dn][2] * mul1);
      store_f(dst, dt, base + (i64)r1 * stride + c + 1, acc[dn][3] * mul1);
    }
  }
}

/// store_c_rows for 64 columns through 2 KB of shared memory owned by the calling warp: a
/// bf16 destination (16-byte aligned) gets whole 128-byte rows, four 16-byte stores per
/// thread, instead of 32 scattered 2-byte ones (which took ~15% of the T = 901 attention
/// forward, docs/perf-cuda.md run 45); other destinations go through store_c_rows. rowBase is the
/// warp's first row (this thread's rows are rowBase + g and rowBase + g + 8). In `stage`,
/// 16-byte chunk c of row r sits at r * 128 + 16 (c ^ (r & 7)), so neither the 4-byte writes
/// (8 rows x 4 threads) nor the 16-byte reads (one row per 8 lanes) meet a bank twice.
__device__ __forceinline__ void store_c_rows_staged(void* dst, int dt, i64 base, i64 stride, const float (*acc)[4],
                                                    int rowBase, int limit, int lane, float mul0, float mul1,
                                                    bf16_t* stage) {
  const int g = lane >> 2, t = lane & 3;
  bf16_t* out = (bf16_t*)dst + base;
  if (dt != DT_BF16 || ((reinterpret_cast<u64>(out) | (u64)stride * 2) & 15) != 0) {
    store_c_rows<64>(dst, dt, base, stride, acc, rowBase + g, limit, t, mul0, mul1);
    return;
  }
  unsigned int* w = (unsigned int*)stage;
  __syncwarp();
#pragma unroll
  for (int dn = 0; dn < 8; dn++) {   // rows g and g + 8 share the swizzle (g + 8) & 7 = g
    w[g * 32 + (dn ^ g) * 4 + t] = pack_bf16x2(acc[dn][0] * mul0, acc[dn][1] * mul0);
    w[(g + 8) * 32 + (dn ^ g) * 4 + t] = pack_bf16x2(acc[dn][2] * mul1, acc[dn][3] * mul1);
  }
  __syncwarp();
#pragma unroll
  for (int k = 0; k < 4; k++) {
    const int q = k * 32 + lane, r = q >> 3, c = q & 7;
    const uint4 v = *(const uint4*)(stage + r * 64 + (c ^ (r & 7)) * 8);
    if (rowBase + r < limit) *(uint4*)(out + (i64)(rowBase + r) * stride + c * 8) = v;
  }
  __syncwarp();   // the stage may be written again by the caller's next store
}

/// Operand lists of the wgmma wrappers: WG_D8(i) binds accumulators d[i] .. d[i + 7] (read
/// and written), WG_D32(i) thirty-two of them; WG_Ra_b is the text "%a, ..., %b" naming
/// operands a to b in the instruction string. A wrapper lists its accumulators first.
#define WG_D8(i) \
  "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), "+f"(d[i + 7])
#define WG_D32(i) WG_D8(i), WG_D8(i + 8), WG_D8(i + 16), WG_D8(i + 24)
#define WG_R0_15 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15"
#define WG_R16_31 "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define WG_R32_47 "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47"
#define WG_R48_63 "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
#define WG_R64_79 "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79"
#define WG_R80_95 "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95"
#define WG_R96_111 "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111"
#define WG_R112_127 "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"

#if defined(HRM_SM90A)

/// Shared-memory matrix descriptor, no swizzle: start address, LBO = byte distance between
/// core matrices adjacent along K, SBO = along M/N (all encoded >> 4; bits 62-63 = 0).
__device__ __forceinline__ u64 wg_desc(const void* smem, unsigned lbo, unsigned sbo) {
  const unsigned a = shared_address(smem);
  return (u64)((a & 0x3FFFFu) >> 4) | ((u64)(lbo >> 4) << 16) | ((u64)(sbo >> 4) << 32);
}

/// Shared-memory matrix descriptor, 128-byte swizzle: rows of 64 bf16 (128 bytes), 16-byte
/// chunk c of row r stored at chunk c ^ (r % 8) of that row, groups of 8 rows 1024 bytes
/// apart (SBO), tiles 1024-byte aligned (the hardware applies the XOR on address bits 4-6
/// from bits 7-9). K-major (rows along M/N): a k16 slice starts 32 bytes further per step and
/// LBO is unused (16). MN-major (rows along K, 64 M/N columns): a k16 slice starts 2048 bytes
/// further; LBO would be the distance to the next 64 columns, which a 64-wide operand never
/// needs (pass 1024, the K-group stride, so either reading of the two fields holds).
__device__ __forceinline__ u64 wg_desc_sw128(const void* smem, unsigned lbo = 16, unsigned sbo = 1024) {
  const unsigned a = shared_address(smem);
  return (u64)((a & 0x3FFFFu) >> 4) | ((u64)(lbo >> 4) << 16) | ((u64)(sbo >> 4) << 32) | ((u64)1 << 62);
}

/// `p` rounded up to a 1024-byte shared-memory boundary (for swizzled tiles; the host asks
/// for 1 KB more dynamic shared memory than the tiles need).
__device__ __forceinline__ unsigned char* align_1024(unsigned char* p) {
  return p + ((1024u - (shared_address(p) & 1023u)) & 1023u);
}

/// This thread's warpgroup within the block, read through a shuffle from lane 0 so ptxas
/// knows it is the same for the whole warp: wgmma under a condition derived from it is not
/// on a "divergent path" (which makes ptxas serialise every wgmma, C7520).
__device__ __forceinline__ int wg_index() { return __shfl_sync(0xffffffffu, (int)(threadIdx.x >> 7), 0); }

__device__ __forceinline__ void wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wg_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }

/// Makes the generic-proxy writes to shared memory (cp.async, st.shared) visible to wgmma.
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

/// Top of a wgmma tile loop: this thread's copies but the newest PENDING groups have landed,
/// are made visible to wgmma, and the block barrier makes everyone's visible (and says every
/// warpgroup is done with the previous iteration).
template <int PENDING>
__device__ __forceinline__ void wg_tile_ready() {
  cp_async_wait<PENDING>();
  fence_proxy_async();
  __syncthreads();
}

/// Ties accumulator registers to this point of the program, so the compiler neither reads
/// them before wgmma.wait_group nor writes them while a wgmma that uses them is in flight.
template <int N>
__device__ __forceinline__ void wg_hold(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; i++) asm volatile("" : "+f"(d[i])::"memory");
}

#endif  // HRM_SM90A
