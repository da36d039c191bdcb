// CUDABench.swift: timings of the main kernels at HRM's model sizes (the numbers behind
// docs/perf-cuda.md). Each op is warmed up, then run `repeats` times between two
// synchronisations; the median of several such rounds is reported with the achieved rate
// against the byte or flop count the op must move or do.

import Foundation
import HRMSupport
import HRMTensor

/// One timed op.
public struct BenchResult: Sendable {
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
  public static func run(on be: Backend, batch: Int = 384, report: (BenchResult) -> Void) {
    var rng = HRMRandom(seed: 7)
    // 1 Mi random normals, tiled: random-looking data without minutes of host work.
    let block = (0..<(1 << 20)).map { _ in Float(rng.normal()) }
    func randn(_ n: Int, _ s: Float = 1) -> [Float] { (0..<n).map { block[$0 & ((1 << 20) - 1)] * s } }
    func t(_ shape: [Int], _ dtype: DType, _ s: Float = 1) -> Tensor {
      Tensor(randn(shape.reduce(1, *), s), shape: shape, dtype: dtype, on: be)
    }
    func emit(_ name: String, _ ms: Double, _ rate: String) { report(BenchResult(name: name, milliseconds: ms, rate: rate)) }

    // Ceilings: device-to-device copy and a large bf16 GEMM.
    do {
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
    let x = t([rows, d], .bf16)
    let wqkv = t([3 * d, d], .f32, 0.044), wo = t([d, d], .f32, 0.044)
    let wgu = t([2 * inner, d], .f32, 0.044), wdown = t([d, inner], .f32, 0.025)
    let qkv = Tensor.empty([batch, seq, 3 * d], .bf16, on: be)
    let attn = Tensor.empty([batch, seq, d], .bf16, on: be)
    let lse = Tensor.empty([batch, heads, seq], .f32, on: be)
    let gu = Tensor.empty([rows, 2 * inner], .bf16, on: be)
    let h = Tensor.empty([rows, inner], .bf16, on: be)
    let y = Tensor.empty([rows, d], .bf16, on: be)
    let rstd = Tensor.empty([rows], .f32, on: be)
    let b = "B\(batch)"

    func gemmCase(_ name: String, m: Int, n: Int, k: Int, _ a: Tensor, _ w: Tensor, _ c: Tensor) {
      let ms = time(be) { be.gemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a, w, beta: 0, c) }
      emit("\(name) \(m)x\(n)x\(k)", ms, rate(flops: 2 * Double(m * n * k), ms: ms))
    }
    gemmCase("gemm qkv (f32 W -> bf16)", m: rows, n: 3 * d, k: d, x, wqkv, qkv)
    let wqkv16 = Tensor.empty([3 * d, d], .bf16, on: be)
    be.copy(wqkv, to: wqkv16)
    gemmCase("gemm qkv (bf16 W)", m: rows, n: 3 * d, k: d, x, wqkv16, qkv)
    gemmCase("gemm gate_up", m: rows, n: 2 * inner, k: d, x, wgu, gu)
    gemmCase("gemm down", m: rows, n: d, k: inner, h, wdown, y)
    gemmCase("gemm o_proj", m: rows, n: d, k: d, attn, wo, y)

    let qkvInit = t([batch, seq, 3 * d], .bf16)
    be.copy(qkvInit, to: qkv)
    let scale = 1 / Float(headDim).squareRoot()
    let attnFlops = 4 * Double(batch * heads) * Double(seq * seq) * Double(headDim)
    var ms = time(be) {
      be.attentionForward(qkv: qkv, out: attn, lse: lse, batch: batch, seq: seq, heads: heads, headDim: headDim, scale: scale)
    }
    emit("attentionForward bf16 \(b) T\(seq) H\(heads)", ms, rate(flops: attnFlops, ms: ms))
    let gattn = t([batch, seq, d], .bf16, 0.1)
    let gqkv = Tensor.empty([batch, seq, 3 * d], .bf16, on: be)
    ms = time(be) {
      be.attentionBackward(qkv: qkv, out: attn, lse: lse, gradOut: gattn, gradQKV: gqkv, batch: batch, seq: seq,
                           heads: heads, headDim: headDim, scale: scale)
    }
    emit("attentionBackward bf16 \(b) T\(seq) H\(heads)", ms, rate(flops: 2.5 * attnFlops, ms: ms))

    ms = time(be) { be.rmsNormForward(x, out: y, rstd: rstd, eps: 1e-5) }
    emit("rmsNormForward bf16 [\(rows),\(d)]", ms, rate(bytes: Double(rows * d * 4 + rows * 4), ms: ms))
    let gy = t([rows, d], .bf16)
    let gx = Tensor.empty([rows, d], .bf16, on: be)
    ms = time(be) { be.rmsNormBackward(gradOut: gy, y: y, rstd: rstd, gradX: gx) }
    emit("rmsNormBackward bf16 [\(rows),\(d)]", ms, rate(bytes: Double(rows * d * 6 + rows * 4), ms: ms))
    let guInit = t([rows, 2 * inner], .bf16)
    be.copy(guInit, to: gu)
    ms = time(be) { be.swigluForward(gu, out: h) }
    emit("swigluForward bf16 [\(rows),\(2 * inner)]", ms, rate(bytes: Double(rows * inner * 6), ms: ms))
    let ggu = Tensor.empty([rows, 2 * inner], .bf16, on: be)
    ms = time(be) { be.swigluBackward(gateUp: gu, gradOut: h, gradGateUp: ggu) }
    emit("swigluBackward bf16 [\(rows),\(2 * inner)]", ms, rate(bytes: Double(rows * inner * 10), ms: ms))
    let cosT = t([seq, headDim], .f32), sinT = t([seq, headDim], .f32)
    ms = time(be) { be.rope(qkv, cos: cosT, sin: sinT, heads: heads, headDim: headDim, inverse: false, out: qkv) }
    emit("rope bf16 in place [\(rows),\(3 * d)]", ms, rate(bytes: Double(rows * 3 * d * 4), ms: ms))
    ms = time(be) { be.addScaled(x, alpha: 1, y, beta: 1, out: y) }
    emit("addScaled bf16 [\(rows),\(d)]", ms, rate(bytes: Double(rows * d * 6), ms: ms))

    // Input embedding and the LM loss head (Sudoku: V = 11, S = 81 labelled positions).
    let vocab = 11
    let table = t([vocab, d], .f32, 0.04)
    let ids = Tensor(ints: (0..<rows).map { Int32($0 % vocab) }, shape: [rows], on: be)
    ms = time(be) { be.embeddingForward(table: table, ids: ids, out: y) }
    emit("embeddingForward f32 -> bf16 [\(rows),\(d)]", ms, rate(bytes: Double(rows * d * 2), ms: ms))
    let gtable = Tensor.zeros([vocab, d], .f32, on: be)
    ms = time(be) { be.embeddingBackward(gradOut: gy, ids: ids, gradTable: gtable) }
    emit("embeddingBackward bf16 -> f32 [\(vocab),\(d)]", ms, rate(bytes: Double(rows * d * 2), ms: ms))
    let lmRows = batch * (seq - 1)
    let logits = t([lmRows, vocab], .bf16, 3)
    let labels = Tensor(ints: (0..<lmRows).map { Int32(($0 * 7) % vocab) }, shape: [lmRows], on: be)
    let losses = Tensor.empty([lmRows], .f32, on: be)
    ms = time(be) { be.crossEntropyForward(kind: .stablemax, logits: logits, labels: labels, losses: losses) }
    emit("crossEntropyForward stablemax [\(lmRows),\(vocab)]", ms, rate(bytes: Double(lmRows * (vocab * 2 + 8)), ms: ms))
    let weights = Tensor.full([lmRows], 1.0 / 81, .f32, on: be), gscale = Tensor.full([1], 1, .f32, on: be)
    let glogits = Tensor.empty([lmRows, vocab], .bf16, on: be)
    ms = time(be) {
      be.crossEntropyBackward(kind: .stablemax, logits: logits, labels: labels, weights: weights, gradScale: gscale, gradLogits: glogits)
    }
    emit("crossEntropyBackward stablemax [\(lmRows),\(vocab)]", ms, rate(bytes: Double(lmRows * (vocab * 4 + 12)), ms: ms))

    let n = 27_000_000  // about HRM's parameter count
    let p = t([n], .f32, 0.05), g = t([n], .f32, 0.01), m1 = t([n], .f32, 0.001)
    let v1 = Tensor.full([n], 1e-5, .f32, on: be)
    ms = time(be) {
      be.adamATan2Step(param: p, grad: g, m: m1, v: v1, lr: 1e-4, beta1: 0.9, beta2: 0.95, weightDecay: 0.1,
                       biasCorrection1: 0.5, biasCorrection2: 0.5)
    }
    emit("adamATan2Step f32 [\(n)]", ms, rate(bytes: Double(n) * 4 * 7, ms: ms))
    let one = Tensor.empty([1], .f32, on: be)
    ms = time(be) { be.sumOfSquares(g, out: one, accumulate: false) }
    emit("sumOfSquares f32 [\(n)]", ms, rate(bytes: Double(n) * 4, ms: ms))
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
