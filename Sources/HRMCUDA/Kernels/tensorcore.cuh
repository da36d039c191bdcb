// tensorcore.cuh: cp.async copies and Hopper warpgroup-MMA (wgmma) helpers shared by the
// tensor-core kernels (attention.cu, swiglu.cu). The wgmma part needs sm_90a (HRM_SM90A).
#pragma once
#include "common.cuh"

/// Two floats -> one register of bf16 (lo in the low half), round to nearest even.
__device__ __forceinline__ unsigned int pack_bf16x2(float lo, float hi) {
  unsigned int r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

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

#if defined(HRM_SM90A)

/// Shared-memory matrix descriptor, no swizzle: start address, LBO = byte distance between
/// core matrices adjacent along K, SBO = along M/N (all encoded >> 4; bits 62-63 = 0).
__device__ __forceinline__ u64 wg_desc(const void* smem, unsigned lbo, unsigned sbo) {
  const unsigned a = shared_address(smem);
  return (u64)((a & 0x3FFFFu) >> 4) | ((u64)(lbo >> 4) << 16) | ((u64)(sbo >> 4) << 32);
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
