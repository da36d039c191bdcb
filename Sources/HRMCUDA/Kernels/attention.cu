// attention.cu: fused non-causal multi-head attention, forward and backward (FlashAttention
// style: online softmax, no T x T score matrix in global memory, log-sum-exp saved).
//
// Layouts: qkv [B, T, 3H, Dh] (query heads, key heads, value heads), out [B, T, H, Dh],
// lse [B, H, T] f32 = log sum_j exp(scale * q . k_j). Scores, softmax and sums in f32; inputs and
// outputs f32 or bf16 (dtype codes). Head dims 64 and 32 are instantiated.
//
// Two implementations. The first (f32 math on CUDA cores) serves f32 tensors and is exact to
// f32 rounding: one thread owns one query (forward, dQ) or one key (dK/dV) row, and K/V or
// Q/dO tiles are staged through shared memory as f32. The second (further down) uses the
// tensor cores for bf16 tensors.
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

// ===========================================================================================
// Tensor-core path for bf16 inputs: mma.sync m16n8k16 (bf16 x bf16 -> f32), FlashAttention-2
// structure. A block is WARPS warps (4, or 8 for short sequences so one block covers a whole
// head); each warp owns 16 rows (queries in the forward and dQ kernels, keys in the dK/dV
// kernel) whose operands stay in registers, while 64-row tiles of the other side stream
// through shared memory, row-major with rows padded by 8 bf16 (conflict-free fragment loads).
// Operands needed along the other axis come out of the same tiles through ldmatrix.trans.
// Scores, softmax statistics and accumulators are f32; P and dS are rounded to bf16 for the
// second product (as FA2 does). Warps whose 16 rows are all padding skip the arithmetic, and
// 8-row slices of a tile that hold only padding are skipped. Needs 16-byte aligned qkv (and
// gradOut) rows: the Swift side checks and otherwise uses the kernels above.
// ===========================================================================================

#define TC_TILE 64   // rows per shared-memory tile
#define TC_PAD 8     // bf16 padding per shared row

/// c[0..3] += A (16x16, 4 regs of bf16 pairs) * B (16x8, 2 regs), f32 accumulation.
__device__ __forceinline__ void mma_16816(float* c, const unsigned int* a, unsigned int b0, unsigned int b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/// Two floats -> one register of bf16 (lo in the low half), round to nearest even.
__device__ __forceinline__ unsigned int pack_bf16x2(float lo, float hi) {
  unsigned int r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

__device__ __forceinline__ unsigned int ld_pair(const bf16_t* p) { return *(const unsigned int*)p; }

#define TC_LOG2E 1.4426950408889634f
#define TC_LN2 0.6931471805599453f

/// 2^x through the special-function unit (ex2.approx.ftz: relative error ~2^-22, 2^-inf = 0).
/// The softmax exponents are kept in the log2 domain (scores pre-multiplied by log2(e)), so
/// one MUFU instruction replaces expf's range reduction.
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ unsigned int shared_address(const void* p) {
  unsigned int a;
  asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }\n" : "=r"(a) : "l"(p));
  return a;
}

/// B fragments with k along the rows of a row-major [k][n] shared tile (leading dimension
/// ld): rows k0..k0+15, columns n0..n0+15, via ldmatrix.trans. b[0], b[1] feed the mma for
/// columns n0..n0+7, b[2], b[3] the one for n0+8..n0+15.
__device__ __forceinline__ void ldmatrix_b_trans(unsigned int* b, const bf16_t* tile, int ld, int k0, int n0, int lane) {
  const int m = lane >> 3, r = lane & 7;
  const bf16_t* p = tile + (k0 + r + ((m & 1) ? 8 : 0)) * ld + n0 + ((m & 2) ? 8 : 0);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(b[0]), "=r"(b[1]), "=r"(b[2]), "=r"(b[3])
               : "r"(shared_address(p))
               : "memory");
}

/// B fragments with k along the columns of a row-major [n][k] shared tile (leading dimension
/// ld), i.e. the tile holds B transposed (K rows for S = Q K^T): rows n0..n0+7, columns
/// k0..k0+31, one ldmatrix.x4 instead of four 32-bit loads per mma pair. b[0], b[1] feed the
/// mma for k0..k0+15, b[2], b[3] the one for k0+16..k0+31.
__device__ __forceinline__ void ldmatrix_b(unsigned int* b, const bf16_t* tile, int ld, int n0, int k0, int lane) {
  const bf16_t* p = tile + (n0 + (lane & 7)) * ld + k0 + (lane >> 3) * 8;
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(b[0]), "=r"(b[1]), "=r"(b[2]), "=r"(b[3])
               : "r"(shared_address(p))
               : "memory");
}

/// Loads 16 rows (r0 = row of lane group g, r1 = r0 + 8) x DH columns of a row-major bf16
/// matrix as mma A fragments: frag[kc] covers columns kc*16 .. kc*16+15. Rows >= limit read 0.
template <int DH>
__device__ __forceinline__ void load_a_rows(unsigned int (*frag)[4], const bf16_t* base, i64 stride, int r0, int limit,
                                            int t) {
  const int r1 = r0 + 8;
#pragma unroll
  for (int kc = 0; kc < DH / 16; kc++) {
    const int c = kc * 16 + 2 * t;
    frag[kc][0] = r0 < limit ? ld_pair(base + (i64)r0 * stride + c) : 0u;
    frag[kc][1] = r1 < limit ? ld_pair(base + (i64)r1 * stride + c) : 0u;
    frag[kc][2] = r0 < limit ? ld_pair(base + (i64)r0 * stride + c + 8) : 0u;
    frag[kc][3] = r1 < limit ? ld_pair(base + (i64)r1 * stride + c + 8) : 0u;
  }
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

/// Starts copying a TC_TILE x DH bf16 tile (rows row0.. of a row-major matrix with `stride`;
/// rows >= limit become zero) into shared memory with cp.async (the caller commits and waits).
template <int DH>
__device__ __forceinline__ void load_tile_async(bf16_t (*tile)[DH + TC_PAD], const bf16_t* base, i64 stride, int row0,
                                                int limit) {
  for (int e = threadIdx.x; e < TC_TILE * (DH / 8); e += blockDim.x) {
    const int j = e / (DH / 8), c8 = (e - j * (DH / 8)) * 8;
    const int row = row0 + j;
    const bool valid = row < limit;
    cp_async16(&tile[j][c8], base + (i64)(valid ? row : 0) * stride + c8, valid);
  }
}

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

/// Forward: O = softmax(scale Q K^T) V per head, online softmax over 64-key tiles; the next
/// K/V tile is copied (cp.async) while the current one is used. Each warp owns RG groups of
/// 16 query rows (RG = 2: 32 rows, as FA2 does): every K or V fragment read from shared
/// memory then feeds RG mma instructions, halving the shared-memory traffic per product.
/// Scores and the running maximum are kept in the log2 domain (exp2 through the SFU).
template <int DH, int WARPS, int RG>
__device__ __forceinline__ void attention_forward_tc_impl(const bf16_t* __restrict__ qkv, void* out, int odt,
                                                          float* lse, int seq, int heads, float scale) {
  constexpr int NT = TC_TILE / 8;
  __shared__ alignas(16) bf16_t ks[2][TC_TILE][DH + TC_PAD];
  __shared__ alignas(16) bf16_t vs[2][TC_TILE][DH + TC_PAD];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int bh = blockIdx.y, b = bh / heads, h = bh - b * heads;
  const i64 stride = 3LL * heads * DH;
  const bf16_t* base = qkv + (i64)b * seq * stride;
  const bf16_t* kbase = base + (i64)(heads + h) * DH;
  const bf16_t* vbase = base + (i64)(2 * heads + h) * DH;
  const int wrow = blockIdx.x * (WARPS * 16 * RG) + warp * 16 * RG;   // first query row of this warp
  const bool warpActive = wrow < seq;                                   // warp-uniform
  const int tiles = (seq + TC_TILE - 1) / TC_TILE;
  const float scale2 = scale * TC_LOG2E;

  load_tile_async<DH>(ks[0], kbase, stride, 0, seq);
  load_tile_async<DH>(vs[0], vbase, stride, 0, seq);
  cp_async_commit();

  unsigned int qa[RG][DH / 16][4];
  float o[RG][DH / 8][4];
  float m[RG][2], l[RG][2];
#pragma unroll
  for (int rg = 0; rg < RG; rg++) {
    load_a_rows<DH>(qa[rg], base + (i64)h * DH, stride, wrow + rg * 16 + g, seq, t);
#pragma unroll
    for (int dn = 0; dn < DH / 8; dn++) { o[rg][dn][0] = 0.0f; o[rg][dn][1] = 0.0f; o[rg][dn][2] = 0.0f; o[rg][dn][3] = 0.0f; }
    m[rg][0] = -HRM_INF; m[rg][1] = -HRM_INF; l[rg][0] = 0.0f; l[rg][1] = 0.0f;
  }

  for (int it = 0; it < tiles; it++) {
    const int cur = it & 1, k0 = it * TC_TILE;
    if (it + 1 < tiles) {
      load_tile_async<DH>(ks[cur ^ 1], kbase, stride, k0 + TC_TILE, seq);
      load_tile_async<DH>(vs[cur ^ 1], vbase, stride, k0 + TC_TILE, seq);
    }
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    if (warpActive) {
      const int ntValid = min(NT, (seq - k0 + 7) / 8);   // 8-key slices holding a real key
      const bool lastTile = k0 + TC_TILE > seq;           // block-uniform: only it holds padding keys
      float s[RG][NT][4];
#pragma unroll
      for (int nt = 0; nt < NT; nt++) {
#pragma unroll
        for (int rg = 0; rg < RG; rg++) { s[rg][nt][0] = 0.0f; s[rg][nt][1] = 0.0f; s[rg][nt][2] = 0.0f; s[rg][nt][3] = 0.0f; }
        if (nt >= ntValid) continue;
#pragma unroll
        for (int kc = 0; kc < DH / 16; kc += 2) {
          unsigned int bk[4];
          ldmatrix_b(bk, &ks[cur][0][0], DH + TC_PAD, nt * 8, kc * 16, lane);
#pragma unroll
          for (int rg = 0; rg < RG; rg++) {
            mma_16816(s[rg][nt], qa[rg][kc], bk[0], bk[1]);
            mma_16816(s[rg][nt], qa[rg][kc + 1], bk[2], bk[3]);
          }
        }
      }
#pragma unroll
      for (int rg = 0; rg < RG; rg++) {
        float mx0 = m[rg][0], mx1 = m[rg][1];
#pragma unroll
        for (int nt = 0; nt < NT; nt++) {
#pragma unroll
          for (int e = 0; e < 4; e++) {
            float v = s[rg][nt][e] * scale2;
            if (lastTile && k0 + nt * 8 + 2 * t + (e & 1) >= seq) v = -HRM_INF;
            s[rg][nt][e] = v;
            if (e < 2) mx0 = fmaxf(mx0, v); else mx1 = fmaxf(mx1, v);
          }
        }
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        const float c0 = fast_exp2(m[rg][0] - mx0), c1 = fast_exp2(m[rg][1] - mx1);
        float l0 = l[rg][0] * c0, l1 = l[rg][1] * c1;
#pragma unroll
        for (int dn = 0; dn < DH / 8; dn++) { o[rg][dn][0] *= c0; o[rg][dn][1] *= c0; o[rg][dn][2] *= c1; o[rg][dn][3] *= c1; }
#pragma unroll
        for (int nt = 0; nt < NT; nt++) {
          s[rg][nt][0] = fast_exp2(s[rg][nt][0] - mx0);
          s[rg][nt][1] = fast_exp2(s[rg][nt][1] - mx0);
          s[rg][nt][2] = fast_exp2(s[rg][nt][2] - mx1);
          s[rg][nt][3] = fast_exp2(s[rg][nt][3] - mx1);
          l0 += s[rg][nt][0] + s[rg][nt][1];
          l1 += s[rg][nt][2] + s[rg][nt][3];
        }
        l[rg][0] = l0; l[rg][1] = l1;
        m[rg][0] = mx0; m[rg][1] = mx1;
      }
#pragma unroll
      for (int j = 0; j < NT / 2; j++) {
        if (2 * j >= ntValid) continue;   // every key of this chunk is padding: P = 0
        unsigned int pa[RG][4];
#pragma unroll
        for (int rg = 0; rg < RG; rg++) {
          pa[rg][0] = pack_bf16x2(s[rg][2 * j][0], s[rg][2 * j][1]);
          pa[rg][1] = pack_bf16x2(s[rg][2 * j][2], s[rg][2 * j][3]);
          pa[rg][2] = pack_bf16x2(s[rg][2 * j + 1][0], s[rg][2 * j + 1][1]);
          pa[rg][3] = pack_bf16x2(s[rg][2 * j + 1][2], s[rg][2 * j + 1][3]);
        }
#pragma unroll
        for (int dn = 0; dn < DH / 8; dn += 2) {
          unsigned int bv[4];
          ldmatrix_b_trans(bv, &vs[cur][0][0], DH + TC_PAD, j * 16, dn * 8, lane);
#pragma unroll
          for (int rg = 0; rg < RG; rg++) {
            mma_16816(o[rg][dn], pa[rg], bv[0], bv[1]);
            mma_16816(o[rg][dn + 1], pa[rg], bv[2], bv[3]);
          }
        }
      }
    }
    __syncthreads();   // buffer `cur` is refilled by the next iteration's prefetch
  }
  const i64 ostride = (i64)heads * DH;
#pragma unroll
  for (int rg = 0; rg < RG; rg++) {
    float l0 = l[rg][0], l1 = l[rg][1];
    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    const int r0 = wrow + rg * 16 + g;
    store_c_rows<DH>(out, odt, (i64)b * seq * ostride + (i64)h * DH, ostride, o[rg], r0, seq, t, 1.0f / l0, 1.0f / l1);
    if (t == 0) {
      const i64 lbase = ((i64)b * heads + h) * seq;
      if (r0 < seq) lse[lbase + r0] = m[rg][0] * TC_LN2 + logf(l0);
      if (r0 + 8 < seq) lse[lbase + r0 + 8] = m[rg][1] * TC_LN2 + logf(l1);
    }
  }
}

/// dK, dV: each warp owns 16 keys (K, V rows as A fragments); query tiles stream through
/// shared memory (double-buffered, cp.async), in two halves of 32 queries to save registers.
/// S^T = K Q^T, dP^T = V dO^T, P^T = exp(scale S^T - lse), dS^T = P^T (dP^T - delta),
/// dV += P^T dO, dK += scale dS^T Q.
template <int DH, int WARPS>
__device__ __forceinline__ void attention_backward_kv_tc_impl(const bf16_t* __restrict__ qkv, const float* lse,
                                                              const float* delta, const bf16_t* __restrict__ gout,
                                                              void* gqkv, int gqdt, int seq, int heads, float scale) {
  constexpr int NH = TC_TILE / 16;   // 8-query slices per half tile (4)
  __shared__ alignas(16) bf16_t qs[2][TC_TILE][DH + TC_PAD];
  __shared__ alignas(16) bf16_t dos[2][TC_TILE][DH + TC_PAD];
  __shared__ float lses[2][TC_TILE], dels[2][TC_TILE];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int bh = blockIdx.y, b = bh / heads, h = bh - b * heads;
  const i64 stride = 3LL * heads * DH, ostride = (i64)heads * DH;
  const bf16_t* base = qkv + (i64)b * seq * stride;
  const bf16_t* qbase = base + (i64)h * DH;
  const bf16_t* gbase = gout + (i64)b * seq * ostride + (i64)h * DH;
  const float* lrow = lse + (i64)bh * seq;
  const float* drow = delta + (i64)bh * seq;
  const int r0 = blockIdx.x * (WARPS * 16) + warp * 16 + g;
  const bool warpActive = blockIdx.x * (WARPS * 16) + warp * 16 < seq;   // warp-uniform
  const int tiles = (seq + TC_TILE - 1) / TC_TILE;
  const float scale2 = scale * TC_LOG2E;

  load_tile_async<DH>(qs[0], qbase, stride, 0, seq);
  load_tile_async<DH>(dos[0], gbase, ostride, 0, seq);
  cp_async_commit();
  if (threadIdx.x < TC_TILE) {   // lse kept in the log2 domain
    const int q = threadIdx.x;
    lses[0][q] = q < seq ? lrow[q] * TC_LOG2E : HRM_INF;
    dels[0][q] = q < seq ? drow[q] : 0.0f;
  }

  unsigned int ka[DH / 16][4], va[DH / 16][4];
  load_a_rows<DH>(ka, base + (i64)(heads + h) * DH, stride, r0, seq, t);
  load_a_rows<DH>(va, base + (i64)(2 * heads + h) * DH, stride, r0, seq, t);
  float dk[DH / 8][4], dv[DH / 8][4];
#pragma unroll
  for (int dn = 0; dn < DH / 8; dn++) {
#pragma unroll
    for (int e = 0; e < 4; e++) { dk[dn][e] = 0.0f; dv[dn][e] = 0.0f; }
  }

  for (int it = 0; it < tiles; it++) {
    const int cur = it & 1, q0 = it * TC_TILE;
    if (it + 1 < tiles) {
      load_tile_async<DH>(qs[cur ^ 1], qbase, stride, q0 + TC_TILE, seq);
      load_tile_async<DH>(dos[cur ^ 1], gbase, ostride, q0 + TC_TILE, seq);
      if (threadIdx.x < TC_TILE) {
        const int q = q0 + TC_TILE + threadIdx.x;
        lses[cur ^ 1][threadIdx.x] = q < seq ? lrow[q] * TC_LOG2E : HRM_INF;
        dels[cur ^ 1][threadIdx.x] = q < seq ? drow[q] : 0.0f;
      }
    }
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    if (warpActive) {
      const int ntValid = min(TC_TILE / 8, (seq - q0 + 7) / 8);   // 8-query slices holding a real query
#pragma unroll
      for (int half = 0; half < 2; half++) {
        if (half * NH >= ntValid) continue;
        float st[NH][4], dpt[NH][4];
#pragma unroll
        for (int i = 0; i < NH; i++) {
          const int nt = half * NH + i;
#pragma unroll
          for (int e = 0; e < 4; e++) { st[i][e] = 0.0f; dpt[i][e] = 0.0f; }
          if (nt >= ntValid) continue;
#pragma unroll
          for (int kc = 0; kc < DH / 16; kc += 2) {
            unsigned int bq[4], bo[4];
            ldmatrix_b(bq, &qs[cur][0][0], DH + TC_PAD, nt * 8, kc * 16, lane);
            ldmatrix_b(bo, &dos[cur][0][0], DH + TC_PAD, nt * 8, kc * 16, lane);
            mma_16816(st[i], ka[kc], bq[0], bq[1]);
            mma_16816(st[i], ka[kc + 1], bq[2], bq[3]);
            mma_16816(dpt[i], va[kc], bo[0], bo[1]);
            mma_16816(dpt[i], va[kc + 1], bo[2], bo[3]);
          }
#pragma unroll
          for (int e = 0; e < 4; e++) {
            const int qc = nt * 8 + 2 * t + (e & 1);
            const float p = fast_exp2(st[i][e] * scale2 - lses[cur][qc]);
            dpt[i][e] = p * (dpt[i][e] - dels[cur][qc]);
            st[i][e] = p;
          }
        }
#pragma unroll
        for (int jj = 0; jj < NH / 2; jj++) {
          const int j = half * (NH / 2) + jj;   // 16-query chunk within the tile
          if (2 * j >= ntValid) continue;        // every query of this chunk is padding: P = dS = 0
          const unsigned int pa[4] = {pack_bf16x2(st[2 * jj][0], st[2 * jj][1]), pack_bf16x2(st[2 * jj][2], st[2 * jj][3]),
                                      pack_bf16x2(st[2 * jj + 1][0], st[2 * jj + 1][1]),
                                      pack_bf16x2(st[2 * jj + 1][2], st[2 * jj + 1][3])};
          const unsigned int da[4] = {pack_bf16x2(dpt[2 * jj][0], dpt[2 * jj][1]), pack_bf16x2(dpt[2 * jj][2], dpt[2 * jj][3]),
                                      pack_bf16x2(dpt[2 * jj + 1][0], dpt[2 * jj + 1][1]),
                                      pack_bf16x2(dpt[2 * jj + 1][2], dpt[2 * jj + 1][3])};
#pragma unroll
          for (int dn = 0; dn < DH / 8; dn += 2) {
            unsigned int bo[4], bq[4];
            ldmatrix_b_trans(bo, &dos[cur][0][0], DH + TC_PAD, j * 16, dn * 8, lane);
            ldmatrix_b_trans(bq, &qs[cur][0][0], DH + TC_PAD, j * 16, dn * 8, lane);
            mma_16816(dv[dn], pa, bo[0], bo[1]);
            mma_16816(dv[dn + 1], pa, bo[2], bo[3]);
            mma_16816(dk[dn], da, bq[0], bq[1]);
            mma_16816(dk[dn + 1], da, bq[2], bq[3]);
          }
        }
      }
    }
    __syncthreads();   // buffer `cur` is refilled by the next iteration's prefetch
  }
  const i64 obase = (i64)b * seq * stride;
  store_c_rows<DH>(gqkv, gqdt, obase + (i64)(heads + h) * DH, stride, dk, r0, seq, t, scale, scale);
  store_c_rows<DH>(gqkv, gqdt, obase + (i64)(2 * heads + h) * DH, stride, dv, r0, seq, t, 1.0f, 1.0f);
}

/// dQ: each warp owns 16 queries (Q, dO rows as A fragments); key tiles stream through shared
/// memory (double-buffered, cp.async). S = Q K^T, dP = dO V^T, dS = P (dP - delta), dQ += scale dS K.
template <int DH, int WARPS>
__device__ __forceinline__ void attention_backward_q_tc_impl(const bf16_t* __restrict__ qkv, const float* lse,
                                                             const float* delta, const bf16_t* __restrict__ gout,
                                                             void* gqkv, int gqdt, int seq, int heads, float scale) {
  constexpr int NT = TC_TILE / 8;
  __shared__ alignas(16) bf16_t ks[2][TC_TILE][DH + TC_PAD];
  __shared__ alignas(16) bf16_t vs[2][TC_TILE][DH + TC_PAD];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int bh = blockIdx.y, b = bh / heads, h = bh - b * heads;
  const i64 stride = 3LL * heads * DH, ostride = (i64)heads * DH;
  const bf16_t* base = qkv + (i64)b * seq * stride;
  const bf16_t* kbase = base + (i64)(heads + h) * DH;
  const bf16_t* vbase = base + (i64)(2 * heads + h) * DH;
  const int r0 = blockIdx.x * (WARPS * 16) + warp * 16 + g, r1 = r0 + 8;
  const bool warpActive = blockIdx.x * (WARPS * 16) + warp * 16 < seq;   // warp-uniform
  const int tiles = (seq + TC_TILE - 1) / TC_TILE;

  load_tile_async<DH>(ks[0], kbase, stride, 0, seq);
  load_tile_async<DH>(vs[0], vbase, stride, 0, seq);
  cp_async_commit();

  unsigned int qa[DH / 16][4], doa[DH / 16][4];
  load_a_rows<DH>(qa, base + (i64)h * DH, stride, r0, seq, t);
  load_a_rows<DH>(doa, gout + (i64)b * seq * ostride + (i64)h * DH, ostride, r0, seq, t);
  const float* lrow = lse + (i64)bh * seq;
  const float* drow = delta + (i64)bh * seq;
  const float scale2 = scale * TC_LOG2E;   // exponents in the log2 domain
  const float lse0 = r0 < seq ? lrow[r0] * TC_LOG2E : 0.0f, lse1 = r1 < seq ? lrow[r1] * TC_LOG2E : 0.0f;
  const float del0 = r0 < seq ? drow[r0] : 0.0f, del1 = r1 < seq ? drow[r1] : 0.0f;
  float dq[DH / 8][4];
#pragma unroll
  for (int dn = 0; dn < DH / 8; dn++) { dq[dn][0] = 0.0f; dq[dn][1] = 0.0f; dq[dn][2] = 0.0f; dq[dn][3] = 0.0f; }

  for (int it = 0; it < tiles; it++) {
    const int cur = it & 1, k0 = it * TC_TILE;
    if (it + 1 < tiles) {
      load_tile_async<DH>(ks[cur ^ 1], kbase, stride, k0 + TC_TILE, seq);
      load_tile_async<DH>(vs[cur ^ 1], vbase, stride, k0 + TC_TILE, seq);
    }
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    if (warpActive) {
      const int ntValid = min(NT, (seq - k0 + 7) / 8);   // 8-key slices holding a real key
      const bool lastTile = k0 + TC_TILE > seq;           // block-uniform: only it holds padding keys
      float s[NT][4], dp[NT][4];
#pragma unroll
      for (int nt = 0; nt < NT; nt++) {
#pragma unroll
        for (int e = 0; e < 4; e++) { s[nt][e] = 0.0f; dp[nt][e] = 0.0f; }
        if (nt >= ntValid) continue;
#pragma unroll
        for (int kc = 0; kc < DH / 16; kc += 2) {
          unsigned int bk[4], bv[4];
          ldmatrix_b(bk, &ks[cur][0][0], DH + TC_PAD, nt * 8, kc * 16, lane);
          ldmatrix_b(bv, &vs[cur][0][0], DH + TC_PAD, nt * 8, kc * 16, lane);
          mma_16816(s[nt], qa[kc], bk[0], bk[1]);
          mma_16816(s[nt], qa[kc + 1], bk[2], bk[3]);
          mma_16816(dp[nt], doa[kc], bv[0], bv[1]);
          mma_16816(dp[nt], doa[kc + 1], bv[2], bv[3]);
        }
#pragma unroll
        for (int e = 0; e < 4; e++) {
          float p = fast_exp2(s[nt][e] * scale2 - (e < 2 ? lse0 : lse1));
          if (lastTile && k0 + nt * 8 + 2 * t + (e & 1) >= seq) p = 0.0f;
          s[nt][e] = p * (dp[nt][e] - (e < 2 ? del0 : del1));
        }
      }
#pragma unroll
      for (int j = 0; j < NT / 2; j++) {
        if (2 * j >= ntValid) continue;   // every key of this chunk is padding: dS = 0
        const unsigned int da[4] = {pack_bf16x2(s[2 * j][0], s[2 * j][1]), pack_bf16x2(s[2 * j][2], s[2 * j][3]),
                                    pack_bf16x2(s[2 * j + 1][0], s[2 * j + 1][1]), pack_bf16x2(s[2 * j + 1][2], s[2 * j + 1][3])};
#pragma unroll
        for (int dn = 0; dn < DH / 8; dn += 2) {
          unsigned int bk[4];
          ldmatrix_b_trans(bk, &ks[cur][0][0], DH + TC_PAD, j * 16, dn * 8, lane);
          mma_16816(dq[dn], da, bk[0], bk[1]);
          mma_16816(dq[dn + 1], da, bk[2], bk[3]);
        }
      }
    }
    __syncthreads();   // buffer `cur` is refilled by the next iteration's prefetch
  }
  store_c_rows<DH>(gqkv, gqdt, (i64)b * seq * stride + (i64)h * DH, stride, dq, r0, seq, t, scale, scale);
}

#define ATTENTION_TC_KERNELS(DH, WARPS)                                                                          \
  extern "C" __global__ void __launch_bounds__(WARPS * 32) attention_forward_tc_##DH##_w##WARPS(                \
      const bf16_t* qkv, void* out, int odt, float* lse, int seq, int heads, float scale) {                     \
    attention_forward_tc_impl<DH, WARPS, 1>(qkv, out, odt, lse, seq, heads, scale);                             \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(WARPS * 32) attention_forward_tc_##DH##_w##WARPS##_r2(           \
      const bf16_t* qkv, void* out, int odt, float* lse, int seq, int heads, float scale) {                     \
    attention_forward_tc_impl<DH, WARPS, 2>(qkv, out, odt, lse, seq, heads, scale);                             \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(WARPS * 32) attention_backward_kv_tc_##DH##_w##WARPS(            \
      const bf16_t* qkv, const float* lse, const float* delta, const bf16_t* gout, void* gqkv, int gqdt,        \
      int seq, int heads, float scale) {                                                                         \
    attention_backward_kv_tc_impl<DH, WARPS>(qkv, lse, delta, gout, gqkv, gqdt, seq, heads, scale);             \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(WARPS * 32) attention_backward_q_tc_##DH##_w##WARPS(             \
      const bf16_t* qkv, const float* lse, const float* delta, const bf16_t* gout, void* gqkv, int gqdt,        \
      int seq, int heads, float scale) {                                                                         \
    attention_backward_q_tc_impl<DH, WARPS>(qkv, lse, delta, gout, gqkv, gqdt, seq, heads, scale);              \
  }

ATTENTION_TC_KERNELS(64, 4)
ATTENTION_TC_KERNELS(64, 8)
ATTENTION_TC_KERNELS(32, 4)
ATTENTION_TC_KERNELS(32, 8)

// Occupancy variants (4-warp blocks): __launch_bounds__ with a minimum of resident blocks per
// SM caps the registers (65536 / (128 * MINB)), trading registers for warps in flight, since
// the kernels are latency-bound (run 8: 32-row warps at 231 registers ran no faster than
// 16-row warps at 119). Forward 16-row: 5 blocks (<= 102 registers); forward 32-row: 3 blocks
// (<= 170); dK/dV: 3 blocks (<= 170, from 205); dQ: 4 blocks (<= 128, from 144).
#define ATTENTION_TC_MINB_KERNELS(DH)                                                                            \
  extern "C" __global__ void __launch_bounds__(128, 5) attention_forward_tc_##DH##_w4_m(                         \
      const bf16_t* qkv, void* out, int odt, float* lse, int seq, int heads, float scale) {                     \
    attention_forward_tc_impl<DH, 4, 1>(qkv, out, odt, lse, seq, heads, scale);                                 \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(128, 3) attention_forward_tc_##DH##_w4_r2_m(                      \
      const bf16_t* qkv, void* out, int odt, float* lse, int seq, int heads, float scale) {                     \
    attention_forward_tc_impl<DH, 4, 2>(qkv, out, odt, lse, seq, heads, scale);                                 \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(128, 3) attention_backward_kv_tc_##DH##_w4_m(                     \
      const bf16_t* qkv, const float* lse, const float* delta, const bf16_t* gout, void* gqkv, int gqdt,        \
      int seq, int heads, float scale) {                                                                         \
    attention_backward_kv_tc_impl<DH, 4>(qkv, lse, delta, gout, gqkv, gqdt, seq, heads, scale);                 \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(128, 4) attention_backward_q_tc_##DH##_w4_m(                      \
      const bf16_t* qkv, const float* lse, const float* delta, const bf16_t* gout, void* gqkv, int gqdt,        \
      int seq, int heads, float scale) {                                                                         \
    attention_backward_q_tc_impl<DH, 4>(qkv, lse, delta, gout, gqkv, gqdt, seq, heads, scale);                  \
  }

ATTENTION_TC_MINB_KERNELS(64)
ATTENTION_TC_MINB_KERNELS(32)
