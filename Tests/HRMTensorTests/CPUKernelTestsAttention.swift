// CPUKernelTestsAttention.swift: the CPU fused attention kernels against a Double reference,
// finite differences, the bf16 storage path and run-to-run determinism.

import XCTest
import Foundation
import HRMSupport
import HRMTensor

final class CPUKernelTestsAttention: XCTestCase {
  let cpu = KT.cpu

  struct Shape { let batch, seq, heads, headDim: Int
    var width: Int { 3 * heads * headDim }
    var outWidth: Int { heads * headDim }
    var scale: Double { 1 / Double(headDim).squareRoot() }
  }

  /// Index of qkv[b, t, part·H·Dh + h·Dh + i] (part 0 = Q, 1 = K, 2 = V).
  static func qkvIndex(_ s: Shape, _ b: Int, _ t: Int, _ part: Int, _ h: Int, _ i: Int) -> Int {
    (b * s.seq + t) * s.width + (part * s.heads + h) * s.headDim + i
  }

  static func outIndex(_ s: Shape, _ b: Int, _ t: Int, _ h: Int, _ i: Int) -> Int {
    (b * s.seq + t) * s.outWidth + h * s.headDim + i
  }

  /// Softmax probabilities P[b, h] [T, T] and log-sum-exps, in Double.
  static func refProbabilities(_ x: [Double], _ s: Shape, _ b: Int, _ h: Int) -> (p: [Double], lse: [Double]) {
    let n = s.seq
    var p = [Double](repeating: 0, count: n * n), lse = [Double](repeating: 0, count: n)
    for i in 0..<n {
      var row = [Double](repeating: 0, count: n)
      for j in 0..<n {
        var d = 0.0
        for k in 0..<s.headDim { d += x[qkvIndex(s, b, i, 0, h, k)] * x[qkvIndex(s, b, j, 1, h, k)] }
        row[j] = s.scale * d
      }
      let m = row.max() ?? 0
      let z = row.reduce(0) { $0 + exp($1 - m) }
      lse[i] = m + log(z)
      for j in 0..<n { p[i * n + j] = exp(row[j] - lse[i]) }
    }
    return (p, lse)
  }

  static func refForward(_ x: [Double], _ s: Shape) -> (out: [Double], lse: [Double]) {
    var out = [Double](repeating: 0, count: s.batch * s.seq * s.outWidth)
    var lse = [Double](repeating: 0, count: s.batch * s.heads * s.seq)
    for b in 0..<s.batch { for h in 0..<s.heads {
      let (p, l) = refProbabilities(x, s, b, h)
      for i in 0..<s.seq {
        lse[(b * s.heads + h) * s.seq + i] = l[i]
        for k in 0..<s.headDim {
          var acc = 0.0
          for j in 0..<s.seq { acc += p[i * s.seq + j] * x[qkvIndex(s, b, j, 2, h, k)] }
          out[outIndex(s, b, i, h, k)] = acc
        }
      }
    } }
    return (out, lse)
  }

  /// The textbook backward of softmax attention, in Double.
  static func refBackward(_ x: [Double], _ gradOut: [Double], _ s: Shape) -> [Double] {
    var gx = [Double](repeating: 0, count: x.count)
    let n = s.seq
    for b in 0..<s.batch { for h in 0..<s.heads {
      let (p, _) = refProbabilities(x, s, b, h)
      var dp = [Double](repeating: 0, count: n * n)
      for i in 0..<n { for j in 0..<n {
        var d = 0.0
        for k in 0..<s.headDim { d += gradOut[outIndex(s, b, i, h, k)] * x[qkvIndex(s, b, j, 2, h, k)] }
        dp[i * n + j] = d
      } }
      for i in 0..<n {
        var rowDot = 0.0
        for j in 0..<n { rowDot += p[i * n + j] * dp[i * n + j] }
        for j in 0..<n {
          let ds = p[i * n + j] * (dp[i * n + j] - rowDot) * s.scale
          for k in 0..<s.headDim {
            gx[qkvIndex(s, b, i, 0, h, k)] += ds * x[qkvIndex(s, b, j, 1, h, k)]
            gx[qkvIndex(s, b, j, 1, h, k)] += ds * x[qkvIndex(s, b, i, 0, h, k)]
            gx[qkvIndex(s, b, j, 2, h, k)] += p[i * n + j] * gradOut[outIndex(s, b, i, h, k)]
          }
        }
      }
    } }
    return gx
  }

  func run(_ s: Shape, _ x: [Float], _ g: [Float], dtype: DType = .f32)
    -> (out: Tensor, lse: Tensor, grad: Tensor) {
    let qkv = KT.tensor(x, [s.batch, s.seq, s.width], dtype)
    let out = KT.guarded([s.batch, s.seq, s.outWidth], dtype)
    let lse = KT.guarded([s.batch, s.heads, s.seq])
    cpu.attentionForward(qkv: qkv, out: out, lse: lse, batch: s.batch, seq: s.seq, heads: s.heads,
                         headDim: s.headDim, scale: Float(s.scale))
    let grad = KT.guarded([s.batch, s.seq, s.width], dtype)
    cpu.attentionBackward(qkv: qkv, out: out, lse: lse, gradOut: KT.tensor(g, [s.batch, s.seq, s.outWidth], dtype),
                          gradQKV: grad, batch: s.batch, seq: s.seq, heads: s.heads, headDim: s.headDim,
                          scale: Float(s.scale))
    return (out, lse, grad)
  }

  func testForwardAndBackwardAgainstDouble() {
    var rng = HRMRandom(seed: 21)
    let shapes = [Shape(batch: 2, seq: 7, heads: 3, headDim: 12), Shape(batch: 1, seq: 13, heads: 2, headDim: 32),
                  Shape(batch: 1, seq: 82, heads: 2, headDim: 16)]
    for s in shapes {
      let what = "attention B\(s.batch) T\(s.seq) H\(s.heads) Dh\(s.headDim)"
      let x = KT.normals(s.batch * s.seq * s.width, &rng, scale: 1.5)
      let g = KT.normals(s.batch * s.seq * s.outWidth, &rng)
      let (out, lse, grad) = run(s, x, g)
      let xd = x.map(Double.init), gd = g.map(Double.init)
      let ref = Self.refForward(xd, s)
      // f32 scores (length-Dh dots), expf and a length-T weighted sum: ~1e-6 relative;
      // outputs are averages of O(1) values, so an absolute floor at that scale.
      KT.assertClose(out.toArray(), ref.out, atol: 1e-5, rtol: 1e-5, what + " out")
      KT.assertClose(lse.toArray(), ref.lse, atol: 1e-5, rtol: 1e-6, what + " lse")
      // The backward subtracts D_i from dP (cancellation), and D_i uses the f32 forward output.
      KT.assertClose(grad.toArray(), Self.refBackward(xd, gd, s), atol: 2e-5, rtol: 1e-4, what + " grad")
      KT.assertGuards(out, what + " out")
      KT.assertGuards(lse, what + " lse")
      KT.assertGuards(grad, what + " grad")
      KT.checkDirectional(x: xd, gradOut: gd, gradX: grad.toArray(), rng: &rng, directions: 2, what) {
        Self.refForward($0, s).out
      }
    }
  }

  func testDeterministicAcrossRuns() {
    var rng = HRMRandom(seed: 22)
    let s = Shape(batch: 3, seq: 13, heads: 2, headDim: 8)
    let x = KT.normals(s.batch * s.seq * s.width, &rng), g = KT.normals(s.batch * s.seq * s.outWidth, &rng)
    let a = run(s, x, g), b = run(s, x, g)
    KT.assertBitEqual(a.out.toArray(), b.out.toArray(), "attention out repeat")
    KT.assertBitEqual(a.lse.toArray(), b.lse.toArray(), "attention lse repeat")
    KT.assertBitEqual(a.grad.toArray(), b.grad.toArray(), "attention grad repeat")
  }

  func testBF16IsTheRoundedF32Path() {
    var rng = HRMRandom(seed: 23)
    let s = Shape(batch: 2, seq: 13, heads: 2, headDim: 12)
    let x = KT.bf16Rounded(KT.normals(s.batch * s.seq * s.width, &rng))
    let g = KT.bf16Rounded(KT.normals(s.batch * s.seq * s.outWidth, &rng))
    let h = run(s, x, g, dtype: .bf16)
    // The f32 run on the same values, fed the bf16 forward output (as the bf16 backward sees it).
    let qkv = KT.tensor(x, [s.batch, s.seq, s.width])
    let out = KT.guarded([s.batch, s.seq, s.outWidth]), lse = KT.guarded([s.batch, s.heads, s.seq])
    cpu.attentionForward(qkv: qkv, out: out, lse: lse, batch: s.batch, seq: s.seq, heads: s.heads,
                         headDim: s.headDim, scale: Float(s.scale))
    KT.assertBitEqual(h.out.toArray(), out.toArray().map(BF16.round), "attention bf16 out")
    KT.assertBitEqual(h.lse.toArray(), lse.toArray(), "attention bf16 lse")
    let grad = KT.guarded([s.batch, s.seq, s.width])
    cpu.attentionBackward(qkv: qkv, out: KT.tensor(h.out.toArray(), out.shape), lse: lse,
                          gradOut: KT.tensor(g, [s.batch, s.seq, s.outWidth]), gradQKV: grad, batch: s.batch,
                          seq: s.seq, heads: s.heads, headDim: s.headDim, scale: Float(s.scale))
    KT.assertBitEqual(h.grad.toArray(), grad.toArray().map(BF16.round), "attention bf16 grad")
    // And against the exact answer: output rounding only (2⁻⁸ relative) plus f32 noise.
    KT.assertClose(h.out.toArray(), Self.refForward(x.map(Double.init), s).out, atol: 1e-4, rtol: 1.0 / 256,
                   "attention bf16 vs exact")
    KT.assertGuards(h.grad, "attention bf16 grad")
  }
}
