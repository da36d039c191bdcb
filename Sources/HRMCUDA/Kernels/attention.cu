// attention.cu: fused non-causal multi-head attention, forward and backward (FlashAttention
// style: online softmax, no T x T score matrix in global memory, log-sum-exp saved).
//
// Layouts: qkv [B, T, 3H, Dh] (query heads, key heads, value heads), out [B, T, H, Dh],
// lse [B, H, T] f32 = log sum_j exp(scale * q . k_j). Scores, softmax and sums in f32; inputs and
// outputs f32 or bf16 (dtype codes). Head dims 64 and 32 are instantiated.
//
// Three implementations. The first (f32 math on CUDA cores) serves f32 tensors and is exact
// to f32 rounding: one thread owns one query (forward, dQ) or one key (dK/dV) row, and K/V or
// Q/dO tiles are staged through shared memory as f32. The second (further down) uses the
// tensor cores for bf16 tensors through mma.sync (any GPU from sm_80). The third, at the end,
// uses Hopper's warpgroup MMA (wgmma) and exists only in sm_90a builds (HRM_SM90A).
#include "common.cuh"
#include "tensorcore.cuh"

#define ATT_THREADS 64   // rows per block (one per thread)
#define ATT_BK 32        // keys per shared tile (forward, dQ)
#define ATT_BQ 16        // queries per shared tile (dK/dV)

/// Stages keys k0 .. k0 + ATT_BK - 1 of head h (K and V rows, as f32; keys >= seq as zeros)
/// in shared memory. All ATT_THREADS threads take part; the caller brackets it with barriers.
template <int DH>
__device__ __forceinline__ void load_kv_tile_f32(float (*ks)[DH], float (*vs)[DH], const void* qkv, int dt, int b,
                                                 int h, int heads, int seq, int k0, i64 rowStride) {
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
}

/// Query row qi of head h times `scale` into q (zeros when !active), and acc zeroed.
template <int DH>
__device__ __forceinline__ void load_q_row_f32(float (&q)[DH], float (&acc)[DH], const void* qkv, int dt, int b,
                                               int h, int heads, int seq, int qi, bool active, float scale) {
  const i64 qbase = ((i64)b * seq + (active ? qi : 0)) * (3LL * heads * DH) + (i64)h * DH;
#pragma unroll
  for (int d = 0; d < DH; d++) {
    q[d] = active ? scale * load_f(qkv, dt, qbase + d) : 0.0f;
    acc[d] = 0.0f;
  }
}

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
  load_q_row_f32<DH>(q, o, qkv, dt, b, h, heads, seq, qi, active, scale);
  float m = -HRM_INF, l = 0.0f;

  for (int k0 = 0; k0 < seq; k0 += ATT_BK) {
    __syncthreads();
    load_kv_tile_f32<DH>(ks, vs, qkv, dt, b, h, heads, seq, k0, rowStride);
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

/// The same for bf16 out and gradOut with 16-byte aligned rows: `lanes` = headDim / 8
/// consecutive threads (a power of two <= 32) share a row, 8 elements each, one 16-byte load
/// per tensor, summed with shuffles (a flat grid-stride loop over rows * lanes threads).
extern "C" __global__ void attention_backward_delta_bf16(const bf16_t* out, const bf16_t* gout, float* delta,
                                                         int batch, int seq, int heads, int headDim) {
  const int lanes = headDim / 8;
  const i64 rows = (i64)batch * seq * heads;
  // Whole warps iterate together so the shuffles see every lane.
  for (i64 i = GRID_START; i - (threadIdx.x & 31) < rows * lanes; i += GRID_STRIDE) {
    const i64 r = i / lanes;
    float acc = 0.0f;
    if (r < rows) {
      float o[8], g[8];
      unpack_bf16x8(*(const vec16*)(out + i * 8), o);
      unpack_bf16x8(*(const vec16*)(gout + i * 8), g);
#pragma unroll
      for (int k = 0; k < 8; k++) acc += o[k] * g[k];
    }
    for (int off = lanes / 2; off > 0; off >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, off);
    if (r < rows && i % lanes == 0) {
      const int h = (int)(r % heads);
      const i64 bt = r / heads;
      const int t = (int)(bt % seq);
      delta[(bt / seq * heads + h) * seq + t] = acc;
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
  load_q_row_f32<DH>(q, dq, qkv, dt, b, h, heads, seq, qi, active, scale);
  const i64 li = ((i64)b * heads + h) * seq + (active ? qi : 0);
  const float myLse = lse[li];
  const float myDelta = delta[li];

  for (int k0 = 0; k0 < seq; k0 += ATT_BK) {
    __syncthreads();
    load_kv_tile_f32<DH>(ks, vs, qkv, dt, b, h, heads, seq, k0, rowStride);
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

/// The backward's two score products for one 8-column slice (rows nt*8.. of two shared
/// tiles): c1 += A1 B1^T and c2 += A2 B2^T over the head dims, e.g. S = Q K^T with
/// dP = dO V^T (dQ kernel) or S^T = K Q^T with dP^T = V dO^T (dK/dV kernel).
template <int DH>
__device__ __forceinline__ void mma_score_pair(float (&c1)[4], float (&c2)[4], const unsigned int (*a1)[4],
                                               const unsigned int (*a2)[4], const bf16_t* tile1, const bf16_t* tile2,
                                               int nt, int lane) {
#pragma unroll
  for (int kc = 0; kc < DH / 16; kc += 2) {
    unsigned int b1[4], b2[4];
    ldmatrix_b(b1, tile1, DH + TC_PAD, nt * 8, kc * 16, lane);
    ldmatrix_b(b2, tile2, DH + TC_PAD, nt * 8, kc * 16, lane);
    mma_16816(c1, a1[kc], b1[0], b1[1]);
    mma_16816(c1, a1[kc + 1], b1[2], b1[3]);
    mma_16816(c2, a2[kc], b2[0], b2[1]);
    mma_16816(c2, a2[kc + 1], b2[2], b2[3]);
  }
}

/// Starts copying a TC_TILE x DH bf16 tile (rows row0.. of a row-major matrix with `stride`;
/// rows >= limit become zero) into shared memory with cp.async (the caller commits and waits).
/// THREADS = the block size: each thread copies one 16-byte column chunk of every
/// THREADS / (DH / 8)-th row, from one pointer advanced by a fixed step (unrolled).
template <int DH, int THREADS>
__device__ __forceinline__ void load_tile_async(bf16_t (*tile)[DH + TC_PAD], const bf16_t* base, i64 stride, int row0,
                                                int limit) {
  constexpr int CHUNKS = TC_TILE * (DH / 8), ROUND = THREADS / (DH / 8);   // rows per round
  static_assert(THREADS % (DH / 8) == 0, "whole rows per round");
  const int j0 = threadIdx.x / (DH / 8), c8 = (threadIdx.x % (DH / 8)) * 8;
  const bf16_t* src = base + (i64)(row0 + j0) * stride + c8;
  const i64 step = (i64)ROUND * stride;
#pragma unroll
  for (int k = 0; k < (CHUNKS + THREADS - 1) / THREADS; k++, src += step) {
    const int j = j0 + k * ROUND;
    if (CHUNKS % THREADS != 0 && j >= TC_TILE) break;
    const bool valid = row0 + j < limit;
    cp_async16(&tile[j][c8], valid ? src : base, valid);
  }
}

/// Top of a K/V tile loop (forward and dQ) at buffer `cur`, keys k0..: starts copying the
/// next tile (if `more`) into the other buffer, then waits until the current one has landed
/// for every thread of the block.
template <int DH, int THREADS>
__device__ __forceinline__ void next_kv_tile(bf16_t (*ks)[TC_TILE][DH + TC_PAD], bf16_t (*vs)[TC_TILE][DH + TC_PAD],
                                             const bf16_t* kbase, const bf16_t* vbase, i64 stride, int cur, int k0,
                                             bool more, int seq) {
  if (more) {
    load_tile_async<DH, THREADS>(ks[cur ^ 1], kbase, stride, k0 + TC_TILE, seq);
    load_tile_async<DH, THREADS>(vs[cur ^ 1], vbase, stride, k0 + TC_TILE, seq);
  }
  cp_async_commit();
  cp_async_wait<1>();
  __syncthreads();
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

  load_tile_async<DH, WARPS * 32>(ks[0], kbase, stride, 0, seq);
  load_tile_async<DH, WARPS * 32>(vs[0], vbase, stride, 0, seq);
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
    next_kv_tile<DH, WARPS * 32>(ks, vs, kbase, vbase, stride, cur, k0, it + 1 < tiles, seq);
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
/// The (batch, head) of a tensor-core backward kernel's block (blockIdx.y): the element
/// offsets of its Q, K and V heads in qkv-shaped tensors (qkv and its gradient) and of its
/// dO head, the two row strides, and its rows of lse and delta.
template <int DH>
struct BackwardHead {
  i64 stride, ostride, q, k, v, dout;
  const float* lse;
  const float* delta;
  __device__ __forceinline__ BackwardHead(const float* lseAll, const float* deltaAll, int seq, int heads) {
    const int bh = blockIdx.y, b = bh / heads, h = bh - b * heads;
    stride = 3LL * heads * DH;
    ostride = (i64)heads * DH;
    q = (i64)b * seq * stride + (i64)h * DH;
    k = q + (i64)heads * DH;
    v = k + (i64)heads * DH;
    dout = (i64)b * seq * ostride + (i64)h * DH;
    lse = lseAll + (i64)bh * seq;
    delta = deltaAll + (i64)bh * seq;
  }
};

/// Shared memory of the mma.sync dK/dV kernel: double-buffered Q and dO tiles with their lse
/// (log2 domain) and delta. Static in its own kernels, carved from dynamic shared memory in
/// attention_backward_pair_64.
template <int DH>
struct KvTcShared {
  alignas(16) bf16_t qs[2][TC_TILE][DH + TC_PAD];
  alignas(16) bf16_t dos[2][TC_TILE][DH + TC_PAD];
  float lses[2][TC_TILE], dels[2][TC_TILE];
};

/// dK/dV (mma.sync) for key block `block` (WARPS x 16 keys) of head blockIdx.y.
template <int DH, int WARPS>
__device__ __forceinline__ void attention_backward_kv_tc_impl(const bf16_t* __restrict__ qkv, const float* lse,
                                                              const float* delta, const bf16_t* __restrict__ gout,
                                                              void* gqkv, int gqdt, int seq, int heads, float scale,
                                                              KvTcShared<DH>& sh, int block) {
  constexpr int NH = TC_TILE / 16;   // 8-query slices per half tile (4)
  auto& qs = sh.qs;
  auto& dos = sh.dos;
  auto& lses = sh.lses;
  auto& dels = sh.dels;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const BackwardHead<DH> hd(lse, delta, seq, heads);
  const i64 stride = hd.stride, ostride = hd.ostride;
  const int r0 = block * (WARPS * 16) + warp * 16 + g;
  const bool warpActive = block * (WARPS * 16) + warp * 16 < seq;   // warp-uniform
  const int tiles = (seq + TC_TILE - 1) / TC_TILE;
  const float scale2 = scale * TC_LOG2E;

  load_tile_async<DH, WARPS * 32>(qs[0], qkv + hd.q, stride, 0, seq);
  load_tile_async<DH, WARPS * 32>(dos[0], gout + hd.dout, ostride, 0, seq);
  cp_async_commit();
  // lse (kept in the log2 domain) and delta of a tile's queries, one per thread < TC_TILE; the
  // next tile's are loaded into registers a tile early, so no iteration waits on them.
  float nextLse = 0.0f, nextDelta = 0.0f;
  if (threadIdx.x < TC_TILE) {
    const int q = threadIdx.x;
    lses[0][q] = q < seq ? hd.lse[q] * TC_LOG2E : HRM_INF;
    dels[0][q] = q < seq ? hd.delta[q] : 0.0f;
    if (q + TC_TILE < seq) { nextLse = hd.lse[q + TC_TILE]; nextDelta = hd.delta[q + TC_TILE]; }
  }

  unsigned int ka[DH / 16][4], va[DH / 16][4];
  load_a_rows<DH>(ka, qkv + hd.k, stride, r0, seq, t);
  load_a_rows<DH>(va, qkv + hd.v, stride, r0, seq, t);
  float dk[DH / 8][4], dv[DH / 8][4];
#pragma unroll
  for (int dn = 0; dn < DH / 8; dn++) {
#pragma unroll
    for (int e = 0; e < 4; e++) { dk[dn][e] = 0.0f; dv[dn][e] = 0.0f; }
  }

  for (int it = 0; it < tiles; it++) {
    const int cur = it & 1, q0 = it * TC_TILE;
    if (it + 1 < tiles) {
      load_tile_async<DH, WARPS * 32>(qs[cur ^ 1], qkv + hd.q, stride, q0 + TC_TILE, seq);
      load_tile_async<DH, WARPS * 32>(dos[cur ^ 1], gout + hd.dout, ostride, q0 + TC_TILE, seq);
      if (threadIdx.x < TC_TILE) {
        const int q = q0 + TC_TILE + threadIdx.x;
        lses[cur ^ 1][threadIdx.x] = q < seq ? nextLse * TC_LOG2E : HRM_INF;
        dels[cur ^ 1][threadIdx.x] = q < seq ? nextDelta : 0.0f;
        if (q + TC_TILE < seq) { nextLse = hd.lse[q + TC_TILE]; nextDelta = hd.delta[q + TC_TILE]; }
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
          mma_score_pair<DH>(st[i], dpt[i], ka, va, &qs[cur][0][0], &dos[cur][0][0], nt, lane);
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
  static_assert(DH != 64 || WARPS * 1024 <= 2 * TC_TILE * (DH + TC_PAD), "2 KB per warp in the Q tiles");
  if constexpr (DH == 64) {   // the Q tiles are free after the last barrier: 2 KB per warp
    bf16_t* stage = &qs[0][0][0] + warp * 1024;
    store_c_rows_staged(gqkv, gqdt, hd.k, stride, dk, r0 - g, seq, lane, scale, scale, stage);
    store_c_rows_staged(gqkv, gqdt, hd.v, stride, dv, r0 - g, seq, lane, 1.0f, 1.0f, stage);
  } else {
    store_c_rows<DH>(gqkv, gqdt, hd.k, stride, dk, r0, seq, t, scale, scale);
    store_c_rows<DH>(gqkv, gqdt, hd.v, stride, dv, r0, seq, t, 1.0f, 1.0f);
  }
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
  const BackwardHead<DH> hd(lse, delta, seq, heads);
  const i64 stride = hd.stride, ostride = hd.ostride;
  const int r0 = blockIdx.x * (WARPS * 16) + warp * 16 + g, r1 = r0 + 8;
  const bool warpActive = blockIdx.x * (WARPS * 16) + warp * 16 < seq;   // warp-uniform
  const int tiles = (seq + TC_TILE - 1) / TC_TILE;

  load_tile_async<DH, WARPS * 32>(ks[0], qkv + hd.k, stride, 0, seq);
  load_tile_async<DH, WARPS * 32>(vs[0], qkv + hd.v, stride, 0, seq);
  cp_async_commit();

  unsigned int qa[DH / 16][4], doa[DH / 16][4];
  load_a_rows<DH>(qa, qkv + hd.q, stride, r0, seq, t);
  load_a_rows<DH>(doa, gout + hd.dout, ostride, r0, seq, t);
  const float scale2 = scale * TC_LOG2E;   // exponents in the log2 domain
  const float lse0 = r0 < seq ? hd.lse[r0] * TC_LOG2E : 0.0f, lse1 = r1 < seq ? hd.lse[r1] * TC_LOG2E : 0.0f;
  const float del0 = r0 < seq ? hd.delta[r0] : 0.0f, del1 = r1 < seq ? hd.delta[r1] : 0.0f;
  float dq[DH / 8][4];
#pragma unroll
  for (int dn = 0; dn < DH / 8; dn++) { dq[dn][0] = 0.0f; dq[dn][1] = 0.0f; dq[dn][2] = 0.0f; dq[dn][3] = 0.0f; }

  for (int it = 0; it < tiles; it++) {
    const int cur = it & 1, k0 = it * TC_TILE;
    next_kv_tile<DH, WARPS * 32>(ks, vs, qkv + hd.k, qkv + hd.v, stride, cur, k0, it + 1 < tiles, seq);
    if (warpActive) {
      const int ntValid = min(NT, (seq - k0 + 7) / 8);   // 8-key slices holding a real key
      const bool lastTile = k0 + TC_TILE > seq;           // block-uniform: only it holds padding keys
      float s[NT][4], dp[NT][4];
#pragma unroll
      for (int nt = 0; nt < NT; nt++) {
#pragma unroll
        for (int e = 0; e < 4; e++) { s[nt][e] = 0.0f; dp[nt][e] = 0.0f; }
        if (nt >= ntValid) continue;
        mma_score_pair<DH>(s[nt], dp[nt], qa, doa, &ks[cur][0][0], &vs[cur][0][0], nt, lane);
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
  static_assert(DH != 64 || WARPS * 1024 <= 2 * TC_TILE * (DH + TC_PAD), "2 KB per warp in the K tiles");
  if constexpr (DH == 64) {   // the K tiles are free after the last barrier: 2 KB per warp
    store_c_rows_staged(gqkv, gqdt, hd.q, stride, dq, r0 - g, seq, lane, scale, scale, &ks[0][0][0] + warp * 1024);
  } else {
    store_c_rows<DH>(gqkv, gqdt, hd.q, stride, dq, r0, seq, t, scale, scale);
  }
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
    __shared__ KvTcShared<DH> sh;                                                                                \
    attention_backward_kv_tc_impl<DH, WARPS>(qkv, lse, delta, gout, gqkv, gqdt, seq, heads, scale, sh, blockIdx.x); \
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
    __shared__ KvTcShared<DH> sh;                                                                                \
    attention_backward_kv_tc_impl<DH, 4>(qkv, lse, delta, gout, gqkv, gqdt, seq, heads, scale, sh, blockIdx.x);  \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(128, 4) attention_backward_q_tc_##DH##_w4_m(                      \
      const bf16_t* qkv, const float* lse, const float* delta, const bf16_t* gout, void* gqkv, int gqdt,        \
      int seq, int heads, float scale) {                                                                         \
    attention_backward_q_tc_impl<DH, 4>(qkv, lse, delta, gout, gqkv, gqdt, seq, heads, scale);                  \
  }

ATTENTION_TC_MINB_KERNELS(64)
ATTENTION_TC_MINB_KERNELS(32)

// Short sequences (T <= 128, head dim 64, bf16): one block per (batch, head) holds the whole
// head's Q, K and V in shared memory, loaded once through registers so that RoPE can rotate
// Q and K on the way in (which makes the separate rope pass unnecessary; with `rot` non-null
// the rotated head is also written there, as rope would, for the backward pass; `rot` may be
// qkv itself). NC = ceil(T / 16) warps; warp w owns queries 16w .. 16w + 15 and computes its
// whole score row at once (all NC * 16 keys, padding keys masked), so there is no online
// rescaling. O is staged through the warp's own Q rows in shared memory and written with
// 16-byte stores.
#define SHORT_LD (64 + TC_PAD)   // shared row length (bf16) of the Q, K, V tiles

template <int NC>
__device__ __forceinline__ void attention_forward_short_impl(const bf16_t* qkv, const float* __restrict__ cosT,
                                                             const float* __restrict__ sinT, bf16_t* rot,
                                                             bf16_t* out, float* lse, int seq, int heads, float scale) {
  constexpr int ROWS = NC * 16;
  extern __shared__ __align__(16) unsigned char short_smem[];
  bf16_t (*qs)[SHORT_LD] = (bf16_t (*)[SHORT_LD])short_smem;
  bf16_t (*ks)[SHORT_LD] = qs + ROWS;
  bf16_t (*vs)[SHORT_LD] = ks + ROWS;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int bh = blockIdx.x, b = bh / heads, h = bh - b * heads;
  const i64 stride = 3LL * heads * 64;
  const i64 base = (i64)b * seq * stride;

  // Load: item = (slot, row, c) for the 16-byte chunks c and c + 4 of a head row (elements
  // 8c .. 8c + 7 and 32 + 8c .., the RoPE pairs); four consecutive threads cover a row. Each
  // thread has 6 items: rows r and r + ROWS/2 of each slot, done in two halves (one per row)
  // whose global loads (Q, K, V chunks and the row's RoPE table values, loaded for a row
  // clamped into range so that no load waits behind a branch) are all issued first.
  const int c = threadIdx.x & 3;
#pragma unroll
  for (int half = 0; half < 2; half++) {
    const int row = (threadIdx.x >> 2) + half * (ROWS / 2);
    const bool valid = row < seq;
    const i64 at0 = base + (i64)min(row, seq - 1) * stride + (i64)h * 64 + 8 * c;
    vec16 v1[3], v2[3];
#pragma unroll
    for (int slot = 0; slot < 3; slot++) {
      v1[slot] = *(const vec16*)(qkv + at0 + (i64)slot * heads * 64);
      v2[slot] = *(const vec16*)(qkv + at0 + (i64)slot * heads * 64 + 32);
    }
    if (cosT != nullptr) {
      const RopeTable8 rt = rope_table8(cosT + (i64)min(row, seq - 1) * 64, sinT + (i64)min(row, seq - 1) * 64, 8 * c, 32);
#pragma unroll
      for (int slot = 0; slot < 2; slot++) rope_apply8(v1[slot], v2[slot], rt, false, v1[slot], v2[slot]);
    }
#pragma unroll
    for (int slot = 0; slot < 3; slot++) {
      if (!valid) { v1[slot] = vec16{0u, 0u, 0u, 0u}; v2[slot] = v1[slot]; }
      else if (rot != nullptr && ((cosT != nullptr && slot < 2) || rot != qkv)) {
        *(vec16*)(rot + at0 + (i64)slot * heads * 64) = v1[slot];
        *(vec16*)(rot + at0 + (i64)slot * heads * 64 + 32) = v2[slot];
      }
      bf16_t (*dst)[SHORT_LD] = slot == 0 ? qs : (slot == 1 ? ks : vs);
      *(vec16*)&dst[row][8 * c] = v1[slot];
      *(vec16*)&dst[row][32 + 8 * c] = v2[slot];
    }
  }
  __syncthreads();

  // S = Q K^T for this warp's 16 rows and all ROWS keys; Q fragments by ldmatrix, two 16-dim
  // chunks at a time.
  float s[2 * NC][4];
#pragma unroll
  for (int n = 0; n < 2 * NC; n++) { s[n][0] = 0.0f; s[n][1] = 0.0f; s[n][2] = 0.0f; s[n][3] = 0.0f; }
#pragma unroll
  for (int kc = 0; kc < 4; kc += 2) {
    unsigned int qa[2][4];
#pragma unroll
    for (int i = 0; i < 2; i++) {
      const bf16_t* pq = &qs[warp * 16 + (lane & 15)][(kc + i) * 16 + (lane >> 4) * 8];
      asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                   : "=r"(qa[i][0]), "=r"(qa[i][1]), "=r"(qa[i][2]), "=r"(qa[i][3])
                   : "r"(shared_address(pq)) : "memory");
    }
#pragma unroll
    for (int n = 0; n < 2 * NC; n++) {
      unsigned int bk[4];
      ldmatrix_b(bk, &ks[0][0], SHORT_LD, n * 8, kc * 16, lane);
      mma_16816(s[n], qa[0], bk[0], bk[1]);
      mma_16816(s[n], qa[1], bk[2], bk[3]);
    }
  }
  // Softmax over the whole row (log2 domain), padding keys masked.
  const float scale2 = scale * TC_LOG2E;
  float mx0 = -HRM_INF, mx1 = -HRM_INF;
#pragma unroll
  for (int n = 0; n < 2 * NC; n++) {
#pragma unroll
    for (int e = 0; e < 4; e++) {
      float v = s[n][e] * scale2;
      if (n * 8 + 2 * t + (e & 1) >= seq) v = -HRM_INF;
      s[n][e] = v;
      if (e < 2) mx0 = fmaxf(mx0, v); else mx1 = fmaxf(mx1, v);
    }
  }
  mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
  mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
  mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
  mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
  float l0 = 0.0f, l1 = 0.0f;
#pragma unroll
  for (int n = 0; n < 2 * NC; n++) {
    s[n][0] = fast_exp2(s[n][0] - mx0);
    s[n][1] = fast_exp2(s[n][1] - mx0);
    s[n][2] = fast_exp2(s[n][2] - mx1);
    s[n][3] = fast_exp2(s[n][3] - mx1);
    l0 += s[n][0] + s[n][1];
    l1 += s[n][2] + s[n][3];
  }
  l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
  l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
  // O = P V (P rounded to bf16 as in the other tensor-core kernels).
  float o[8][4];
#pragma unroll
  for (int dn = 0; dn < 8; dn++) { o[dn][0] = 0.0f; o[dn][1] = 0.0f; o[dn][2] = 0.0f; o[dn][3] = 0.0f; }
#pragma unroll
  for (int j = 0; j < NC; j++) {
    unsigned int pa[4];
    pa[0] = pack_bf16x2(s[2 * j][0], s[2 * j][1]);
    pa[1] = pack_bf16x2(s[2 * j][2], s[2 * j][3]);
    pa[2] = pack_bf16x2(s[2 * j + 1][0], s[2 * j + 1][1]);
    pa[3] = pack_bf16x2(s[2 * j + 1][2], s[2 * j + 1][3]);
#pragma unroll
    for (int dn = 0; dn < 8; dn += 2) {
      unsigned int bv[4];
      ldmatrix_b_trans(bv, &vs[0][0], SHORT_LD, j * 16, dn * 8, lane);
      mma_16816(o[dn], pa, bv[0], bv[1]);
      mma_16816(o[dn + 1], pa, bv[2], bv[3]);
    }
  }
  // O / l into the warp's own Q rows (no other warp reads them), then 16-byte stores.
  const float inv0 = 1.0f / l0, inv1 = 1.0f / l1;
  const int r0 = warp * 16 + g;
  __syncwarp();
#pragma unroll
  for (int dn = 0; dn < 8; dn++) {
    *(unsigned int*)&qs[r0][dn * 8 + 2 * t] = pack_bf16x2(o[dn][0] * inv0, o[dn][1] * inv0);
    *(unsigned int*)&qs[r0 + 8][dn * 8 + 2 * t] = pack_bf16x2(o[dn][2] * inv1, o[dn][3] * inv1);
  }
  __syncwarp();
  const i64 ostride = (i64)heads * 64;
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const int row = warp * 16 + i * 4 + (lane >> 3), c8 = (lane & 7) * 8;
    if (row < seq) *(vec16*)(out + ((i64)b * seq + row) * ostride + (i64)h * 64 + c8) = *(const vec16*)&qs[row][c8];
  }
  if (t == 0) {
    const i64 lbase = ((i64)b * heads + h) * seq;
    if (r0 < seq) lse[lbase + r0] = mx0 * TC_LN2 + logf(l0);
    if (r0 + 8 < seq) lse[lbase + r0 + 8] = mx1 * TC_LN2 + logf(l1);
  }
}

#define ATTENTION_SHORT_KERNEL(NC)                                                                               \
  extern "C" __global__ void __launch_bounds__(NC * 32) attention_forward_short_64_c##NC(                        \
      const bf16_t* qkv, const float* cosT, const float* sinT, bf16_t* rot, bf16_t* out, float* lse, int seq,  \
      int heads, float scale) {                                                                                  \
    attention_forward_short_impl<NC>(qkv, cosT, sinT, rot, out, lse, seq, heads, scale);                         \
  }
ATTENTION_SHORT_KERNEL(1)
ATTENTION_SHORT_KERNEL(2)
ATTENTION_SHORT_KERNEL(3)
ATTENTION_SHORT_KERNEL(4)
ATTENTION_SHORT_KERNEL(5)
ATTENTION_SHORT_KERNEL(6)
ATTENTION_SHORT_KERNEL(7)
ATTENTION_SHORT_KERNEL(8)

// ===========================================================================================
// Hopper forward (sm_90a only: compiled when KernelCompiler targets sm_90a and defines
// HRM_SM90A). Warpgroup MMA (wgmma.mma_async): one warpgroup (4 warps, 128 threads) owns 64
// query rows; S = Q K^T takes Q from registers (the same A fragments as mma.sync) and K from
// shared memory through a matrix descriptor; O += P V takes P from registers (the S
// accumulator re-packed as bf16, exactly as in the mma.sync kernel) and V from shared memory
// (transposed operand). K/V tiles of 64 keys are copied with cp.async (forward and dQ: four
// buffers in dynamic shared memory, two tiles ahead; dK/dV: three), stored in the no-swizzle "core
// matrix" order wgmma reads: 8 keys x 16 bytes per 128-byte core matrix, element (key, d) at
// byte (key/8)*1024 + (d/8)*128 + (key%8)*16 + (d%8)*2. WGS warpgroups per block share every
// tile. Head dim 64 only. ptxas serialises every wgmma (advisory C7520) when one sits under a
// condition it cannot prove warpgroup-uniform: hence wg_index() and the unconditional products
// in the dK/dV loop; Dev/nvrtc-check.py prints the advisory.
// ===========================================================================================
#if defined(HRM_SM90A)

/// The same for A fragments in registers (K steps of four): a wgmma in flight still reads
/// them, so they must stay live (not reused by the register allocator) until its
/// wgmma.wait_group.
template <int K>
__device__ __forceinline__ void wg_hold(unsigned int (&a)[K][4]) {
#pragma unroll
  for (int i = 0; i < K; i++)
#pragma unroll
    for (int k = 0; k < 4; k++) asm volatile("" : "+r"(a[i][k])::"memory");
}

/// Accumulator columns (C-fragment order, 4 floats per 8 columns) -> bf16 A fragments, one
/// per 16 columns (k-step): P or dS for the next product.
template <int K>
__device__ __forceinline__ void wg_pack(unsigned int (&a)[K][4], const float (&s)[8 * K]) {
#pragma unroll
  for (int nt = 0; nt < 2 * K; nt++) {
    a[nt >> 1][(nt & 1) * 2] = pack_bf16x2(s[nt * 4], s[nt * 4 + 1]);
    a[nt >> 1][(nt & 1) * 2 + 1] = pack_bf16x2(s[nt * 4 + 2], s[nt * 4 + 3]);
  }
}

/// d (64x64 f32, 32 per thread) = [d +] A (64x16 bf16, registers) * B (16x64 bf16, shared,
/// descriptor). TRANS_B = 0: B stored K-major (rows of B^T contiguous); 1: N-major.
template <int TRANS_B>
__device__ __forceinline__ void wgmma_m64n64k16(float (&d)[32], const unsigned int (&a)[4], u64 desc, int accumulate) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
      "{" WG_R0_15 ", " WG_R16_31 "}, "
      "{%32, %33, %34, %35}, %36, p, 1, 1, %38;\n}\n"
      : WG_D32(0)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(accumulate), "n"(TRANS_B)
      : "memory");
}

/// d (64x32 f32, 16 per thread) = [d +] A (64x16 bf16, registers) * B (16x32 bf16, shared).
template <int TRANS_B>
__device__ __forceinline__ void wgmma_m64n32k16(float (&d)[16], const unsigned int (&a)[4], u64 desc, int accumulate) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %21, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 "
      "{" WG_R0_15 "}, "
      "{%16, %17, %18, %19}, %20, p, 1, 1, %22;\n}\n"
      : WG_D8(0), WG_D8(8)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(accumulate), "n"(TRANS_B)
      : "memory");
}

/// Starts copying rows row0..row0+63 of two row-major bf16 matrices (64 columns; rows >=
/// limit become zero) into `tile` (the first at tile[0..4095], the second at tile[4096..]) in
/// core-matrix order: 16-byte chunk e of a 4096-element matrix holds row (e & 7) + 8 (e >> 6),
/// columns 8 ((e >> 3) & 7) ... + 7, so chunk e sits at byte 16 e and eight consecutive
/// threads fill one 128-byte core matrix.
__device__ __forceinline__ void wg_load_pair(bf16_t* tile, const bf16_t* base0, i64 stride0, const bf16_t* base1,
                                             i64 stride1, int row0, int limit) {
  for (int e = threadIdx.x; e < 2 * 512; e += blockDim.x) {
    const int c = e & 511;
    const int row = row0 + (c & 7) + ((c >> 6) << 3), col = ((c >> 3) & 7) * 8;
    const bool valid = row < limit;
    const bf16_t* src = e < 512 ? base0 + (i64)(valid ? row : 0) * stride0 + col
                                : base1 + (i64)(valid ? row : 0) * stride1 + col;
    cp_async16(tile + 8 * e, src, valid);
  }
}

/// Online-softmax step for one 64-key tile of a warp's 16 rows: s holds the raw scores (C
/// fragments of S = Q K^T); keys >= seq on the last tile are masked. The running maxima m0/m1
/// are in the log2 domain (scale * log2 e applied); s becomes exp2(scale2 s - max), one FFMA
/// and one MUFU op per score. The maxima are raised lazily: while no score of the warp's rows
/// exceeds its row's maximum by more than 8 (so P <= 2^8, harmless in f32 sums and bf16
/// products), the old maxima stay, with no shuffles and no rescaling of O (correction 1);
/// otherwise the rows take their exact new maxima. Returns the tile's row sums and the
/// correction factors for the old statistics.
__device__ __forceinline__ void wg_softmax_tile(float (&s)[32], float& m0, float& m1, float& sum0, float& sum1,
                                                float& c0, float& c1, int k0, int seq, int t, float scale2) {
  if (k0 + 64 > seq) {   // the last tile holds padding keys
#pragma unroll
    for (int nt = 0; nt < 8; nt++)
#pragma unroll
      for (int e = 0; e < 4; e++)
        if (k0 + nt * 8 + 2 * t + (e & 1) >= seq) s[nt * 4 + e] = -HRM_INF;
  }
  float mx0 = -HRM_INF, mx1 = -HRM_INF;
#pragma unroll
  for (int nt = 0; nt < 8; nt++) {
    mx0 = fmaxf(mx0, fmaxf(s[nt * 4], s[nt * 4 + 1]));
    mx1 = fmaxf(mx1, fmaxf(s[nt * 4 + 2], s[nt * 4 + 3]));
  }
  // scale2 > 0: the maximum commutes with the scaling. m = -inf (first tile) always updates.
  c0 = 1.0f;
  c1 = 1.0f;
  if (!__all_sync(0xffffffffu, mx0 * scale2 <= m0 + 8.0f && mx1 * scale2 <= m1 + 8.0f)) {
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
    mx0 = fmaxf(m0, mx0 * scale2);
    mx1 = fmaxf(m1, mx1 * scale2);
    c0 = fast_exp2(m0 - mx0);
    c1 = fast_exp2(m1 - mx1);
    m0 = mx0;
    m1 = mx1;
  }
  float a0 = 0.0f, a1 = 0.0f;
#pragma unroll
  for (int nt = 0; nt < 8; nt++) {
    s[nt * 4] = fast_exp2(fmaf(s[nt * 4], scale2, -m0));
    s[nt * 4 + 1] = fast_exp2(fmaf(s[nt * 4 + 1], scale2, -m0));
    s[nt * 4 + 2] = fast_exp2(fmaf(s[nt * 4 + 2], scale2, -m1));
    s[nt * 4 + 3] = fast_exp2(fmaf(s[nt * 4 + 3], scale2, -m1));
    a0 += s[nt * 4] + s[nt * 4 + 1];
    a1 += s[nt * 4 + 2] + s[nt * 4 + 3];
  }
  sum0 = a0; sum1 = a1;
}

/// A thread's share of the K/V tile copies into 128-byte-swizzled tiles (read through
/// wg_desc_sw128), with its source pointers computed once: chunk k of this thread is e =
/// threadIdx.x + k * blockDim (the first 512 chunks K, the rest V), holding row (e & 511) / 8,
/// columns 8 (e % 8) ..., stored at row * 64 + 8 (e % 8 ^ row % 8), so a warp reads four whole
/// 128-byte rows (the unswizzled core-matrix order of wg_load_pair reads half rows: in the
/// fused GEMM the same change took L2 from 95.6% busy to 65% while running 2.9x faster,
/// docs/perf-cuda.md run 55). Tile j only adds 64 j rows.
template <int THREADS>
struct WgTileCopier {
  static constexpr int N = (1024 + THREADS - 1) / THREADS;
  const bf16_t* src[N];
  int row[N];
  __device__ __forceinline__ WgTileCopier(const bf16_t* base0, const bf16_t* base1, i64 stride) {
#pragma unroll
    for (int k = 0; k < N; k++) {
      const int e = min((int)threadIdx.x + k * THREADS, 1023), c = e & 511;
      row[k] = c >> 3;
      src[k] = (e < 512 ? base0 : base1) + (i64)row[k] * stride + (c & 7) * 8;
    }
  }
  /// Element offset of chunk e in a tile.
  __device__ __forceinline__ static int dest(int e) {
    const int r = (e & 511) >> 3;
    return (e & 512) * 8 + r * 64 + (((e & 7) ^ (r & 7)) << 3);
  }
  /// Starts copying tile j (rows 64 j ...; rows >= limit become zero) into `tile`.
  __device__ __forceinline__ void load(bf16_t* tile, int j, i64 stride, int limit) const {
    const i64 step = (i64)j * 64 * stride;
#pragma unroll
    for (int k = 0; k < N; k++) {
      const int e = threadIdx.x + k * THREADS;
      if (1024 % THREADS != 0 && e >= 1024) break;   // 384 threads: the third round is partial
      const bool valid = j * 64 + row[k] < limit;
      cp_async16(tile + dest(e), valid ? src[k] + step : src[k], valid);
    }
  }
};

/// Forward. Pipeline per key tile j (FA3's overlap within a warpgroup): S_j = Q K_j^T and
/// O += P_{j-1} V_{j-1} are issued together; the softmax of S_j (MUFU exp2) runs while the
/// tensor cores finish P_{j-1} V_{j-1}; then O is rescaled (skipped by warps whose row
/// maxima did not change) and P_j packed. Four swizzled K/V buffers in dynamic shared memory
/// (64 KB from the first 1024-byte boundary, then 2 KB per warp for staging O):
/// tile j+2 is copied while tile j is used and tile j-1's V is still being read, so a copy
/// has two tiles of compute to arrive. Descriptors and copy addresses are computed once; a
/// tile only adds offsets.
/// Q and K are read from the query and key heads of qkv, V from the value heads of vqkv (both
/// shaped as qkv: the same tensor, or a copy whose query and key heads were rotated by RoPE;
/// rotating Q in registers here instead was slower, docs/perf-cuda.md run 29).
template <int WGS>
__device__ __forceinline__ void attention_forward_wg_impl(const bf16_t* __restrict__ qkv, const bf16_t* __restrict__ vqkv,
                                                          void* out, int odt, float* lse, int seq, int heads, float scale) {
  constexpr int DH = 64, TILE = 2 * 64 * DH, STAGES = 4;   // K then V, bf16 elements
  extern __shared__ __align__(128) unsigned char wg_smem[];
  bf16_t* kv = (bf16_t*)align_1024(wg_smem);   // swizzled tiles
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int bh = blockIdx.y, b = bh / heads, h = bh - b * heads;
  const i64 stride = 3LL * heads * DH;
  const bf16_t* base = qkv + (i64)b * seq * stride;
  const int wgRow = blockIdx.x * (64 * WGS) + wg_index() * 64;   // first query row of this warpgroup
  const int wrow = wgRow + (warp & 3) * 16;                         // first query row of this warp
  const bool active = wgRow < seq;                                  // warpgroup-uniform
  const int tiles = (seq + 63) / 64;
  const float scale2 = scale * TC_LOG2E;
  // Descriptors of buffer 0's K (K-major B of S = Q K^T) and V (N-major B of O += P V); a
  // buffer adds TILE * 2 bytes, a k-step of K 32 bytes along its rows, of V two key groups
  // (2048 B); all >> 4 in the address field, which cannot carry (shared addresses < 2^18).
  const u64 kdesc = wg_desc_sw128(kv), vdesc = wg_desc_sw128(kv + 64 * DH, 1024, 1024);
  constexpr u64 BUF = (TILE * 2) >> 4, KSTEP = 32 >> 4;

  const WgTileCopier<128 * WGS> copier(base + (i64)(heads + h) * DH,
                                       vqkv + (i64)b * seq * stride + (i64)(2 * heads + h) * DH, stride);
  copier.load(kv, 0, stride, seq);
  cp_async_commit();
  if (tiles > 1) copier.load(kv + TILE, 1, stride, seq);
  cp_async_commit();
  unsigned int qa[DH / 16][4];
  load_a_rows<DH>(qa, base + (i64)h * DH, stride, wrow + g, seq, t);
  float o[32], s[32];
#pragma unroll
  for (int i = 0; i < 32; i++) { o[i] = 0.0f; s[i] = 0.0f; }
  unsigned int pa[4][4];
  float m0 = -HRM_INF, m1 = -HRM_INF, l0 = 0.0f, l1 = 0.0f;

  for (int j = 0; j < tiles; j++) {
    wg_tile_ready<1>();   // tile j is here for all (tile j+1 may be in flight); tile j-2 is free
    if (j + 2 < tiles) copier.load(kv + ((j + 2) % STAGES) * TILE, j + 2, stride, seq);
    cp_async_commit();    // (an empty group near the end keeps the count uniform)
    if (!active) continue;
    const u64 kd = kdesc + (u64)(j % STAGES) * BUF;
    // S_j = Q K_j^T: four k-steps of 16 head dims = two 128-byte core matrices along K.
    wg_fence();
#pragma unroll
    for (int kc = 0; kc < DH / 16; kc++) wgmma_m64n64k16<0>(s, qa[kc], kd + kc * KSTEP, kc > 0);
    wg_commit();
    if (j > 0) {
      // O += P_{j-1} V_{j-1}: four k-steps of 16 keys = two 1024-byte key groups.
      const u64 vd = vdesc + (u64)((j + STAGES - 1) % STAGES) * BUF;
#pragma unroll
      for (int kk = 0; kk < 4; kk++) wgmma_m64n64k16<1>(o, pa[kk], vd + kk * 128, 1);
      wg_commit();
      wg_wait<1>();   // S_j is done; P V may still run
    } else {
      wg_wait<0>();
    }
    wg_hold(s);
    float c0, c1, sum0, sum1;
    wg_softmax_tile(s, m0, m1, sum0, sum1, c0, c1, j * 64, seq, t, scale2);
    wg_wait<0>();
    wg_hold(o);
    wg_hold(pa);
    l0 = l0 * c0 + sum0;
    l1 = l1 * c1 + sum1;
    if (!__all_sync(0xffffffffu, c0 == 1.0f && c1 == 1.0f)) {   // a row maximum moved
#pragma unroll
      for (int dn = 0; dn < 8; dn++) { o[dn * 4] *= c0; o[dn * 4 + 1] *= c0; o[dn * 4 + 2] *= c1; o[dn * 4 + 3] *= c1; }
    }
    wg_pack(pa, s);
  }
  if (!active) return;
  {
    const u64 vd = vdesc + (u64)((tiles - 1) % STAGES) * BUF;
    wg_fence();
#pragma unroll
    for (int kk = 0; kk < 4; kk++) wgmma_m64n64k16<1>(o, pa[kk], vd + kk * 128, 1);
    wg_commit();
    wg_wait<0>();
    wg_hold(o);
  }
  l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
  l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
  const int r0 = wrow + g;
  const i64 ostride = (i64)heads * DH;
  store_c_rows_staged(out, odt, (i64)b * seq * ostride + (i64)h * DH, ostride, (const float(*)[4])o, wrow, seq, lane,
                      1.0f / l0, 1.0f / l1, kv + STAGES * TILE + warp * 1024);
  if (t == 0) {
    const i64 lbase = ((i64)b * heads + h) * seq;
    if (r0 < seq) lse[lbase + r0] = m0 * TC_LN2 + logf(l0);
    if (r0 + 8 < seq) lse[lbase + r0 + 8] = m1 * TC_LN2 + logf(l1);
  }
}

extern "C" __global__ void __launch_bounds__(128) attention_forward_wg_64_g1(
    const bf16_t* qkv, const bf16_t* vqkv, void* out, int odt, float* lse, int seq, int heads, float scale) {
  attention_forward_wg_impl<1>(qkv, vqkv, out, odt, lse, seq, heads, scale);
}
extern "C" __global__ void __launch_bounds__(256, 2) attention_forward_wg_64_g2(
    const bf16_t* qkv, const bf16_t* vqkv, void* out, int odt, float* lse, int seq, int heads, float scale) {
  attention_forward_wg_impl<2>(qkv, vqkv, out, odt, lse, seq, heads, scale);
}
extern "C" __global__ void __launch_bounds__(384, 1) attention_forward_wg_64_g3(
    const bf16_t* qkv, const bf16_t* vqkv, void* out, int odt, float* lse, int seq, int heads, float scale) {
  attention_forward_wg_impl<3>(qkv, vqkv, out, odt, lse, seq, heads, scale);
}
extern "C" __global__ void __launch_bounds__(512, 1) attention_forward_wg_64_g4(
    const bf16_t* qkv, const bf16_t* vqkv, void* out, int odt, float* lse, int seq, int heads, float scale) {
  attention_forward_wg_impl<4>(qkv, vqkv, out, odt, lse, seq, heads, scale);
}

/// A Hopper backward step's two score products against 32 rows (4 groups of 8) of a tile
/// holding two 64 x 64 matrices (the second 4096 elements on) in core-matrix order, or
/// 128-byte swizzled (SW: the dQ kernel's WgTileCopier tiles): c1 = A1 X^T and c2 = A2 Y^T
/// over the 64 head dims, A from registers, issued as one wgmma group.
template <bool SW = false>
__device__ __forceinline__ void wg_score_pair32(float (&c1)[16], const unsigned int (&a1)[4][4], float (&c2)[16],
                                                const unsigned int (&a2)[4][4], const bf16_t* rows) {
  wg_fence();
#pragma unroll
  for (int kc = 0; kc < 4; kc++)
    wgmma_m64n32k16<0>(c1, a1[kc], SW ? wg_desc_sw128(rows + kc * 16) : wg_desc(rows + kc * 128, 128, 1024), kc > 0);
#pragma unroll
  for (int kc = 0; kc < 4; kc++)
    wgmma_m64n32k16<0>(c2, a2[kc], SW ? wg_desc_sw128(rows + 4096 + kc * 16) : wg_desc(rows + 4096 + kc * 128, 128, 1024),
                       kc > 0);
  wg_commit();
}

/// dV += P^T dO and dK += dS^T Q for one 32-query step: P^T, dS^T (64 keys x 32 queries)
/// from registers, Q and dO the step's rows of a Q/dO tile (N-major B; dO the second 4096
/// elements), issued as one wgmma group.
__device__ __forceinline__ void wg_kv_products(float (&dv)[32], const unsigned int (&pa)[2][4], float (&dk)[32],
                                               const unsigned int (&da)[2][4], const bf16_t* rows) {
#pragma unroll
  for (int kk = 0; kk < 2; kk++) wgmma_m64n64k16<1>(dv, pa[kk], wg_desc(rows + 4096 + kk * 1024, 1024, 128), 1);
#pragma unroll
  for (int kk = 0; kk < 2; kk++) wgmma_m64n64k16<1>(dk, da[kk], wg_desc(rows + kk * 1024, 1024, 128), 1);
  wg_commit();
}

/// Backward statistics of a 64-query tile into shared memory, by the first warpgroup
/// (threads 0..63 lse, 64..127 delta): lse in the log2 domain (+inf for padding queries, so
/// their P = 0) and delta (0 for padding). The branch is on the warp-uniform warpgroup index
/// and the rest is predicated, so no wgmma of the caller sits on a divergent path (C7520).
__device__ __forceinline__ void wg_load_stats(float* dst, const float* lrow, const float* drow, int q0, int seq) {
  if (wg_index() == 0) {
    const bool isLse = threadIdx.x < 64;
    const int i = threadIdx.x & 63, q = min(q0 + i, seq - 1);
    const float v = (isLse ? lrow : drow)[q];
    dst[threadIdx.x] = q0 + i < seq ? (isLse ? v * TC_LOG2E : v) : (isLse ? HRM_INF : 0.0f);
  }
}

/// Backward dK, dV (Hopper). Each warpgroup owns 64 keys (K and V rows as register A
/// fragments); query tiles of 64 (Q and dO, with their lse and delta) stream through three
/// shared buffers, each used in two steps of 32 queries. A step issues S^T = K Q^T and
/// dP^T = V dO^T (B = Q, dO K-major) before the previous step's dV += P^T dO and
/// dK += dS^T Q (B = dO, Q N-major), so the exp2 and dS arithmetic overlap those products.
/// Dynamic shared memory: 3 x 16 KB tiles + 3 x 512 B statistics (50688 bytes).
template <int WGS>
__device__ __forceinline__ void attention_backward_kv_wg_impl(const bf16_t* __restrict__ qkv, const float* lse,
                                                              const float* delta, const bf16_t* __restrict__ gout,
                                                              void* gqkv, int gqdt, int seq, int heads, float scale) {
  constexpr int DH = 64, MAT = 64 * DH, TILE = 2 * MAT;   // Q then dO, bf16 elements
  static_assert(WGS <= 2, "the output staging uses one 16 KB tile: 2 KB per warp");
  extern __shared__ __align__(128) unsigned char wg_smem[];
  bf16_t* qd = (bf16_t*)wg_smem;
  float* stats = (float*)(wg_smem + 3 * TILE * 2);   // [3][lse 64, delta 64]
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const BackwardHead<DH> hd(lse, delta, seq, heads);
  const i64 stride = hd.stride, ostride = hd.ostride;
  const int wgRow = blockIdx.x * (64 * WGS) + wg_index() * 64;   // first key of this warpgroup
  const int r0 = wgRow + (warp & 3) * 16 + g;
  const bool active = wgRow < seq;                                  // warpgroup-uniform
  const int tiles = (seq + 63) / 64, steps = 2 * tiles;
  const float scale2 = scale * TC_LOG2E;

  wg_load_pair(qd, qkv + hd.q, stride, gout + hd.dout, ostride, 0, seq);
  cp_async_commit();
  wg_load_stats(stats, hd.lse, hd.delta, 0, seq);
  unsigned int ka[DH / 16][4], va[DH / 16][4];
  load_a_rows<DH>(ka, qkv + hd.k, stride, r0, seq, t);
  load_a_rows<DH>(va, qkv + hd.v, stride, r0, seq, t);
  float dk[32], dv[32], st[16], dpt[16];
#pragma unroll
  for (int i = 0; i < 32; i++) { dk[i] = 0.0f; dv[i] = 0.0f; }
#pragma unroll
  for (int i = 0; i < 16; i++) { st[i] = 0.0f; dpt[i] = 0.0f; }
  unsigned int pa[2][4] = {}, da[2][4] = {};

  for (int step = 0; step < steps; step++) {
    const int i = step >> 1, half = step & 1;
    if (half == 0) {
      wg_tile_ready<0>();   // tile i is here for all; every warpgroup is done with tile i - 2
      if (i + 1 < tiles) {
        wg_load_pair(qd + ((i + 1) % 3) * TILE, qkv + hd.q, stride, gout + hd.dout, ostride, (i + 1) * 64, seq);
        cp_async_commit();
        wg_load_stats(stats + ((i + 1) % 3) * 128, hd.lse, hd.delta, (i + 1) * 64, seq);
      }
    }
    if (!active) continue;
    const bf16_t* qs = qd + (i % 3) * TILE + half * 2048;   // this step's 32 queries (4 groups of 8)
    wg_score_pair32(st, ka, dpt, va, qs);   // S^T = K Q^T, dP^T = V dO^T
    {
      // The previous step's products. At step 0, P = dS = 0 (pa, da zero) against the current
      // tile: adds zeros, and keeps every wgmma off a conditional path (ptxas serialises
      // them all otherwise, C7520).
      const int prev = step > 0 ? step - 1 : 0;
      const bf16_t* pq = qd + ((prev >> 1) % 3) * TILE + (prev & 1) * 2048;
      wg_kv_products(dv, pa, dk, da, pq);
      wg_wait<1>();
    }
    wg_hold(st);
    wg_hold(dpt);
    const float* ls = stats + (i % 3) * 128 + half * 32;
#pragma unroll
    for (int nt = 0; nt < 4; nt++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int qc = nt * 8 + 2 * t + (e & 1);
        const float p = fast_exp2(fmaf(st[nt * 4 + e], scale2, -ls[qc]));
        dpt[nt * 4 + e] = p * (dpt[nt * 4 + e] - ls[64 + qc]);
        st[nt * 4 + e] = p;
      }
    }
    wg_wait<0>();
    wg_hold(dv);
    wg_hold(dk);
    wg_hold(pa);
    wg_hold(da);
    wg_pack(pa, st);
    wg_pack(da, dpt);
  }
  if (!active) return;
  {
    const bf16_t* pq = qd + ((tiles - 1) % 3) * TILE + 2048;   // the last step: second half of the last tile
    wg_fence();
    wg_kv_products(dv, pa, dk, da, pq);
    wg_wait<0>();
    wg_hold(dv);
    wg_hold(dk);
  }
  // Stage tiles % 3 held tile tiles - 3 (or nothing), which every warpgroup was done with at
  // the last tile's barrier: 16 KB, 2 KB per warp of up to two warpgroups.
  bf16_t* stage = qd + (tiles % 3) * TILE + warp * 1024;
  store_c_rows_staged(gqkv, gqdt, hd.k, stride, (const float(*)[4])dk, r0 - g, seq, lane, scale, scale, stage);
  store_c_rows_staged(gqkv, gqdt, hd.v, stride, (const float(*)[4])dv, r0 - g, seq, lane, 1.0f, 1.0f, stage);
}

/// Backward dQ (Hopper). Each warpgroup owns 64 queries (Q and dO rows as register A
/// fragments); K/V tiles of 64 keys stream through four swizzled buffers in dynamic shared
/// memory (64 KB from the first 1024-byte boundary), copied two tiles ahead by a WgTileCopier
/// as in the forward, each used in two steps
/// of 32 keys: S = Q K^T, dP = dO V^T (B = K, V K-major), then dQ += dS K (B = K N-major) of
/// the previous step overlapping this step's arithmetic.
template <int WGS>
__device__ __forceinline__ void attention_backward_q_wg_impl(const bf16_t* __restrict__ qkv, const float* lse,
                                                             const float* delta, const bf16_t* __restrict__ gout,
                                                             void* gqkv, int gqdt, int seq, int heads, float scale,
                                                             int block) {
  constexpr int DH = 64, MAT = 64 * DH, TILE = 2 * MAT, STAGES = 4;   // K then V, bf16 elements
  static_assert(WGS <= 2, "the output staging uses one 16 KB tile: 2 KB per warp");
  extern __shared__ __align__(128) unsigned char wg_smem[];
  bf16_t* kv = (bf16_t*)align_1024(wg_smem);   // swizzled tiles, as the forward
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const BackwardHead<DH> hd(lse, delta, seq, heads);
  const i64 stride = hd.stride, ostride = hd.ostride;
  const int wgRow = block * (64 * WGS) + wg_index() * 64;   // first query of this warpgroup
  const int r0 = wgRow + (warp & 3) * 16 + g, r1 = r0 + 8;
  const bool active = wgRow < seq;                                  // warpgroup-uniform
  const int tiles = (seq + 63) / 64, steps = 2 * tiles;
  const float scale2 = scale * TC_LOG2E;

  const WgTileCopier<128 * WGS> copier(qkv + hd.k, qkv + hd.v, stride);
  copier.load(kv, 0, stride, seq);
  cp_async_commit();
  if (tiles > 1) copier.load(kv + TILE, 1, stride, seq);
  cp_async_commit();
  unsigned int qa[DH / 16][4], doa[DH / 16][4];
  load_a_rows<DH>(qa, qkv + hd.q, stride, r0, seq, t);
  load_a_rows<DH>(doa, gout + hd.dout, ostride, r0, seq, t);
  const float lse0 = r0 < seq ? hd.lse[r0] * TC_LOG2E : 0.0f, lse1 = r1 < seq ? hd.lse[r1] * TC_LOG2E : 0.0f;
  const float del0 = r0 < seq ? hd.delta[r0] : 0.0f, del1 = r1 < seq ? hd.delta[r1] : 0.0f;
  float dq[32], s[16], dp[16];
#pragma unroll
  for (int i = 0; i < 32; i++) dq[i] = 0.0f;
#pragma unroll
  for (int i = 0; i < 16; i++) { s[i] = 0.0f; dp[i] = 0.0f; }
  unsigned int da[2][4];

  for (int step = 0; step < steps; step++) {
    const int i = step >> 1, half = step & 1;
    if (half == 0) {
      wg_tile_ready<1>();   // tile i is here for all (i + 1 may be in flight); tile i - 2 is free
      if (i + 2 < tiles) copier.load(kv + ((i + 2) % STAGES) * TILE, i + 2, stride, seq);
      cp_async_commit();    // (an empty group near the end keeps the count uniform)
    }
    if (!active) continue;
    const bf16_t* ks = kv + (i % STAGES) * TILE + half * 2048;   // this step's 32 keys (4 groups of 8)
    wg_score_pair32<true>(s, qa, dp, doa, ks);    // S = Q K^T, dP = dO V^T
    if (step > 0) {
      const bf16_t* pk = kv + (((step - 1) >> 1) % STAGES) * TILE + ((step - 1) & 1) * 2048;
#pragma unroll
      for (int kk = 0; kk < 2; kk++)
        wgmma_m64n64k16<1>(dq, da[kk], wg_desc_sw128(pk + kk * 1024, 1024, 1024), 1);
      wg_commit();
      wg_wait<1>();
    } else {
      wg_wait<0>();
    }
    wg_hold(s);
    wg_hold(dp);
    const int k0 = i * 64 + half * 32;
    const bool padded = k0 + 32 > seq;   // warpgroup-uniform: only the last steps hold padding keys
#pragma unroll
    for (int nt = 0; nt < 4; nt++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        float p = fast_exp2(fmaf(s[nt * 4 + e], scale2, -(e < 2 ? lse0 : lse1)));
        if (padded && k0 + nt * 8 + 2 * t + (e & 1) >= seq) p = 0.0f;
        s[nt * 4 + e] = p * (dp[nt * 4 + e] - (e < 2 ? del0 : del1));
      }
    }
    wg_wait<0>();
    wg_hold(dq);
    wg_hold(da);
    wg_pack(da, s);
  }
  if (!active) return;
  {
    const bf16_t* pk = kv + ((tiles - 1) % STAGES) * TILE + 2048;
    wg_fence();
#pragma unroll
    for (int kk = 0; kk < 2; kk++)
      wgmma_m64n64k16<1>(dq, da[kk], wg_desc_sw128(pk + kk * 1024, 1024, 1024), 1);
    wg_commit();
    wg_wait<0>();
    wg_hold(dq);
  }
  // Buffer (tiles + 1) % 4 held tile tiles - 3 (or nothing), which every warpgroup was done
  // with at the last tile's barrier, and no copy targets it since.
  store_c_rows_staged(gqkv, gqdt, hd.q, stride, (const float(*)[4])dq, r0 - g, seq, lane, scale, scale,
                      kv + ((tiles + 1) % STAGES) * TILE + warp * 1024);
}

#define ATTENTION_WG_BACKWARD_KERNELS(WGS)                                                                     \
  extern "C" __global__ void __launch_bounds__(128 * WGS) attention_backward_kv_wg_64_g##WGS(                  \
      const bf16_t* qkv, const float* lse, const float* delta, const bf16_t* gout, void* gqkv, int gqdt,        \
      int seq, int heads, float scale) {                                                                         \
    attention_backward_kv_wg_impl<WGS>(qkv, lse, delta, gout, gqkv, gqdt, seq, heads, scale);                   \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(128 * WGS, 3 / WGS) attention_backward_q_wg_64_g##WGS(         \
      const bf16_t* qkv, const float* lse, const float* delta, const bf16_t* gout, void* gqkv, int gqdt,        \
      int seq, int heads, float scale) {                                                                         \
    attention_backward_q_wg_impl<WGS>(qkv, lse, delta, gout, gqkv, gqdt, seq, heads, scale, blockIdx.x);        \
  }

ATTENTION_WG_BACKWARD_KERNELS(1)
ATTENTION_WG_BACKWARD_KERNELS(2)

/// The default backward for long sequences in one launch: even blocks run dK/dV (mma.sync,
/// 4 warps) for key block x / 2, odd blocks dQ (wgmma, one warpgroup) for query block x / 2,
/// so every SM holds both kinds at once and each hides the other's waits (the two kernels
/// launched one after the other each left the SM idle in their own stalls). 65 KB of dynamic
/// shared memory: the dQ kernel's four K/V buffers (after up to 1 KB of alignment), or the
/// dK/dV kernel's tiles.
static_assert(sizeof(KvTcShared<64>) <= 4 * 16384, "dK/dV tiles fit the dQ buffers");

/// The block's dynamic shared memory (declared here, not in the extern "C" kernel, where the
/// declaration would take C linkage and clash with the kernels' own).
__device__ __forceinline__ unsigned char* dynamic_shared() {
  extern __shared__ __align__(128) unsigned char wg_smem[];
  return wg_smem;
}
extern "C" __global__ void __launch_bounds__(128, 3) attention_backward_pair_64(
    const bf16_t* qkv, const float* lse, const float* delta, const bf16_t* gout, void* gqkv, int gqdt, int seq,
    int heads, float scale) {
  if (blockIdx.x & 1) {
    attention_backward_q_wg_impl<1>(qkv, lse, delta, gout, gqkv, gqdt, seq, heads, scale, blockIdx.x >> 1);
  } else {
    attention_backward_kv_tc_impl<64, 4>(qkv, lse, delta, gout, gqkv, gqdt, seq, heads, scale,
                                         *reinterpret_cast<KvTcShared<64>*>(dynamic_shared()), blockIdx.x >> 1);
  }
}
#endif  // HRM_SM90A
