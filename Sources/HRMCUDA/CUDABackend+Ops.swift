// CUDABackend+Ops.swift: the Backend kernels of the CUDA backend (everything but GEMM):
// shape bookkeeping on the host, one or two launches of the kernels in Kernels/*.cu each.

import Foundation
import HRMSupport
import HRMTensor

extension CUDABackend {
  /// Every tensor lives on this backend (a precondition: a tensor of another device is a bug).
  func own(_ tensors: Tensor...) {
    for t in tensors {
      precondition(t.buffer.backend === self, "tensor \(t.shape) \(t.dtype) lives on \(t.buffer.backend.name), not \(name)")
    }
  }

  private func p(_ t: Tensor) -> KernelArg { .ptr(t.devicePointer) }
  private func d(_ t: Tensor) -> KernelArg { .i32(t.dtypeCode) }
  private func n64(_ v: Int) -> KernelArg { .i64(Int64(v)) }
  private func n32(_ v: Int) -> KernelArg { .i32(Int32(v)) }

  /// True when every tensor is bf16 with a 16-byte aligned start (the vectorised fast paths).
  func bf16Aligned(_ tensors: Tensor...) -> Bool { bf16Aligned(tensors) }

  func bf16Aligned(_ tensors: [Tensor]) -> Bool {
    tensors.allSatisfy { $0.dtype == .bf16 && $0.devicePointer % 16 == 0 }
  }

  /// Threads for one-block-per-row kernels over rows of `width` elements.
  private func rowThreads(_ width: Int) -> Int {
    min(256, max(32, ((width / 4) + 31) / 32 * 32))
  }

  // MARK: - Elementwise and data movement

  /// Fills with cuMemsetD32/D16 (the value as f32, bf16 or truncated i32 bits).
  public func fill(_ t: Tensor, value: Float) {
    own(t)
    let n = t.count
    guard n > 0 else { return }
    makeCurrent()
    profiled("fill (memset)") {
      switch t.dtype {
      case .f32:
        checkOrDie(driver.cuMemsetD32Async(t.devicePointer, value.bitPattern, n, stream), "cuMemsetD32Async")
      case .i32:
        let v: Int32 = value.isFinite && abs(value) < 2_147_483_648 ? Int32(value) : 0
        checkOrDie(driver.cuMemsetD32Async(t.devicePointer, UInt32(bitPattern: v), n, stream), "cuMemsetD32Async")
      case .bf16:
        checkOrDie(driver.cuMemsetD16Async(t.devicePointer, BF16.fromFloat(value), n, stream), "cuMemsetD16Async")
      }
    }
    if debugSync { synchronize() }
  }

  /// Device-to-device copy, or a conversion kernel when the dtypes differ.
  public func copy(_ src: Tensor, to dst: Tensor) {
    own(src, dst)
    precondition(src.count == dst.count, "copy of \(src.count) elements into \(dst.count)")
    let n = src.count
    guard n > 0 else { return }
    if src.dtype == dst.dtype {
      copyBytes(from: src.devicePointer, to: dst.devicePointer, count: n * src.dtype.size)
      return
    }
    launch("elementwise.cu", "convert_kernel", grid: (blocks(n), 1, 1), block: (256, 1, 1),
           [p(src), d(src), p(dst), d(dst), n64(n)])
  }

  /// out = alpha*a + beta*b; 16-byte vectorised when all three are aligned bf16.
  public func addScaled(_ a: Tensor, alpha: Float, _ b: Tensor, beta: Float, out: Tensor) {
    own(a, b, out)
    precondition(a.count == b.count && a.count == out.count, "addScaled shapes \(a.shape) \(b.shape) \(out.shape)")
    let n = out.count
    guard n > 0 else { return }
    if n % 8 == 0 && bf16Aligned(a, b, out) {
      launch("elementwise.cu", "add_scaled_bf16x8_kernel", grid: (blocks(n / 8), 1, 1), block: (256, 1, 1),
             [p(a), .f32(alpha), p(b), .f32(beta), p(out), n64(n / 8)])
      return
    }
    launch("elementwise.cu", "add_scaled_kernel", grid: (blocks(n), 1, 1), block: (256, 1, 1),
           [p(a), d(a), .f32(alpha), p(b), d(b), .f32(beta), p(out), d(out), n64(n)])
  }

  /// out = alpha*x; 16-byte vectorised for aligned bf16.
  public func scale(_ x: Tensor, by alpha: Float, out: Tensor) {
    own(x, out)
    precondition(x.count == out.count, "scale shapes \(x.shape) \(out.shape)")
    let n = out.count
    guard n > 0 else { return }
    if n % 8 == 0 && bf16Aligned(x, out) {
      launch("elementwise.cu", "scale_bf16x8_kernel", grid: (blocks(n / 8), 1, 1), block: (256, 1, 1),
             [p(x), .f32(alpha), p(out), n64(n / 8)])
      return
    }
    launch("elementwise.cu", "scale_kernel", grid: (blocks(n), 1, 1), block: (256, 1, 1),
           [p(x), d(x), .f32(alpha), p(out), d(out), n64(n)])
  }

  /// Copies (or adds) a window of sequence positions between [B, T, D] tensors.
  public func copySequence(_ src: Tensor, srcStart: Int, to dst: Tensor, dstStart: Int, length: Int, accumulate: Bool) {
    own(src, dst)
    precondition(src.rank >= 2 && dst.rank >= 2, "copySequence needs [B, T, D] tensors")
    let batch = src.shape[0], ts = src.shape[1], td = dst.shape[1]
    let width = src.count / max(batch * ts, 1)
    precondition(dst.shape[0] == batch && dst.count == batch * td * width, "copySequence shapes \(src.shape) \(dst.shape)")
    precondition(srcStart >= 0 && srcStart + length <= ts && dstStart >= 0 && dstStart + length <= td, "copySequence window out of range")
    let n = batch * length * width
    guard n > 0 else { return }
    launch("elementwise.cu", "copy_sequence_kernel", grid: (blocks(n), 1, 1), block: (256, 1, 1),
           [p(src), d(src), n64(ts), n64(srcStart), p(dst), d(dst), n64(td), n64(dstStart),
            n64(batch), n64(length), n64(width), n32(accumulate ? 1 : 0)])
  }

  /// Row-wise select by an i32 mask (raw bits when dtypes match).
  public func selectRows(mask: Tensor, _ a: Tensor, _ b: Tensor, out: Tensor) {
    own(mask, a, b, out)
    precondition(mask.dtype == .i32, "selectRows mask must be i32")
    let rows = mask.count
    guard rows > 0 else { return }
    let x = out.count / rows
    precondition(b.count == out.count && (a.count == out.count || a.count == x), "selectRows shapes \(a.shape) \(b.shape) \(out.shape)")
    let n = out.count
    guard n > 0 else { return }
    launch("elementwise.cu", "select_rows_kernel", grid: (blocks(n), 1, 1), block: (256, 1, 1),
           [p(mask), p(a), d(a), n64(a.count == x && rows > 1 ? 1 : rows), p(b), d(b), p(out), d(out), n64(rows), n64(x)])
  }

  // MARK: - Linear algebra (gemm: CUDABackend+GEMM.swift)

  /// x += bias broadcast over rows.
  public func addBias(_ x: Tensor, bias: Tensor) {
    own(x, bias)
    let c = bias.count
    guard c > 0, x.count > 0 else { return }
    precondition(x.count % c == 0, "addBias shapes \(x.shape) \(bias.shape)")
    launch("elementwise.cu", "add_bias_kernel", grid: (blocks(x.count), 1, 1), block: (256, 1, 1),
           [p(x), d(x), p(bias), d(bias), n64(x.count / c), n64(c)])
  }

  /// Column sums in f64, two deterministic passes.
  public func sumRows(_ x: Tensor, out: Tensor, accumulate: Bool) {
    own(x, out)
    let cols = out.count
    guard cols > 0 else { return }
    precondition(x.count % cols == 0, "sumRows shapes \(x.shape) \(out.shape)")
    let rows = x.count / cols
    let chunks = max(1, min((rows + 63) / 64, 128))
    let partials = scratch(bytes: chunks * cols * 8)
    launch("reductions.cu", "sum_rows_partial_kernel", grid: ((cols + 31) / 32, chunks, 1), block: (32, 8, 1),
           [p(x), d(x), n64(rows), n64(cols), .ptr(partials.address)])
    launch("reductions.cu", "sum_rows_final_kernel", grid: (blocks(cols), 1, 1), block: (256, 1, 1),
           [.ptr(partials.address), n32(chunks), n64(cols), p(out), d(out), n32(accumulate ? 1 : 0)])
  }

  // MARK: - Embedding

  /// Gathers table rows by id (NaN rows for ids outside the table).
  public func embeddingForward(table: Tensor, ids: Tensor, out: Tensor) {
    own(table, ids, out)
    precondition(ids.dtype == .i32, "embedding ids must be i32")
    let rows = ids.count
    guard rows > 0 else { return }
    let width = out.count / rows
    precondition(width > 0 && table.count % width == 0, "embeddingForward shapes \(table.shape) \(out.shape)")
    launch("embedding.cu", "embedding_forward_kernel", grid: ((width + 255) / 256, min(rows, 65535), 1), block: (256, 1, 1),
           [p(table), d(table), p(ids), p(out), d(out), n64(rows), n64(width), n64(table.count / width)])
  }

  /// Scatter-adds gradient rows: deterministic two-pass sums for tables of <= 64 rows, atomics above.
  public func embeddingBackward(gradOut: Tensor, ids: Tensor, gradTable: Tensor) {
    own(gradOut, ids, gradTable)
    precondition(ids.dtype == .i32, "embedding ids must be i32")
    let rows = ids.count
    guard rows > 0 else { return }
    let width = gradOut.count / rows
    precondition(width > 0 && gradTable.count % width == 0, "embeddingBackward shapes \(gradOut.shape) \(gradTable.shape)")
    let tableRows = gradTable.count / width
    if tableRows <= 64 {
      // Deterministic: fixed row chunks summed per column, then the chunks in order.
      let chunks = max(1, min(256, (rows + 63) / 64))
      let perChunk = (rows + chunks - 1) / chunks
      let partials = scratch(bytes: chunks * tableRows * width * 4)
      launch("embedding.cu", "embedding_backward_partial_kernel", grid: (chunks, (width + 127) / 128, 1), block: (128, 1, 1),
             [p(gradOut), d(gradOut), p(ids), n64(rows), n64(width), n32(tableRows), n64(perChunk), .ptr(partials.address)])
      launch("embedding.cu", "embedding_backward_final_kernel", grid: (blocks(tableRows * width), 1, 1), block: (256, 1, 1),
             [.ptr(partials.address), n32(chunks), p(gradTable), d(gradTable), n64(tableRows), n64(width)])
    } else {
      launch("embedding.cu", "embedding_backward_atomic_kernel", grid: (blocks(gradOut.count), 1, 1), block: (256, 1, 1),
             [p(gradOut), d(gradOut), p(ids), p(gradTable), d(gradTable), n64(rows), n64(width), n64(tableRows)])
    }
  }

  // MARK: - RMSNorm

  /// Values per lane of the warp-per-row RMSNorm kernels for rows of `width`, or nil.
  private func rmsNormWarpVariant(_ width: Int) -> Int? {
    [4, 8, 16, 32].first { $0 * 32 == width }
  }

  /// RMSNorm with f32 statistics: warp per row (row in registers) for D = 128..1024, else block per row.
  public func rmsNormForward(_ x: Tensor, out: Tensor, rstd: Tensor, eps: Float) {
    own(x, out, rstd)
    precondition(rstd.dtype == .f32, "rstd must be f32")
    let rows = rstd.count
    guard rows > 0 else { return }
    let width = x.count / rows
    precondition(out.count == x.count && width * rows == x.count, "rmsNormForward shapes \(x.shape) \(rstd.shape)")
    if let vpl = rmsNormWarpVariant(width) {
      launch("rmsnorm.cu", "rmsnorm_forward_w\(vpl)", grid: (max(1, min((rows + 7) / 8, 1 << 20)), 1, 1), block: (256, 1, 1),
             [p(x), d(x), p(out), d(out), p(rstd), n64(rows), .f32(eps)])
      return
    }
    launch("rmsnorm.cu", "rmsnorm_forward_kernel", grid: (min(rows, 1 << 20), 1, 1), block: (rowThreads(width), 1, 1),
           [p(x), d(x), p(out), d(out), p(rstd), n64(rows), n32(width), .f32(eps)])
  }

  /// rmsNorm(a + b): one 16-byte vectorised warp-per-row pass for aligned bf16 rows of
  /// D = 256, 512 or 1024; otherwise the add, then the norm in place on out.
  public func addRMSNormForward(_ a: Tensor, _ b: Tensor, out: Tensor, rstd: Tensor, eps: Float) {
    own(a, b, out, rstd)
    precondition(rstd.dtype == .f32, "rstd must be f32")
    let rows = rstd.count
    guard rows > 0 else { return }
    let width = out.count / rows
    precondition(a.count == out.count && b.count == out.count && width * rows == out.count
                   && a.dtype == out.dtype && b.dtype == out.dtype, "addRMSNormForward shapes \(out.shape) \(rstd.shape)")
    if let c = [1, 2, 4].first(where: { $0 * 256 == width }), bf16Aligned(a, b, out) {
      launch("rmsnorm.cu", "add_rmsnorm_bf16_c\(c)", grid: (max(1, min((rows + 7) / 8, 1 << 20)), 1, 1), block: (256, 1, 1),
             [p(a), p(b), p(out), p(rstd), n64(rows), .f32(eps)])
      return
    }
    addScaled(a, alpha: 1, b, beta: 1, out: out)
    rmsNormForward(out, out: out, rstd: rstd, eps: eps)
  }

  /// RMSNorm backward from the forward output y and rstd.
  public func rmsNormBackward(gradOut: Tensor, y: Tensor, rstd: Tensor, gradX: Tensor) {
    own(gradOut, y, rstd, gradX)
    let rows = rstd.count
    guard rows > 0 else { return }
    let width = y.count / rows
    precondition(gradOut.count == y.count && gradX.count == y.count, "rmsNormBackward shapes")
    if let vpl = rmsNormWarpVariant(width) {
      launch("rmsnorm.cu", "rmsnorm_backward_w\(vpl)", grid: (max(1, min((rows + 7) / 8, 1 << 20)), 1, 1), block: (256, 1, 1),
             [p(gradOut), d(gradOut), p(y), d(y), p(rstd), p(gradX), d(gradX), n64(rows)])
      return
    }
    launch("rmsnorm.cu", "rmsnorm_backward_kernel", grid: (min(rows, 1 << 20), 1, 1), block: (rowThreads(width), 1, 1),
           [p(gradOut), d(gradOut), p(y), d(y), p(rstd), p(gradX), d(gradX), n64(rows), n32(width)])
  }

  // MARK: - Rotary embedding

  /// Half-split rotary embedding of the query and key heads (inverse = the transpose, for the backward).
  public func rope(_ qkv: Tensor, cos: Tensor, sin: Tensor, heads: Int, headDim: Int, inverse: Bool, out: Tensor) {
    own(qkv, cos, sin, out)
    precondition(headDim % 2 == 0 && cos.dtype == .f32 && sin.dtype == .f32, "rope needs an even head dim and f32 tables")
    let seq = cos.count / headDim
    let rowWidth = 3 * heads * headDim
    guard seq > 0, qkv.count > 0 else { return }
    let batch = qkv.count / (seq * rowWidth)
    precondition(batch * seq * rowWidth == qkv.count && out.count == qkv.count, "rope shapes \(qkv.shape) \(cos.shape)")
    if (headDim / 2) % 8 == 0 && bf16Aligned(qkv, out) {
      // In place the value heads need no copy.
      ropeVectorised(qkv, cos: cos, sin: sin, out: out, batch: batch, seq: seq, heads: heads, headDim: headDim,
                     inverse: inverse, slots: 0..<(qkv.devicePointer == out.devicePointer ? 2 : 3) * heads)
      return
    }
    let pairs = 3 * heads * (headDim / 2)
    launch("rope.cu", "rope_kernel", grid: (min(batch * seq, 1 << 20), 1, 1), block: (min(256, (pairs + 31) / 32 * 32), 1, 1),
           [p(qkv), d(qkv), p(cos), p(sin), p(out), d(out), n64(batch), n64(seq), n32(heads), n32(headDim),
            n32(inverse ? 1 : 0)])
  }

  /// rope_bf16x8_kernel over head slots `slots` of every token (query and key slots rotate,
  /// value slots copy).
  private func ropeVectorised(_ qkv: Tensor, cos: Tensor, sin: Tensor, out: Tensor, batch: Int, seq: Int, heads: Int,
                              headDim: Int, inverse: Bool, slots: Range<Int>) {
    let work = slots.count * (headDim / 16)
    launch("rope.cu", "rope_bf16x8_kernel", grid: (blocks(batch * seq * work), 1, 1), block: (256, 1, 1),
           [p(qkv), p(cos), p(sin), p(out), n64(batch), n64(seq), n32(heads), n32(headDim), n32(inverse ? 1 : 0),
            n32(slots.lowerBound), n32(slots.upperBound)])
  }

  // MARK: - Attention

  private func attentionVariant(_ headDim: Int) -> String {
    switch headDim {
    case 64: return "64"
    case 32: return "32"
    default: cudaFatal(HRMError("CUDA attention supports head_dim 64 and 32, not \(headDim)"))
    }
  }

  /// Whether the tensor-core (mma.sync bf16) attention kernels apply: bf16 operands with
  /// 16-byte aligned rows on compute capability >= 8.0, unless HRM_CUDA_ATTENTION=simple.
  func attentionUsesTensorCores(_ tensors: Tensor...) -> Bool {
    guard computeCapability >= 80, !forceSimpleAttention else { return false }
    return bf16Aligned(tensors)
  }

  /// Warpgroups per block of the Hopper (wgmma) attention forward for this call, or 0 where
  /// it does not run (kernels not built for sm_90a, head dim other than 64, HRM_CUDA_ATTN_WGS=0,
  /// or short sequences: at T = 82 it is no faster than the mma.sync kernel). 4 (256 query
  /// rows share each K/V tile) was the fastest at T = 901 (docs/perf-cuda.md, runs 17-21).
  func hopperForwardGroups(seq: Int, headDim: Int) -> Int {
    guard compiler.hopperFeatures, !forceSimpleAttention, headDim == 64 else { return 0 }
    if let w = attentionWarpgroups { return w }
    return seq > 128 ? 4 : 0
  }

  /// Warpgroups per block of the Hopper dK/dV kernel, 0 where it does not run. Off unless
  /// HRM_CUDA_ATTN_BWD_WGS asks for it: it passes the selftest but is slower than the
  /// mma.sync dK/dV kernel (2219 / 2050 against 1797 us at B96 T901 with 1 / 2 warpgroups,
  /// docs/perf-cuda.md run 32).
  func hopperBackwardKVGroups(headDim: Int) -> Int {
    guard compiler.hopperFeatures, !forceSimpleAttention, headDim == 64 else { return 0 }
    return attentionBackwardWarpgroups ?? 0
  }

  /// The same for the dQ kernel: attentionBackwardQWarpgroups, else attentionBackwardWarpgroups
  /// when that is set, else 1 for T > 128 (the Hopper dQ kernel with one warpgroup per block
  /// beside the mma.sync dK/dV kernel: 1249 against 1436 us at B96 T901, docs/perf-cuda.md
  /// run 32).
  func hopperBackwardQGroups(seq: Int, headDim: Int) -> Int {
    guard compiler.hopperFeatures, !forceSimpleAttention, headDim == 64 else { return 0 }
    if let q = attentionBackwardQWarpgroups { return q }
    if let kv = attentionBackwardWarpgroups { return kv }
    return seq > 128 ? 1 : 0
  }

  /// Warps per block of the tensor-core kernels. Forward: 8 (128 rows, one block per head)
  /// for 64 < T <= 128, else 4. Backward: 4 (its kernels use ~140-200 registers, so 8-warp
  /// blocks fit once per SM; measured 0.43 vs 0.51 ms at B384 T82, docs/perf-cuda.md run 5).
  func tensorCoreWarps(_ seq: Int, backward: Bool = false) -> Int {
    if let w = attentionWarps, w == 4 || w == 8 { return w }
    if backward { return 4 }
    return seq > 64 && seq <= 128 ? 8 : 4
  }

  /// 16-row query groups per warp of the tensor-core forward: 2 (32 rows per warp, each K/V
  /// fragment feeds two mma) for long sequences, 1 for T <= 128 where one 8-warp block
  /// already covers a head. HRM_CUDA_ATTN_ROWS / `attentionRowGroups` override.
  func attentionForwardRowGroups(_ seq: Int) -> Int {
    if let r = attentionRowGroups, r == 1 || r == 2 { return r }
    return seq > 128 ? 2 : 1
  }

  /// Whether the short-sequence forward (one block per head holding all of its Q, K, V;
  /// attention.cu, `attention_forward_short_64_c*`) serves this call.
  private func attentionShortApplies(_ qkv: Tensor, _ out: Tensor, seq: Int, headDim: Int) -> Bool {
    attentionShort && headDim == 64 && seq <= 128 && attentionUsesTensorCores(qkv, out)
  }

  /// The short-sequence forward; cos/sin nil for no rotation.
  private func launchShortAttention(qkv: Tensor, rotary: (cos: Tensor, sin: Tensor)?, rotated: Tensor?, out: Tensor,
                                    lse: Tensor, batch: Int, seq: Int, heads: Int, scale: Float) {
    let chunks = (seq + 15) / 16   // warps, and 16-key chunks
    launch("attention.cu", "attention_forward_short_64_c\(chunks)", grid: (batch * heads, 1, 1), block: (32 * chunks, 1, 1),
           sharedBytes: 3 * 16 * chunks * 72 * 2,
           [p(qkv), .ptr(rotary?.cos.devicePointer ?? 0), .ptr(rotary?.sin.devicePointer ?? 0), .ptr(rotated?.devicePointer ?? 0),
            p(out), p(lse), n32(seq), n32(heads), .f32(scale)])
  }

  /// RoPE + attention: rotated while loading in the short-sequence kernel, else `rope` then
  /// `attentionForward`.
  public func attentionForwardRotary(qkv: Tensor, cos: Tensor, sin: Tensor, rotated: Tensor?, out: Tensor, lse: Tensor,
                                     batch: Int, seq: Int, heads: Int, headDim: Int, scale: Float) {
    own(qkv, cos, sin, out, lse)
    if let r = rotated { own(r); precondition(r.count == qkv.count, "rotary attention: rotated must be shaped as qkv") }
    precondition(cos.dtype == .f32 && sin.dtype == .f32 && cos.count == seq * headDim && sin.count == cos.count,
                 "rotary attention: cos/sin must be f32 [T, Dh]")
    checkAttentionShapes(qkv: qkv, out: out, lse: lse, batch: batch, seq: seq, heads: heads, headDim: headDim)
    guard batch * seq * heads > 0 else { return }
    if !attentionFusedRoPE {
      composedRotaryAttention(qkv: qkv, cos: cos, sin: sin, rotated: rotated, out: out, lse: lse, batch: batch,
                              seq: seq, heads: heads, headDim: headDim, scale: scale)
      return
    }
    if attentionShortApplies(qkv, out, seq: seq, headDim: headDim) && rotated.map({ bf16Aligned($0) }) ?? true {
      launchShortAttention(qkv: qkv, rotary: (cos, sin), rotated: rotated, out: out, lse: lse, batch: batch,
                           seq: seq, heads: heads, scale: scale)
      return
    }
    let wgs = hopperForwardGroups(seq: seq, headDim: headDim)
    if rotated == nil && wgs > 0 && attentionUsesTensorCores(qkv, out) {
      // One rope pass writes the rotated query and key heads into a qkv-shaped scratch; the
      // Hopper forward reads Q and K there and V from qkv (no full rotated copy).
      let rotatedHeads = Tensor.empty(qkv.shape, qkv.dtype, on: self)
      ropeVectorised(qkv, cos: cos, sin: sin, out: rotatedHeads, batch: batch, seq: seq, heads: heads, headDim: headDim,
                     inverse: false, slots: 0..<(2 * heads))
      launchHopperAttention(qkv: rotatedHeads, values: qkv, out: out, lse: lse, batch: batch, seq: seq, heads: heads,
                            scale: scale, warpgroups: wgs)
      return
    }
    composedRotaryAttention(qkv: qkv, cos: cos, sin: sin, rotated: rotated, out: out, lse: lse, batch: batch,
                            seq: seq, heads: heads, headDim: headDim, scale: scale)
  }

  /// The Hopper (wgmma) forward: Q and K from qkv, V from `values` (qkv-shaped).
  private func launchHopperAttention(qkv: Tensor, values: Tensor, out: Tensor, lse: Tensor, batch: Int, seq: Int,
                                     heads: Int, scale: Float, warpgroups wgs: Int) {
    // Four 16 KB K/V tiles and 2 KB per warp for staging O in dynamic shared memory, and 1 KB
    // to start the (swizzled) tiles on a 1024-byte boundary (attention.cu).
    launch("attention.cu", "attention_forward_wg_64_g\(wgs)", grid: ((seq + 64 * wgs - 1) / (64 * wgs), batch * heads, 1),
           block: (128 * wgs, 1, 1), sharedBytes: 4 * 16384 + 4 * wgs * 2048 + 1024,
           [p(qkv), p(values), p(out), d(out), p(lse), n32(seq), n32(heads), .f32(scale)])
  }

  private func checkAttentionShapes(qkv: Tensor, out: Tensor, lse: Tensor, batch: Int, seq: Int, heads: Int, headDim: Int) {
    precondition(lse.dtype == .f32 && lse.count == batch * heads * seq, "attention lse must be f32 [B, H, T]")
    precondition(qkv.count == batch * seq * 3 * heads * headDim && out.count == batch * seq * heads * headDim, "attention shapes")
  }

  /// Fused attention: the short-sequence kernel for T <= 128, Hopper wgmma or mma.sync
  /// tensor-core kernels for bf16, f32 CUDA-core kernels otherwise.
  public func attentionForward(qkv: Tensor, out: Tensor, lse: Tensor, batch: Int, seq: Int,
                               heads: Int, headDim: Int, scale: Float) {
    own(qkv, out, lse)
    checkAttentionShapes(qkv: qkv, out: out, lse: lse, batch: batch, seq: seq, heads: heads, headDim: headDim)
    guard batch * seq * heads > 0 else { return }
    if attentionShortApplies(qkv, out, seq: seq, headDim: headDim) {
      launchShortAttention(qkv: qkv, rotary: nil, rotated: nil, out: out, lse: lse, batch: batch, seq: seq,
                           heads: heads, scale: scale)
      return
    }
    let v = attentionVariant(headDim)
    let wgs = hopperForwardGroups(seq: seq, headDim: headDim)
    if wgs > 0 && attentionUsesTensorCores(qkv) {
      launchHopperAttention(qkv: qkv, values: qkv, out: out, lse: lse, batch: batch, seq: seq, heads: heads,
                            scale: scale, warpgroups: wgs)
      return
    }
    if attentionUsesTensorCores(qkv) {
      let rg = attentionForwardRowGroups(seq)
      let w = rg == 2 ? (attentionWarps ?? 4) : tensorCoreWarps(seq)
      let rows = 16 * w * rg
      let m = attentionMinBlocks && w == 4 ? "_m" : ""
      launch("attention.cu", "attention_forward_tc_\(v)_w\(w)" + (rg == 2 ? "_r2" : "") + m,
             grid: ((seq + rows - 1) / rows, batch * heads, 1),
             block: (32 * w, 1, 1), [p(qkv), p(out), d(out), p(lse), n32(seq), n32(heads), .f32(scale)])
      return
    }
    launch("attention.cu", "attention_forward_\(v)", grid: ((seq + 63) / 64, batch * heads, 1), block: (64, 1, 1),
           [p(qkv), d(qkv), p(out), d(out), p(lse), n32(seq), n32(heads), .f32(scale)])
  }

  /// Fused attention backward: delta = rowsum(dO*O), then a dK/dV kernel and a dQ kernel.
  public func attentionBackward(qkv: Tensor, out: Tensor, lse: Tensor, gradOut: Tensor, gradQKV: Tensor,
                                batch: Int, seq: Int, heads: Int, headDim: Int, scale: Float) {
    own(qkv, out, lse, gradOut, gradQKV)
    precondition(gradQKV.count == qkv.count && gradOut.count == out.count, "attention backward shapes")
    guard batch * seq * heads > 0 else { return }
    let v = attentionVariant(headDim)
    let rows = batch * seq * heads
    let delta = scratch(bytes: rows * 4)
    if headDim % 8 == 0 && (headDim / 8) & (headDim / 8 - 1) == 0 && headDim <= 256 && bf16Aligned(out, gradOut) {
      launch("attention.cu", "attention_backward_delta_bf16", grid: (blocks(rows * headDim / 8), 1, 1), block: (256, 1, 1),
             [p(out), p(gradOut), .ptr(delta.address), n32(batch), n32(seq), n32(heads), n32(headDim)])
    } else {
      launch("attention.cu", "attention_backward_delta", grid: (max(1, min((rows + 7) / 8, 1 << 20)), 1, 1), block: (256, 1, 1),
             [p(out), d(out), p(gradOut), d(gradOut), .ptr(delta.address), n32(batch), n32(seq), n32(heads), n32(headDim)])
    }
    let grid = ((seq + 63) / 64, batch * heads, 1)
    if attentionUsesTensorCores(qkv, gradOut) {
      let args: [KernelArg] = [p(qkv), p(lse), .ptr(delta.address), p(gradOut), p(gradQKV), d(gradQKV),
                               n32(seq), n32(heads), .f32(scale)]
      // Each of the two kernels: Hopper (wgmma) with `wgs` warpgroups per block, or mma.sync.
      let kvGroups = hopperBackwardKVGroups(headDim: headDim)
      let qGroups = hopperBackwardQGroups(seq: seq, headDim: headDim)
      let w = tensorCoreWarps(seq, backward: true)
      let tcGrid = ((seq + 16 * w - 1) / (16 * w), batch * heads, 1)
      let capped = attentionMinBlocks && w == 4   // the register-capped `_m` mma.sync kernels
      let m = capped ? "_m" : ""
      func wgGrid(_ wgs: Int) -> (Int, Int, Int) { ((seq + 64 * wgs - 1) / (64 * wgs), batch * heads, 1) }
      if attentionBackwardPair && kvGroups == 0 && qGroups == 1 && capped {
        // The default pair (mma.sync dK/dV, one-warpgroup dQ) as one launch, the two kinds of
        // block interleaved; 64 KB of dynamic shared memory + 1 KB for alignment (attention.cu).
        launch("attention.cu", "attention_backward_pair_64", grid: (2 * ((seq + 63) / 64), batch * heads, 1),
               block: (128, 1, 1), sharedBytes: 4 * 16384 + 1024, args)
        return
      }
      if kvGroups > 0 {
        // dK/dV: three 16 KB Q/dO tiles and three 512-byte lse/delta tiles (attention.cu).
        launch("attention.cu", "attention_backward_kv_wg_64_g\(kvGroups)", grid: wgGrid(kvGroups), block: (128 * kvGroups, 1, 1),
               sharedBytes: 3 * 16384 + 3 * 512, args)
      } else {
        launch("attention.cu", "attention_backward_kv_tc_\(v)_w\(w)\(m)", grid: tcGrid, block: (32 * w, 1, 1), args)
      }
      if qGroups > 0 {
        // dQ: four 16 KB K/V tiles + 1 KB for alignment (attention.cu).
        launch("attention.cu", "attention_backward_q_wg_64_g\(qGroups)", grid: wgGrid(qGroups), block: (128 * qGroups, 1, 1),
               sharedBytes: 4 * 16384 + 1024, args)
      } else {
        launch("attention.cu", "attention_backward_q_tc_\(v)_w\(w)\(m)", grid: tcGrid, block: (32 * w, 1, 1), args)
      }
      return
    }
    let args: [KernelArg] = [p(qkv), d(qkv), p(lse), .ptr(delta.address), p(gradOut), d(gradOut), p(gradQKV), d(gradQKV),
                             n32(seq), n32(heads), .f32(scale)]
    launch("attention.cu", "attention_backward_kv_\(v)", grid: grid, block: (64, 1, 1), args)
    launch("attention.cu", "attention_backward_q_\(v)", grid: grid, block: (64, 1, 1), args)
  }

  // MARK: - SwiGLU

  /// silu(gate) * up; 16-byte vectorised for aligned bf16.
  public func swigluForward(_ gateUp: Tensor, out: Tensor) {
    own(gateUp, out)
    guard out.count > 0 else { return }
    let inner = out.shape.last!
    let rows = out.count / inner
    precondition(gateUp.count == 2 * out.count, "swiglu shapes \(gateUp.shape) \(out.shape)")
    if inner % 8 == 0 && rows * (inner / 8) < Int(Int32.max) && bf16Aligned(gateUp, out) {
      let total8 = rows * (inner / 8)
      launch("swiglu.cu", "swiglu_forward_bf16x8_kernel", grid: (max(1, min((total8 + 511) / 512, multiprocessorCount * 32)), 1, 1),
             block: (256, 1, 1), [p(gateUp), p(out), n32(total8), n32(inner / 8)])
      return
    }
    launch("swiglu.cu", "swiglu_forward_kernel", grid: ((inner + 255) / 256, min(rows, 65535), 1), block: (256, 1, 1),
           [p(gateUp), d(gateUp), p(out), d(out), n64(rows), n64(inner)])
  }

  /// SwiGLU backward into the fused gate/up gradient.
  public func swigluBackward(gateUp: Tensor, gradOut: Tensor, gradGateUp: Tensor) {
    own(gateUp, gradOut, gradGateUp)
    guard gradOut.count > 0 else { return }
    let inner = gradOut.shape.last!
    let rows = gradOut.count / inner
    precondition(gateUp.count == 2 * gradOut.count && gradGateUp.count == gateUp.count, "swiglu backward shapes")
    if inner % 8 == 0 && rows * (inner / 8) < Int(Int32.max) && bf16Aligned(gateUp, gradOut, gradGateUp) {
      let total8 = rows * (inner / 8)
      launch("swiglu.cu", "swiglu_backward_bf16x8_kernel", grid: (max(1, min((total8 + 255) / 256, multiprocessorCount * 32)), 1, 1),
             block: (256, 1, 1), [p(gateUp), p(gradOut), p(gradGateUp), n32(total8), n32(inner / 8)])
      return
    }
    launch("swiglu.cu", "swiglu_backward_kernel", grid: ((inner + 255) / 256, min(rows, 65535), 1), block: (256, 1, 1),
           [p(gateUp), d(gateUp), p(gradOut), d(gradOut), p(gradGateUp), d(gradGateUp), n64(rows), n64(inner)])
  }

  // MARK: - Losses

  private func ceKind(_ kind: CrossEntropyKind) -> KernelArg { .i32(kind == .stablemax ? 0 : 1) }

  /// Per-row cross-entropy (stablemax in f64, softmax in f32), one warp per row.
  public func crossEntropyForward(kind: CrossEntropyKind, logits: Tensor, labels: Tensor, losses: Tensor) {
    own(logits, labels, losses)
    precondition(labels.dtype == .i32 && losses.dtype == .f32, "crossEntropy labels i32, losses f32")
    let rows = labels.count
    guard rows > 0 else { return }
    let vocab = logits.count / rows
    precondition(vocab * rows == logits.count && losses.count == rows, "crossEntropy shapes \(logits.shape) \(labels.shape)")
    launch("losses.cu", "cross_entropy_forward_kernel", grid: (max(1, min((rows + 7) / 8, 1 << 20)), 1, 1), block: (256, 1, 1),
           [ceKind(kind), p(logits), d(logits), p(labels), p(losses), n64(rows), n32(vocab)])
  }

  /// Cross-entropy gradient scaled by gradScale[0] * weights[n]; zero rows for ignored labels.
  public func crossEntropyBackward(kind: CrossEntropyKind, logits: Tensor, labels: Tensor, weights: Tensor,
                                   gradScale: Tensor, gradLogits: Tensor) {
    own(logits, labels, weights, gradScale, gradLogits)
    precondition(weights.dtype == .f32 && gradScale.dtype == .f32, "crossEntropy weights and gradScale must be f32")
    let rows = labels.count
    guard rows > 0 else { return }
    let vocab = logits.count / rows
    precondition(gradLogits.count == logits.count && weights.count == rows, "crossEntropyBackward shapes")
    launch("losses.cu", "cross_entropy_backward_kernel", grid: (max(1, min((rows + 7) / 8, 1 << 20)), 1, 1), block: (256, 1, 1),
           [ceKind(kind), p(logits), d(logits), p(labels), p(weights), p(gradScale), p(gradLogits), d(gradLogits),
            n64(rows), n32(vocab)])
  }

  /// Numerically stable BCE with logits, elementwise.
  public func bceWithLogitsForward(logits: Tensor, targets: Tensor, losses: Tensor) {
    own(logits, targets, losses)
    precondition(losses.dtype == .f32 && logits.count == targets.count && losses.count == logits.count, "bce shapes")
    let n = logits.count
    guard n > 0 else { return }
    launch("losses.cu", "bce_forward_kernel", grid: (blocks(n), 1, 1), block: (256, 1, 1),
           [p(logits), d(logits), p(targets), d(targets), p(losses), n64(n)])
  }

  /// gradScale[0] * (sigmoid(x) - t), elementwise.
  public func bceWithLogitsBackward(logits: Tensor, targets: Tensor, gradScale: Tensor, gradLogits: Tensor) {
    own(logits, targets, gradScale, gradLogits)
    precondition(gradScale.dtype == .f32 && gradLogits.count == logits.count, "bce backward shapes")
    let n = logits.count
    guard n > 0 else { return }
    launch("losses.cu", "bce_backward_kernel", grid: (blocks(n), 1, 1), block: (256, 1, 1),
           [p(logits), d(logits), p(targets), d(targets), p(gradScale), p(gradLogits), d(gradLogits), n64(n)])
  }

  /// Per-sequence loss weights 1 / max(n_b, 1) on valid labels.
  public func rowNormalizedWeights(labels: Tensor, weights: Tensor) {
    own(labels, weights)
    precondition(labels.dtype == .i32 && weights.dtype == .f32 && weights.count == labels.count, "rowNormalizedWeights types")
    guard labels.count > 0 else { return }
    let rows = labels.rank >= 2 ? labels.shape[0] : 1
    let seq = labels.count / rows
    launch("losses.cu", "row_normalized_weights_kernel", grid: (min(rows, 1 << 20), 1, 1), block: (rowThreads(seq * 4), 1, 1),
           [p(labels), p(weights), n64(rows), n64(seq)])
  }

  // MARK: - Reductions and metrics

  private func reduce(kind: Int32, _ a: Tensor, _ b: Tensor?, out: Tensor, accumulate: Bool) {
    own(a, out)
    precondition(out.dtype == .f32 && out.count >= 1, "reduction output must be f32 [1]")
    let n = a.count
    let groups = max(1, min((n + 255) / 256, 1024))
    let partials = scratch(bytes: groups * 8)
    let other = b ?? a
    launch("reductions.cu", "reduce_partial_kernel", grid: (groups, 1, 1), block: (256, 1, 1),
           [.i32(kind), p(a), d(a), p(other), d(other), n64(n), .ptr(partials.address)])
    launch("reductions.cu", "reduce_final_kernel", grid: (1, 1, 1), block: (256, 1, 1),
           [.ptr(partials.address), n32(groups), p(out), n32(accumulate ? 1 : 0)])
  }

  /// Sum in f64 (two deterministic passes) into a one-element f32 tensor.
  public func sum(_ x: Tensor, out: Tensor, accumulate: Bool) {
    reduce(kind: 0, x, nil, out: out, accumulate: accumulate)
  }

  /// Dot product in f64 (two deterministic passes).
  public func dot(_ a: Tensor, _ b: Tensor, out: Tensor, accumulate: Bool) {
    own(b)
    precondition(a.count == b.count, "dot of \(a.count) and \(b.count) elements")
    reduce(kind: 1, a, b, out: out, accumulate: accumulate)
  }

  /// Squared L2 norm in f64 (two deterministic passes).
  public func sumOfSquares(_ x: Tensor, out: Tensor, accumulate: Bool) {
    reduce(kind: 2, x, nil, out: out, accumulate: accumulate)
  }

  /// Per-row valid / correct counts and sequence correctness (argmax ties: lowest index).
  public func tokenCorrectness(logits: Tensor, labels: Tensor, valid: Tensor, correct: Tensor, seqCorrect: Tensor) {
    own(logits, labels, valid, correct, seqCorrect)
    precondition(labels.dtype == .i32 && valid.dtype == .i32 && correct.dtype == .i32 && seqCorrect.dtype == .f32,
                 "tokenCorrectness types")
    let batch = valid.count
    guard batch > 0 else { return }
    let seq = labels.count / batch
    let vocab = seq > 0 ? logits.count / (batch * seq) : 1
    launch("reductions.cu", "token_correctness_kernel", grid: (min(batch, 1 << 20), 1, 1), block: (256, 1, 1),
           [p(logits), d(logits), p(labels), p(valid), p(correct), p(seqCorrect), n64(batch), n64(seq), n32(vocab)])
  }

  /// Row argmax, one warp per row (ties: lowest index).
  public func argmax(_ logits: Tensor, out: Tensor) {
    own(logits, out)
    precondition(out.dtype == .i32, "argmax output must be i32")
    let rows = out.count
    guard rows > 0 else { return }
    let vocab = logits.count / rows
    launch("reductions.cu", "argmax_kernel", grid: (max(1, min((rows + 7) / 8, 1 << 20)), 1, 1), block: (256, 1, 1),
           [p(logits), d(logits), p(out), n64(rows), n32(vocab)])
  }

  // MARK: - ACT bookkeeping

  /// One ACT halting decision per row, on the device.
  public func actHalt(steps: Tensor, qHalt: Tensor, qCont: Tensor, minSteps: Tensor, maxSteps: Int,
                      useQ: Bool, halted: Tensor) {
    own(steps, qHalt, qCont, minSteps, halted)
    precondition(steps.dtype == .i32 && halted.dtype == .i32 && minSteps.dtype == .i32, "actHalt: steps, minSteps, halted are i32")
    let n = steps.count
    guard n > 0 else { return }
    launch("act.cu", "act_halt_kernel", grid: (blocks(n), 1, 1), block: (256, 1, 1),
           [p(steps), p(qHalt), d(qHalt), p(qCont), d(qCont), p(minSteps), n32(maxSteps), n32(useQ ? 1 : 0), p(halted), n64(n)])
  }

  /// The Q-learning continue target per row, on the device.
  public func actTarget(nextQHalt: Tensor, nextQCont: Tensor, steps: Tensor, maxSteps: Int, target: Tensor) {
    own(nextQHalt, nextQCont, steps, target)
    precondition(steps.dtype == .i32, "actTarget: steps is i32")
    let n = target.count
    guard n > 0 else { return }
    launch("act.cu", "act_target_kernel", grid: (blocks(n), 1, 1), block: (256, 1, 1),
           [p(nextQHalt), d(nextQHalt), p(nextQCont), d(nextQCont), p(steps), n32(maxSteps), p(target), d(target), n64(n)])
  }

  // MARK: - Optimisers

  /// Fused AdamATan2 step (reference form), f32.
  public func adamATan2Step(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, lr: Float, beta1: Float,
                            beta2: Float, weightDecay: Float, biasCorrection1: Float, biasCorrection2: Float) {
    own(param, grad, m, v)
    precondition(param.dtype == .f32 && m.dtype == .f32 && v.dtype == .f32, "AdamATan2 state and parameters are f32")
    precondition(grad.count == param.count && m.count == param.count && v.count == param.count, "AdamATan2 shapes")
    let n = param.count
    guard n > 0 else { return }
    launch("optimisers.cu", "adam_atan2_kernel", grid: (blocks(n), 1, 1), block: (256, 1, 1),
           [p(param), p(grad), d(grad), p(m), p(v), n64(n), .f32(lr), .f32(beta1), .f32(beta2), .f32(weightDecay),
            .f32(biasCorrection1), .f32(biasCorrection2)])
  }

  /// Sparse sign-SGD: each distinct id updated once, duplicates summed in row order.
  public func sparseSignSGDStep(table: Tensor, ids: Tensor, grads: Tensor, lr: Float, weightDecay: Float) {
    own(table, ids, grads)
    precondition(table.dtype == .f32 && ids.dtype == .i32, "sparse sign-SGD: f32 table, i32 ids")
    let rows = ids.count
    guard rows > 0 else { return }
    let width = grads.count / rows
    precondition(width > 0 && table.count % width == 0, "sparseSignSGDStep shapes \(table.shape) \(grads.shape)")
    launch("optimisers.cu", "sparse_sign_sgd_kernel", grid: (min(rows, 1 << 20), 1, 1), block: (128, 1, 1),
           [p(table), p(ids), p(grads), d(grads), n64(rows), n64(width), n64(table.count / width), .f32(lr), .f32(weightDecay)])
  }
}
