// CUDABench.swift: timings of the main kernels at HRM's model sizes (the numbers behind
// docs/perf-cuda.md). Each op is warmed up, then run `repeats` times between two
// synchronisations; the median of several such rounds is reported with the achieved rate
// against the byte or flop count the op must move or do.

import Foundation
import HRMSupport
import HRMTensor

/// One timed op.
public struct BenchResult: Sendable {
  /// Op and shape, e.g. "rope bf16 in place [31488,1536]".
  public let name: String
  /// Median milliseconds per call.
  public let milliseconds: Double
  /// "123.4 TFLOP/s" or "2.1 TB/s" (from the counted work), or empty.
  public let rate: String
}

/// Kernel timings on any backend (meant for the GPU).
public enum BackendBench {
  static func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }

  /// Median ms per call of `body` over `rounds` rounds of `repeats` calls.
  static func time(_ be: Backend, repeats: Int = 20, rounds: Int = 5, _ body: () -> Void) -> Double {
    for _ in 0..<3 { body() }
    be.synchronize()
    var samples: [Double] = []
    for _ in 0..<rounds {
      let t0 = now()
      for _ in 0..<repeats { body() }
      be.synchronize()
      samples.append((now() - t0) * 1000 / Double(repeats))
    }
    return samples.sorted()[samples.count / 2]
  }

  static func rate(flops: Double, ms: Double) -> String { String(format: "%.1f TFLOP/s", flops / (ms * 1e-3) / 1e12) }
  static func rate(bytes: Double, ms: Double) -> String { String(format: "%.2f TB/s", bytes / (ms * 1e-3) / 1e12) }

  /// Runs the benchmark; `batch` is the per-GPU batch (sequence T = 82, D = 512, 8 heads).
  /// `only`: substrings of op names to time (empty: all).
  public static func run(on be: Backend, batch: Int = 384, only: [String] = [], report: (BenchResult) -> Void) {
    func want(_ name: String) -> Bool { only.isEmpty || only.contains { name.lowercased().contains($0.lowercased()) } }
    var rng = HRMRandom(seed: 7)
    // 1 Mi random normals, tiled: random-looking data without minutes of host work.
    let block = (0..<(1 << 20)).map { _ in Float(rng.normal()) }
    func randn(_ n: Int, _ s: Float = 1) -> [Float] { (0..<n).map { block[$0 & ((1 << 20) - 1)] * s } }
    func t(_ shape: [Int], _ dtype: DType, _ s: Float = 1) -> Tensor {
      Tensor(randn(shape.reduce(1, *), s), shape: shape, dtype: dtype, on: be)
    }
    func emit(_ name: String, _ ms: Double, _ rate: String) { report(BenchResult(name: name, milliseconds: ms, rate: rate)) }

    // Ceilings: device-to-device copy and a large bf16 GEMM.
    if want("copy 1 GiB") || want("gemm bf16 8192") {
      let n = 256 << 20  // 256 Mi floats = 1 GiB
      let a = Tensor.empty([n], .f32, on: be), b = Tensor.empty([n], .f32, on: be)
      be.fill(a, value: 1.5)
      let ms = time(be, repeats: 5) { be.copy(a, to: b) }
      emit("copy 1 GiB (read+write)", ms, rate(bytes: 2 * Double(n) * 4, ms: ms))
      let s = 8192
      let x = t([s, s], .bf16), y = t([s, s], .bf16), z = Tensor.empty([s, s], .bf16, on: be)
      let gms = time(be, repeats: 5) { be.gemm(transA: false, transB: false, m: s, n: s, k: s, alpha: 1, x, y, beta: 0, z) }
      emit("gemm bf16 8192^3", gms, rate(flops: 2 * pow(Double(s), 3), ms: gms))
    }

    let (seq, d, heads, headDim, inner) = (82, 512, 8, 64, 1536)
    let rows = batch * seq
    let b = "B\(batch)"
    func timed(_ name: String, _ rate: (Double) -> String, _ body: () -> Void) {
      guard want(name) else { return }
      let ms = time(be, body)
      emit(name, ms, rate(ms))
    }
    func flops(_ f: Double) -> (Double) -> String { { BackendBench.rate(flops: f, ms: $0) } }
    func bytes(_ n: Double) -> (Double) -> String { { BackendBench.rate(bytes: n, ms: $0) } }

    let x = t([rows, d], .bf16)
    let wqkv = t([3 * d, d], .f32, 0.044), wo = t([d, d], .f32, 0.044)
    let wgu = t([2 * inner, d], .f32, 0.044), wdown = t([d, inner], .f32, 0.025)
    let wqkv16 = Tensor.empty([3 * d, d], .bf16, on: be)
    be.copy(wqkv, to: wqkv16)
    let qkv = t([batch, seq, 3 * d], .bf16)
    let attn = Tensor.empty([batch, seq, d], .bf16, on: be)
    let lse = Tensor.empty([batch, heads, seq], .f32, on: be)
    let gu = t([rows, 2 * inner], .bf16)
    let h = Tensor.empty([rows, inner], .bf16, on: be)
    let y = Tensor.empty([rows, d], .bf16, on: be)
    let gy = t([rows, d], .bf16)
    let rstd = Tensor.empty([rows], .f32, on: be)

    for (name, m, n, k, a, w, c) in [
      ("gemm qkv (f32 W -> bf16)", rows, 3 * d, d, x, wqkv, qkv), ("gemm qkv (bf16 W)", rows, 3 * d, d, x, wqkv16, qkv),
      ("gemm gate_up", rows, 2 * inner, d, x, wgu, gu), ("gemm down", rows, d, inner, h, wdown, y),
      ("gemm o_proj", rows, d, d, attn, wo, y),
    ] {
      timed("\(name) \(m)x\(n)x\(k)", flops(2 * Double(m * n * k))) {
        be.gemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a, w, beta: 0, c)
      }
    }
    let scale = 1 / Float(headDim).squareRoot()
    let attnFlops = 4 * Double(batch * heads) * Double(seq * seq) * Double(headDim)
    be.attentionForward(qkv: qkv, out: attn, lse: lse, batch: batch, seq: seq, heads: heads, headDim: headDim, scale: scale)
    timed("attentionForward bf16 \(b) T\(seq) H\(heads)", flops(attnFlops)) {
      be.attentionForward(qkv: qkv, out: attn, lse: lse, batch: batch, seq: seq, heads: heads, headDim: headDim, scale: scale)
    }
    let (cosT, sinT) = ropeTables(length: seq, headDim: headDim, theta: 10000, on: be)   // the model's tables
    timed("attentionForwardRotary bf16 \(b) T\(seq) H\(heads)", flops(attnFlops)) {
      be.attentionForwardRotary(qkv: qkv, cos: cosT, sin: sinT, rotated: nil, out: attn, lse: lse, batch: batch, seq: seq,
                                heads: heads, headDim: headDim, scale: scale)
    }
    let gattn = t([batch, seq, d], .bf16, 0.1)
    let gqkv = Tensor.empty([batch, seq, 3 * d], .bf16, on: be)
    timed("attentionBackward bf16 \(b) T\(seq) H\(heads)", flops(2.5 * attnFlops)) {
      be.attentionBackward(qkv: qkv, out: attn, lse: lse, gradOut: gattn, gradQKV: gqkv, batch: batch, seq: seq,
                           heads: heads, headDim: headDim, scale: scale)
    }
    if let cuda = be as? CUDABackend {
      // The tensor-core kernels with each block size, and at a long sequence; the Hopper
      // wgmma forward (where built) with 1 and 2 warpgroups per block, 0 = off.
      let savedGroups = cuda.attentionWarpgroups, savedBackwardGroups = cuda.attentionBackwardWarpgroups
      let hopperGroups = cuda.compiler.hopperFeatures ? [1, 2, 3, 4] : []
      cuda.attentionWarpgroups = 0
      cuda.attentionBackwardWarpgroups = 0
      for w in [4, 8] {
        cuda.attentionWarps = w
        timed("attentionForward bf16 \(b) T\(seq) H\(heads) \(w) warps", flops(attnFlops)) {
          be.attentionForward(qkv: qkv, out: attn, lse: lse, batch: batch, seq: seq, heads: heads, headDim: headDim, scale: scale)
        }
        timed("attentionBackward bf16 \(b) T\(seq) H\(heads) \(w) warps", flops(2.5 * attnFlops)) {
          be.attentionBackward(qkv: qkv, out: attn, lse: lse, gradOut: gattn, gradQKV: gqkv, batch: batch, seq: seq,
                               heads: heads, headDim: headDim, scale: scale)
        }
      }
      cuda.attentionWarps = nil
      let savedRows = cuda.attentionRowGroups
      for rg in [1, 2] {
        cuda.attentionRowGroups = rg
        timed("attentionForward bf16 \(b) T\(seq) H\(heads) \(rg) row groups", flops(attnFlops)) {
          be.attentionForward(qkv: qkv, out: attn, lse: lse, batch: batch, seq: seq, heads: heads, headDim: headDim, scale: scale)
        }
      }
      cuda.attentionRowGroups = savedRows
      for wgs in hopperGroups {
        cuda.attentionWarpgroups = wgs
        timed("attentionForward bf16 \(b) T\(seq) H\(heads) wgmma, \(wgs) warpgroups", flops(attnFlops)) {
          be.attentionForward(qkv: qkv, out: attn, lse: lse, batch: batch, seq: seq, heads: heads, headDim: headDim, scale: scale)
        }
      }
      cuda.attentionWarpgroups = 0
      for wgs in hopperGroups where wgs <= 2 {
        cuda.attentionBackwardWarpgroups = wgs
        timed("attentionBackward bf16 \(b) T\(seq) H\(heads) wgmma, \(wgs) warpgroups", flops(2.5 * attnFlops)) {
          be.attentionBackward(qkv: qkv, out: attn, lse: lse, gradOut: gattn, gradQKV: gqkv, batch: batch, seq: seq,
                               heads: heads, headDim: headDim, scale: scale)
        }
      }
      cuda.attentionBackwardWarpgroups = 0
      if want("attention") {
        cuda.attentionWarpgroups = savedGroups   // the first lines time the default kernels
        cuda.attentionBackwardWarpgroups = savedBackwardGroups
        let (lb, lt) = (max(1, batch / 4), 901)   // Maze/ARC length, the (96, 900) issue shape at B384
        let lq = t([lb, lt, 3 * d], .bf16), lo = Tensor.empty([lb, lt, d], .bf16, on: be)
        let ll = Tensor.empty([lb, heads, lt], .f32, on: be), lg = t([lb, lt, d], .bf16, 0.1)
        let lgq = Tensor.empty([lb, lt, 3 * d], .bf16, on: be)
        let lf = 4 * Double(lb * heads) * Double(lt * lt) * Double(headDim)
        timed("attentionForward bf16 B\(lb) T\(lt) H\(heads)", flops(lf)) {
          be.attentionForward(qkv: lq, out: lo, lse: ll, batch: lb, seq: lt, heads: heads, headDim: headDim, scale: scale)
        }
        let (lcos, lsin) = ropeTables(length: lt, headDim: headDim, theta: 10000, on: be)
        timed("attentionForwardRotary bf16 B\(lb) T\(lt) H\(heads)", flops(lf)) {
          be.attentionForwardRotary(qkv: lq, cos: lcos, sin: lsin, rotated: nil, out: lo, lse: ll, batch: lb, seq: lt,
                                    heads: heads, headDim: headDim, scale: scale)
        }
        cuda.attentionFusedRoPE = false
        timed("attentionForwardRotary bf16 B\(lb) T\(lt) H\(heads) as rope + attention", flops(lf)) {
          be.attentionForwardRotary(qkv: lq, cos: lcos, sin: lsin, rotated: nil, out: lo, lse: ll, batch: lb, seq: lt,
                                    heads: heads, headDim: headDim, scale: scale)
        }
        cuda.attentionFusedRoPE = true
        timed("attentionBackward bf16 B\(lb) T\(lt) H\(heads)", flops(2.5 * lf)) {
          be.attentionBackward(qkv: lq, out: lo, lse: ll, gradOut: lg, gradQKV: lgq, batch: lb, seq: lt, heads: heads,
                               headDim: headDim, scale: scale)
        }
        cuda.attentionWarpgroups = 0   // the mma.sync kernels from here
        cuda.attentionBackwardWarpgroups = 0
        let savedMinBlocks = cuda.attentionMinBlocks
        for minBlocks in [false, true] {
          cuda.attentionMinBlocks = minBlocks
          let tag = minBlocks ? ", capped registers" : ""
          for rg in [1, 2] {
            cuda.attentionRowGroups = rg
            timed("attentionForward bf16 B\(lb) T\(lt) H\(heads) \(rg) row groups\(tag)", flops(lf)) {
              be.attentionForward(qkv: lq, out: lo, lse: ll, batch: lb, seq: lt, heads: heads, headDim: headDim, scale: scale)
            }
          }
          cuda.attentionRowGroups = savedRows
          timed("attentionBackward bf16 B\(lb) T\(lt) H\(heads)\(tag)", flops(2.5 * lf)) {
            be.attentionBackward(qkv: lq, out: lo, lse: ll, gradOut: lg, gradQKV: lgq, batch: lb, seq: lt, heads: heads,
                                 headDim: headDim, scale: scale)
          }
        }
        cuda.attentionMinBlocks = savedMinBlocks
        for minBlocks in [false, true] {   // the short (T = 82) heads, 4-warp blocks
          cuda.attentionMinBlocks = minBlocks
          cuda.attentionWarps = 4
          timed("attentionBackward bf16 \(b) T\(seq) H\(heads) 4 warps\(minBlocks ? ", capped registers" : "")", flops(2.5 * attnFlops)) {
            be.attentionBackward(qkv: qkv, out: attn, lse: lse, gradOut: gattn, gradQKV: gqkv, batch: batch, seq: seq,
                                 heads: heads, headDim: headDim, scale: scale)
          }
          cuda.attentionWarps = nil
        }
        cuda.attentionMinBlocks = savedMinBlocks
        for wgs in hopperGroups {
          cuda.attentionWarpgroups = wgs
          timed("attentionForward bf16 B\(lb) T\(lt) H\(heads) wgmma, \(wgs) warpgroups", flops(lf)) {
            be.attentionForward(qkv: lq, out: lo, lse: ll, batch: lb, seq: lt, heads: heads, headDim: headDim, scale: scale)
          }
        }
        for wgs in hopperGroups where wgs <= 2 {
          cuda.attentionBackwardWarpgroups = wgs
          timed("attentionBackward bf16 B\(lb) T\(lt) H\(heads) wgmma, \(wgs) warpgroups", flops(2.5 * lf)) {
            be.attentionBackward(qkv: lq, out: lo, lse: ll, gradOut: lg, gradQKV: lgq, batch: lb, seq: lt, heads: heads,
                                 headDim: headDim, scale: scale)
          }
        }
      }
      cuda.attentionWarpgroups = savedGroups
      cuda.attentionBackwardWarpgroups = savedBackwardGroups
    }
    timed("rmsNormForward bf16 [\(rows),\(d)]", bytes(Double(rows * d * 4 + rows * 4))) {
      be.rmsNormForward(x, out: y, rstd: rstd, eps: 1e-5)
    }
    let ys = Tensor.empty([rows, d], .bf16, on: be)
    timed("addRMSNormForward bf16 [\(rows),\(d)]", bytes(Double(rows * d * 6 + rows * 4))) {
      be.addRMSNormForward(x, gy, out: ys, rstd: rstd, eps: 1e-5)
    }
    let gx = Tensor.empty([rows, d], .bf16, on: be)
    timed("rmsNormBackward bf16 [\(rows),\(d)]", bytes(Double(rows * d * 6 + rows * 4))) {
      be.rmsNormBackward(gradOut: gy, y: y, rstd: rstd, gradX: gx)
    }
    timed("swigluForward bf16 [\(rows),\(2 * inner)]", bytes(Double(rows * inner * 6))) { be.swigluForward(gu, out: h) }
    let ggu = Tensor.empty([rows, 2 * inner], .bf16, on: be)
    timed("swigluBackward bf16 [\(rows),\(2 * inner)]", bytes(Double(rows * inner * 10))) {
      be.swigluBackward(gateUp: gu, gradOut: h, gradGateUp: ggu)
    }
    if let cuda = be as? CUDABackend, cuda.compiler.hopperFeatures, want("fused") {
      // The fused-epilogue projections (linear_fused.cu) against cuBLASLt plus the separate
      // swiglu / rope kernel, at the (96, 900) issue shape's row count for batch 384.
      let frows = max(1, batch / 4) * 901
      let fx = t([frows, d], .bf16)
      let fgu = Tensor.empty([2 * inner, d], .bf16, on: be)
      be.copy(wgu, to: fgu)
      let fh = Tensor.empty([frows, inner], .bf16, on: be), fq = Tensor.empty([frows, 3 * d], .bf16, on: be)
      let fwide = Tensor.empty([frows, 2 * inner], .bf16, on: be)
      let (fcos, fsin) = ropeTables(length: 901, headDim: headDim, theta: 10000, on: be)
      let (saved, savedTile) = (cuda.fusedLinear, cuda.fusedLinearTile)
      // The composition, then the fused kernels with each column tile.
      for tile in [nil, 192, 256] as [Int?] {
        cuda.fusedLinear = tile != nil
        cuda.fusedLinearTile = tile
        let tag = tile.map { "fused tile \($0)" } ?? "cuBLASLt + kernel"
        timed("fused linearSwiGLU bf16 \(frows)x\(2 * inner)x\(d) (\(tag))", flops(2 * Double(frows * 2 * inner * d))) {
          be.linearSwiGLU(fx, weight: fgu, out: fh)
        }
        timed("fused linearSwiGLU bf16 \(rows)x\(2 * inner)x\(d) (\(tag))", flops(2 * Double(rows * 2 * inner * d))) {
          be.linearSwiGLU(x, weight: fgu, out: h)
        }
        timed("fused linearRotary bf16 \(frows)x\(3 * d)x\(d) (\(tag))", flops(2 * Double(frows * 3 * d * d))) {
          be.linearRotary(fx, weight: wqkv16, cos: fcos, sin: fsin, seq: 901, heads: heads, headDim: headDim, out: fq)
        }
      }
      // The GEMM alone (no epilogue op) at the model's three projection shapes: gate/up, QKV,
      // down (x [frows, inner]); cuBLASLt first.
      let fwdown = t([d, inner], .bf16, 1 / Float(inner).squareRoot())
      let plain: [(String, Tensor, Tensor, Tensor)] = [("gate/up", fx, fgu, fwide), ("qkv", fx, wqkv16, fq),
                                                     ("down", fh, fwdown, fx)]
      for (name, a, w, o) in plain {
        let (m, n, k) = (a.shape[0], w.shape[0], a.shape[1])
        for tile in [nil, 192, 256] as [Int?] {
          cuda.fusedLinear = true
          cuda.fusedLinearTile = tile
          if tile != nil && !cuda.fusedLinearPlain(a, weight: w, out: o) { continue }   // the tile does not divide n
          let tag = tile.map { "fused tile \($0)" } ?? "cuBLASLt"
          timed("fused GEMM \(name) \(m)x\(n)x\(k) (\(tag))", flops(2 * Double(m * n * k))) {
            if tile == nil {
              be.gemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a, w, beta: 0, o)
            } else {
              _ = cuda.fusedLinearPlain(a, weight: w, out: o)
            }
          }
        }
      }
      cuda.fusedLinear = saved
      cuda.fusedLinearTile = savedTile
    }
    timed("rope bf16 in place (query and key heads) [\(rows),\(3 * d)]", bytes(Double(rows * 2 * d * 4))) {
      be.rope(qkv, cos: cosT, sin: sinT, heads: heads, headDim: headDim, inverse: false, out: qkv)
    }
    timed("addScaled bf16 [\(rows),\(d)]", bytes(Double(rows * d * 6))) { be.addScaled(x, alpha: 1, y, beta: 1, out: y) }

    // Input embedding and the LM loss head (Sudoku: V = 11, S = 81 labelled positions).
    let vocab = 11
    let table = t([vocab, d], .f32, 0.04)
    let ids = Tensor(ints: (0..<rows).map { Int32($0 % vocab) }, shape: [rows], on: be)
    timed("embeddingForward f32 -> bf16 [\(rows),\(d)]", bytes(Double(rows * d * 2))) {
      be.embeddingForward(table: table, ids: ids, out: y)
    }
    let gtable = Tensor.zeros([vocab, d], .f32, on: be)
    timed("embeddingBackward bf16 -> f32 [\(vocab),\(d)]", bytes(Double(rows * d * 2))) {
      be.embeddingBackward(gradOut: gy, ids: ids, gradTable: gtable)
    }
    let lmRows = batch * (seq - 1)
    let logits = t([lmRows, vocab], .bf16, 3)
    let labels = Tensor(ints: (0..<lmRows).map { Int32(($0 * 7) % vocab) }, shape: [lmRows], on: be)
    let losses = Tensor.empty([lmRows], .f32, on: be)
    timed("crossEntropyForward stablemax [\(lmRows),\(vocab)]", bytes(Double(lmRows * (vocab * 2 + 8)))) {
      be.crossEntropyForward(kind: .stablemax, logits: logits, labels: labels, losses: losses)
    }
    let weights = Tensor.full([lmRows], 1.0 / 81, .f32, on: be), gscale = Tensor.full([1], 1, .f32, on: be)
    let glogits = Tensor.empty([lmRows, vocab], .bf16, on: be)
    timed("crossEntropyBackward stablemax [\(lmRows),\(vocab)]", bytes(Double(lmRows * (vocab * 4 + 12)))) {
      be.crossEntropyBackward(kind: .stablemax, logits: logits, labels: labels, weights: weights, gradScale: gscale,
                              gradLogits: glogits)
    }

    let n = 27_000_000  // about HRM's parameter count
    if want("adamATan2Step") || want("sumOfSquares") {
      let p = t([n], .f32, 0.05), g = t([n], .f32, 0.01), m1 = t([n], .f32, 0.001)
      let v1 = Tensor.full([n], 1e-5, .f32, on: be)
      timed("adamATan2Step f32 [\(n)]", bytes(Double(n) * 4 * 7)) {
        be.adamATan2Step(param: p, grad: g, m: m1, v: v1, lr: 1e-4, beta1: 0.9, beta2: 0.95, weightDecay: 0.1,
                         biasCorrection1: 0.5, biasCorrection2: 0.5)
      }
      let one = Tensor.empty([1], .f32, on: be)
      timed("sumOfSquares f32 [\(n)]", bytes(Double(n) * 4)) { be.sumOfSquares(g, out: one, accumulate: false) }
    }
  }

  /// A table of results.
  public static func table(_ results: [BenchResult]) -> String {
    let w = max(4, results.map(\.name.count).max() ?? 4)
    var lines = ["op" + String(repeating: " ", count: w - 2) + "  ms/call    rate"]
    for r in results {
      lines.append(r.name + String(repeating: " ", count: max(0, w - r.name.count)) + "  "
                   + String(format: "%8.4f", r.milliseconds) + "   " + r.rate)
    }
    return lines.joined(separator: "\n")
  }
}
