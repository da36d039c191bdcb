// attention.cu: fused non-causal multi-head attention, forward and backward (FlashAttention
// style: online softmax, no T x T score matrix in global memory, log-sum-exp saved).
//
// Layouts: qkv [B, T, 3H, Dh] (query heads, key heads, value heads), out [B, T, H, Dh],
// lse [B, H, T] f32 = log sum_j exp(scale * q . k_j). All arithmetic in f32; inputs and
// outputs f32 or bf16 (dtype codes). Head dims 64 and 32 are instantiated.
//
// This is the simple, correct version: one thread owns one query (forward, dQ) or one key
// (dK/dV) row, K/V or Q/dO tiles are staged through shared memory as f32. A tensor-core
// (mma.sync bf16) version is the planned next step.
#include "common.cuh"

#define ATT_THREADS 64   // rows per block (one per thread)
#define ATT_BK 32        // keys per shared tile (forward, dQ)
#define ATT_BQ 16        // queries per shared tile (dK/dV)

template <int DH>
__device__ __forceinline__ void attention_forward_impl(const void* qkv, int dt, void* out, int odt, float* lse,
                                                       int seq, int heads, float scale) {
  __shared__ float ks[ATT_BK][DH];
  __shared__ float vs[ATT_BK][DH];
  const int bh = blockIdx.y;
  const int b = bh / heads, h = bh - b * heads;
  const int qi = blockIdx.x * ATT_THREADS + threadIdx.x;
  const bool active = qi < seq;
  const i64 rowStride = 3LL * heads * DH;

  float q[DH], o[DH];
  {
    const i64 qbase = ((i64)b * seq + (active ? qi : 0)) * rowStride + (i64)h * DH;
#pragma unroll
    for (int d = 0; d < DH; d++) {
      q[d] = active ? scale * load_f(qkv, dt, qbase + d) : 0.0f;
      o[d] = 0.0f;
    }
  }
  float m = -HRM_INF, l = 0.0f;

  for (int k0 = 0; k0 < seq; k0 += ATT_BK) {
    __syncthreads();
    for (int e = threadIdx.x; e < ATT_BK * DH; e += ATT_THREADS) {
      const int j = e / DH, d = e - (e / DH) * DH;
      const int kj = k0 + j;
      float kv = 0.0f, vv = 0.0f;
      if (kj < seq) {
        const i64 base = ((i64)b * seq + kj) * rowStride;
        kv = load_f(qkv, dt, base + (i64)(heads + h) * DH + d);
        vv = load_f(qkv, dt, base + (i64)(2 * heads + h) * DH + d);
      }
      ks[j][d] = kv;
      vs[j][d] = vv;
    }
    __syncthreads();
    if (active) {
      const int nk = min(ATT_BK, seq - k0);
      float s[ATT_BK];
      float mt = m;
#pragma unroll
      for (int j = 0; j < ATT_BK; j++) {
        float acc = 0.0f;
#pragma unroll
        for (int d = 0; d < DH; d++) acc += q[d] * ks[j][d];
        s[j] = j < nk ? acc : -HRM_INF;
        mt = fmaxf(mt, s[j]);
      }
      const float corr = expf(m - mt);
      l *= corr;
#pragma unroll
      for (int d = 0; d < DH; d++) o[d] *= corr;
#pragma unroll
      for (int j = 0; j < ATT_BK; j++) {
        const float p = expf(s[j] - mt);
        l += p;
#pragma unroll
        for (int d = 0; d < DH; d++) o[d] += p * vs[j][d];
      }
      m = mt;
    }
  }
  if (active) {
    const float inv = 1.0f / l;
    const i64 obase = (((i64)b * seq + qi) * heads + h) * DH;
#pragma unroll
    for (int d = 0; d < DH; d++) store_f(out, odt, obase + d, o[d] * inv);
    lse[((i64)b * heads + h) * seq + qi] = m + logf(l);
  }
}

extern "C" __global__ void __launch_bounds__(ATT_THREADS) attention_forward_64(
    const void* qkv, int dt, void* out, int odt, float* lse, int seq, int heads, float scale) {
  attention_forward_impl<64>(qkv, dt, out, odt, lse, seq, heads, scale);
}

extern "C" __global__ void __launch_bounds__(ATT_THREADS) attention_forward_32(
    const void* qkv, int dt, void* out, int odt, float* lse, int seq, int heads, float scale) {
  attention_forward_impl<32>(qkv, dt, out, odt, lse, seq, heads, scale);
}

/// delta [B, H, T] = sum_d gradOut * out (the softmax-backward row term). One warp per row.
extern "C" __global__ void attention_backward_delta(const void* out, int odt, const void* gout, int gdt,
                                                    float* delta, int batch, int seq, int heads, int headDim) {
  const i64 rows = (i64)batch * seq * heads;
  const i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  const i64 warps = ((i64)gridDim.x * blockDim.x) >> 5;
  for (i64 r = warp; r < rows; r += warps) {
    // r = (b * seq + t) * heads + h
    const i64 base = r * headDim;
    float acc = 0.0f;
    for (int d = lane; d < headDim; d += 32) acc += load_f(out, odt, base + d) * load_f(gout, gdt, base + d);
    acc = warp_sum(acc);
    if (lane == 0) {
      const int h = (int)(r % heads);
      const i64 bt = r / heads;
      const int t = (int)(bt % seq);
      const i64 b = bt / seq;
      delta[(b * heads + h) * seq + t] = acc;
    }
  }
}

/// dK and dV: one thread per key row; Q and dO tiles stream through shared memory.
template <int DH>
__device__ __forceinline__ void attention_backward_kv_impl(const void* qkv, int dt, const float* lse,
                                                           const float* delta, const void* gout, int gdt,
                                                           void* gqkv, int gqdt, int seq, int heads, float scale) {
  __shared__ float ksh[ATT_THREADS][DH + 1];
  __shared__ float vsh[ATT_THREADS][DH + 1];
  __shared__ float qs[ATT_BQ][DH];
  __shared__ float dos[ATT_BQ][DH];
  __shared__ float lses[ATT_BQ];
  __shared__ float dels[ATT_BQ];
  const int bh = blockIdx.y;
  const int b = bh / heads, h = bh - b * heads;
  const int j0 = blockIdx.x * ATT_THREADS;
  const int kj = j0 + threadIdx.x;
  const bool active = kj < seq;
  const i64 rowStride = 3LL * heads * DH;
  const i64 outStride = (i64)heads * DH;

  for (int e = threadIdx.x; e < ATT_THREADS * DH; e += ATT_THREADS) {
    const int j = e / DH, d = e - (e / DH) * DH;
    float kv = 0.0f, vv = 0.0f;
    if (j0 + j < seq) {
      const i64 base = ((i64)b * seq + j0 + j) * rowStride;
      kv = load_f(qkv, dt, base + (i64)(heads + h) * DH + d);
      vv = load_f(qkv, dt, base + (i64)(2 * heads + h) * DH + d);
    }
    ksh[j][d] = kv;
    vsh[j][d] = vv;
  }

  float dk[DH], dv[DH];
#pragma unroll
  for (int d = 0; d < DH; d++) { dk[d] = 0.0f; dv[d] = 0.0f; }

  for (int q0 = 0; q0 < seq; q0 += ATT_BQ) {
    __syncthreads();
    for (int e = threadIdx.x; e < ATT_BQ * DH; e += ATT_THREADS) {
      const int i = e / DH, d = e - (e / DH) * DH;
      const int qi = q0 + i;
      float qv = 0.0f, gv = 0.0f;
      if (qi < seq) {
        qv = scale * load_f(qkv, dt, ((i64)b * seq + qi) * rowStride + (i64)h * DH + d);
        gv = load_f(gout, gdt, ((i64)b * seq + qi) * outStride + (i64)h * DH + d);
      }
      qs[i][d] = qv;
      dos[i][d] = gv;
    }
    if (threadIdx.x < ATT_BQ) {
      const int qi = q0 + threadIdx.x;
      const i64 li = ((i64)b * heads + h) * seq + qi;
      lses[threadIdx.x] = qi < seq ? lse[li] : HRM_INF;
      dels[threadIdx.x] = qi < seq ? delta[li] : 0.0f;
    }
    __syncthreads();
    if (active) {
      const int nq = min(ATT_BQ, seq - q0);
#pragma unroll 1
      for (int i = 0; i < nq; i++) {
        float s = 0.0f, dp = 0.0f;
#pragma unroll
        for (int d = 0; d < DH; d++) {
          s += qs[i][d] * ksh[threadIdx.x][d];
          dp += dos[i][d] * vsh[threadIdx.x][d];
        }
        const float p = expf(s - lses[i]);
        const float ds = p * (dp - dels[i]);
#pragma unroll
        for (int d = 0; d < DH; d++) {
          dv[d] += p * dos[i][d];
          dk[d] += ds * qs[i][d];
        }
      }
    }
  }
  if (active) {
    const i64 base = ((i64)b * seq + kj) * rowStride;
#pragma unroll
    for (int d = 0; d < DH; d++) {
      store_f(gqkv, gqdt, base + (i64)(heads + h) * DH + d, dk[d]);
      store_f(gqkv, gqdt, base + (i64)(2 * heads + h) * DH + d, dv[d]);
    }
  }
}

extern "C" __global__ void __launch_bounds__(ATT_THREADS) attention_backward_kv_64(
    const void* qkv, int dt, const float* lse, const float* delta, const void* gout, int gdt,
    void* gqkv, int gqdt, int seq, int heads, float scale) {
  attention_backward_kv_impl<64>(qkv, dt, lse, delta, gout, gdt, gqkv, gqdt, seq, heads, scale);
}

extern "C" __global__ void __launch_bounds__(ATT_THREADS) attention_backward_kv_32(
    const void* qkv, int dt, const float* lse, const float* delta, const void* gout, int gdt,
    void* gqkv, int gqdt, int seq, int heads, float scale) {
  attention_backward_kv_impl<32>(qkv, dt, lse, delta, gout, gdt, gqkv, gqdt, seq, heads, scale);
}

/// dQ: one thread per query row; K and V tiles stream through shared memory.
template <int DH>
__device__ __forceinline__ void attention_backward_q_impl(const void* qkv, int dt, const float* lse,
                                                          const float* delta, const void* gout, int gdt,
                                                          void* gqkv, int gqdt, int seq, int heads, float scale) {
  __shared__ float dosh[ATT_THREADS][DH + 1];
  __shared__ float ks[ATT_BK][DH];
  __shared__ float vs[ATT_BK][DH];
  const int bh = blockIdx.y;
  const int b = bh / heads, h = bh - b * heads;
  const int i0 = blockIdx.x * ATT_THREADS;
  const int qi = i0 + threadIdx.x;
  const bool active = qi < seq;
  const i64 rowStride = 3LL * heads * DH;
  const i64 outStride = (i64)heads * DH;

  for (int e = threadIdx.x; e < ATT_THREADS * DH; e += ATT_THREADS) {
    const int i = e / DH, d = e - (e / DH) * DH;
    dosh[i][d] = (i0 + i < seq) ? load_f(gout, gdt, ((i64)b * seq + i0 + i) * outStride + (i64)h * DH + d) : 0.0f;
  }
  float q[DH], dq[DH];
  {
    const i64 qbase = ((i64)b * seq + (active ? qi : 0)) * rowStride + (i64)h * DH;
#pragma unroll
    for (int d = 0; d < DH; d++) {
      q[d] = active ? scale * load_f(qkv, dt, qbase + d) : 0.0f;
      dq[d] = 0.0f;
    }
  }
  const i64 li = ((i64)b * heads + h) * seq + (active ? qi : 0);
  const float myLse = lse[li];
  const float myDelta = delta[li];

  for (int k0 = 0; k0 < seq; k0 += ATT_BK) {
    __syncthreads();
    for (int e = threadIdx.x; e < ATT_BK * DH; e += ATT_THREADS) {
      const int j = e / DH, d = e - (e / DH) * DH;
      const int kj = k0 + j;
      float kv = 0.0f, vv = 0.0f;
      if (kj < seq) {
        const i64 base = ((i64)b * seq + kj) * rowStride;
        kv = load_f(qkv, dt, base + (i64)(heads + h) * DH + d);
        vv = load_f(qkv, dt, base + (i64)(2 * heads + h) * DH + d);
      }
      ks[j][d] = kv;
      vs[j][d] = vv;
    }
    __syncthreads();
    if (active) {
      const int nk = min(ATT_BK, seq - k0);
#pragma unroll 1
      for (int j = 0; j < nk; j++) {
        float s = 0.0f, dp = 0.0f;
#pragma unroll
        for (int d = 0; d < DH; d++) {
          s += q[d] * ks[j][d];
          dp += dosh[threadIdx.x][d] * vs[j][d];
        }
        const float p = expf(s - myLse);
        const float ds = p * (dp - myDelta);
#pragma unroll
        for (int d = 0; d < DH; d++) dq[d] += ds * ks[j][d];
      }
    }
  }
  if (active) {
    const i64 base = ((i64)b * seq + qi) * rowStride + (i64)h * DH;
#pragma unroll
    for (int d = 0; d < DH; d++) store_f(gqkv, gqdt, base + d, dq[d] * scale);
  }
}

extern "C" __global__ void __launch_bounds__(ATT_THREADS) attention_backward_q_64(
    const void* qkv, int dt, const float* lse, const float* delta, const void* gout, int gdt,
    void* gqkv, int gqdt, int seq, int heads, float scale) {
  attention_backward_q_impl<64>(qkv, dt, lse, delta, gout, gdt, gqkv, gqdt, seq, heads, scale);
}

extern "C" __global__ void __launch_bounds__(ATT_THREADS) attention_backward_q_32(
    const void* qkv, int dt, const float* lse, const float* delta, const void* gout, int gdt,
    void* gqkv, int gqdt, int seq, int heads, float scale) {
  attention_backward_q_impl<32>(qkv, dt, lse, delta, gout, gdt, gqkv, gqdt, seq, heads, scale);
}
