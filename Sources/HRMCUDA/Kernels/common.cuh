// common.cuh: helpers shared by every HRM CUDA kernel file (compiled by NVRTC at run time).
//
// No CUDA headers are included: bf16 is handled as raw 16-bit patterns with the same
// round-to-nearest-even (NaN kept quiet) as HRMTensor's BF16 helpers, so the kernels compile
// without cuda_bf16.h. Element-type codes match CUDABackend: 0 f32, 1 bf16, 2 i32.
#pragma once

#define DT_F32 0
#define DT_BF16 1
#define DT_I32 2
#define IGNORE_LABEL (-100)

typedef unsigned short bf16_t;
typedef long long i64;
typedef unsigned long long u64;

__device__ __forceinline__ float bf16_to_f32(bf16_t h) {
  return __uint_as_float(((unsigned int)h) << 16);
}

__device__ __forceinline__ bf16_t f32_to_bf16(float f) {
  unsigned int u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16_t)((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (bf16_t)(u >> 16);
}

/// f rounded to bf16 and back: the value a bf16 tensor written with f would hold.
__device__ __forceinline__ float round_bf16(float f) { return bf16_to_f32(f32_to_bf16(f)); }

/// Element i of a tensor of type dt, as float (i32 converted).
__device__ __forceinline__ float load_f(const void* p, int dt, i64 i) {
  if (dt == DT_BF16) return bf16_to_f32(((const bf16_t*)p)[i]);
  if (dt == DT_I32) return (float)((const int*)p)[i];
  return ((const float*)p)[i];
}

/// Stores v into element i of a tensor of type dt (bf16 rounded, i32 truncated).
__device__ __forceinline__ void store_f(void* p, int dt, i64 i, float v) {
  if (dt == DT_BF16) ((bf16_t*)p)[i] = f32_to_bf16(v);
  else if (dt == DT_I32) ((int*)p)[i] = (int)v;
  else ((float*)p)[i] = v;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ double warp_sum_d(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

/// Sum over the block (blockDim.x a multiple of 32, 1-D blocks). scratch: 32 shared slots.
/// Every thread gets the total. Safe to call repeatedly with the same scratch.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warps = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float t = lane < warps ? scratch[lane] : 0.0f;
    t = warp_sum(t);
    if (lane == 0) scratch[0] = t;
  }
  __syncthreads();
  return scratch[0];
}

__device__ __forceinline__ double block_sum_d(double v, double* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warps = (blockDim.x + 31) >> 5;
  v = warp_sum_d(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    double t = lane < warps ? scratch[lane] : 0.0;
    t = warp_sum_d(t);
    if (lane == 0) scratch[0] = t;
  }
  __syncthreads();
  return scratch[0];
}

/// Index of the first thread of this launch and the stride of a grid-stride loop.
#define GRID_START ((i64)blockIdx.x * (i64)blockDim.x + (i64)threadIdx.x)
#define GRID_STRIDE ((i64)gridDim.x * (i64)blockDim.x)
#define GRID_LOOP(i, n) for (i64 i = GRID_START; i < (n); i += GRID_STRIDE)

/// Logistic sigmoid that never evaluates exp of a positive number.
__device__ __forceinline__ float sigmoid_f(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  const float e = expf(x);
  return e / (1.0f + e);
}

#define HRM_INF __int_as_float(0x7f800000)
#define HRM_NAN __int_as_float(0x7fc00000)

/// 16 bytes (8 bf16 or 4 f32) for vectorised global and shared memory access.
struct alignas(16) vec16 { unsigned int x, y, z, w; };

/// The 8 bf16 values of a vec16 as floats.
__device__ __forceinline__ void unpack_bf16x8(const vec16& v, float* f) {
  const unsigned int w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; i++) {
    f[2 * i] = bf16_to_f32((bf16_t)(w[i] & 0xffffu));
    f[2 * i + 1] = bf16_to_f32((bf16_t)(w[i] >> 16));
  }
}

/// Two floats -> one register of bf16 (lo in the low half), rounded to nearest even by one
/// instruction (the same values as f32_to_bf16; a NaN comes out as the canonical NaN).
__device__ __forceinline__ unsigned int pack_bf16x2(float lo, float hi) {
  unsigned int r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

/// 8 floats rounded to bf16 (pack_bf16x2) in a vec16. Four instructions instead of eight
/// software roundings: linear_fused.cu's epilogue warps, which must keep pace with the
/// tensor cores, took gate/up + SwiGLU to 0.542 ms and QKV + RoPE to 0.354 ms with the
/// software form (run 68) against 0.501 and 0.270 with this one (run 69).
__device__ __forceinline__ vec16 pack_bf16x8(const float* f) {
  vec16 v = {pack_bf16x2(f[0], f[1]), pack_bf16x2(f[2], f[3]), pack_bf16x2(f[4], f[5]), pack_bf16x2(f[6], f[7])};
  return v;
}

/// cos / sin table values for 8 RoPE pairs of one token: elements p..p+7 and p+half..p+half+7
/// of its table rows (ct / st: 16-byte aligned; p and half multiples of 8).
struct RopeTable8 { float c1[8], s1[8], c2[8], s2[8]; };

__device__ __forceinline__ RopeTable8 rope_table8(const float* ct, const float* st, int p, int half) {
  RopeTable8 r;
#pragma unroll
  for (int k = 0; k < 8; k += 4) {   // 16-byte loads
    *(float4*)&r.c1[k] = *(const float4*)(ct + p + k);
    *(float4*)&r.s1[k] = *(const float4*)(st + p + k);
    *(float4*)&r.c2[k] = *(const float4*)(ct + p + half + k);
    *(float4*)&r.s2[k] = *(const float4*)(st + p + half + k);
  }
  return r;
}

/// RoPE on 8 pairs (half-split convention): v1 holds elements p..p+7 of a head, v2 elements
/// p+half..p+half+7, rt the matching table values. Forward: o1 = x1 cos - x2 sin,
/// o2 = x2 cos + x1 sin; inverse (the transpose, the backward pass): o1 = x1 cos + x2 sin,
/// o2 = x2 cos - x1 sin. Shared by rope.cu and the attention kernels that rotate on load, so
/// both round identically.
__device__ __forceinline__ void rope_apply8(const vec16& v1, const vec16& v2, const RopeTable8& rt, bool inverse,
                                            vec16& r1, vec16& r2) {
  float x1[8], x2[8], o1[8], o2[8];
  unpack_bf16x8(v1, x1);
  unpack_bf16x8(v2, x2);
#pragma unroll
  for (int k = 0; k < 8; k++) {
    if (inverse) { o1[k] = x1[k] * rt.c1[k] + x2[k] * rt.s2[k]; o2[k] = x2[k] * rt.c2[k] - x1[k] * rt.s1[k]; }
    else { o1[k] = x1[k] * rt.c1[k] - x2[k] * rt.s1[k]; o2[k] = x2[k] * rt.c2[k] + x1[k] * rt.s2[k]; }
  }
  r1 = pack_bf16x8(o1);
  r2 = pack_bf16x8(o2);
}

/// 1 / (1 + e^-x) with ex2.approx and rcp.approx (x -> -inf gives 0, x -> +inf gives 1).
__device__ __forceinline__ float fast_sigmoid(float x) {
  float e, r;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(e) : "f"(x * -1.4426950408889634f));
  asm("rcp.approx.ftz.f32 %0, %1;\n" : "=f"(r) : "f"(1.0f + e));
  return r;
}

/// SwiGLU on 8 outputs: silu(g) * u from 8 gate and the 8 matching up values (bf16), rounded
/// to bf16. Shared by swiglu.cu and the fused gate/up projection (linear_fused.cu).
__device__ __forceinline__ vec16 swiglu_fwd8(const vec16& gv, const vec16& uv) {
  float g[8], u[8];
  unpack_bf16x8(gv, g);
  unpack_bf16x8(uv, u);
#pragma unroll
  for (int k = 0; k < 8; k++) g[k] = g[k] * fast_sigmoid(g[k]) * u[k];
  return pack_bf16x8(g);
}
