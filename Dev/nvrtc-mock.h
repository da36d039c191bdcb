// nvrtc-mock.h: just enough of NVRTC's built-in environment (attributes, builtin variables,
// intrinsics and math declarations) for clang to syntax-check the HRM kernels without a
// CUDA toolkit. Used by Dev/check-kernels.sh only; never compiled into the binary.
#pragma once
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __host__ __attribute__((host))
#define __shared__ __attribute__((shared))
#define __constant__ __attribute__((constant))
#define __forceinline__ __inline__ __attribute__((always_inline))
#define __launch_bounds__(...) __attribute__((launch_bounds(__VA_ARGS__)))
#define __align__(n) __attribute__((aligned(n)))
#define __grid_constant__
#include "__clang_cuda_builtin_vars.h"

struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct float2 { float x, y; };
struct __attribute__((aligned(16))) uint4 { unsigned int x, y, z, w; };
struct uint2 { unsigned int x, y; };
__device__ uint4 make_uint4(unsigned int, unsigned int, unsigned int, unsigned int);
__device__ void __syncwarp(unsigned int = 0xffffffffu);
__device__ int __shfl_sync(unsigned int, int, int, int = 32);
__device__ float __shfl_sync(unsigned int, float, int, int = 32);

__device__ float __int_as_float(int);
__device__ int __float_as_int(float);
__device__ unsigned int __float_as_uint(float);
__device__ float __uint_as_float(unsigned int);
__device__ float __shfl_xor_sync(unsigned int, float, int, int = 32);
__device__ int __shfl_xor_sync(unsigned int, int, int, int = 32);
__device__ double __shfl_xor_sync(unsigned int, double, int, int = 32);
__device__ void __syncthreads();
__device__ int __syncthreads_or(int);
__device__ float expf(float);
__device__ float logf(float);
__device__ float sqrtf(float);
__device__ float fmaxf(float, float);
__device__ float fabsf(float);
__device__ float log1pf(float);
__device__ float atan2f(float, float);
__device__ double log(double);
__device__ double exp(double);
__device__ double fmax(double, double);
__device__ int min(int, int);
__device__ int max(int, int);
__device__ float atomicAdd(float*, float);
__device__ int atomicAdd(int*, int);
__device__ unsigned int atomicCAS(unsigned int*, unsigned int, unsigned int);
