// CPUKernelTestsLosses.swift: CPU cross-entropy (stablemax and softmax), BCE with logits and
// row-normalised loss weights against Double references and finite differences.

import XCTest
import Foundation
import HRMSupport
import HRMTensor

final class CPUKernelTestsLosses: XCTestCase {
  let cpu = KT.cpu

  static func s(_ x: Double) -> Double { x >= 0 ? x + 1 : 1 / (1 - x + 1e-30) }

  /// Per-row cross-entropy in Double (0 for label −100).
  static func refCE(_ kind: CrossEntropyKind, _ z: [Double], _ labels: [Int32]) -> [Double] {
    let n = labels.count, v = z.count / n
    return (0..<n).map { r in
      let label = labels[r]
      if label == -100 { return 0 }
      let row = Array(z[(r * v)..<((r + 1) * v)])
      switch kind {
      case .stablemax:
        return -log(s(row[Int(label)]) / row.reduce(0) { $0 + s($1) })
      case .softmax:
        let m = row.max() ?? 0
        return m + log(row.reduce(0) { $0 + exp($1 - m) }) - row[Int(label)]
      }
    }
  }

  /// d(Σ_n w_n·ce_n)/dz, written out per branch in Double.
  static func refCEGrad(_ kind: CrossEntropyKind, _ z: [Double], _ labels: [Int32], _ w: [Double]) -> [Double] {
    let n = labels.count, v = z.count / n
    var g = [Double](repeating: 0, count: z.count)
    for r in 0..<n where labels[r] != -100 {
      let c = Int(labels[r])
      let row = Array(z[(r * v)..<((r + 1) * v)])
      switch kind {
      case .stablemax:
        let total = row.reduce(0) { $0 + s($1) }
        for j in 0..<v {
          let ds = row[j] >= 0 ? 1 : s(row[j]) * s(row[j])
          g[r * v + j] = w[r] * (ds / total - (j == c ? ds / s(row[j]) : 0))
        }
      case .softmax:
        let m = row.max() ?? 0
        let total = row.reduce(0) { $0 + exp($1 - m) }
        for j in 0..<v { g[r * v + j] = w[r] * (exp(row[j] - m) / total - (j == c ? 1 : 0)) }
      }
    }
    return g
  }

  func testCrossEntropyForwardBackward() {
    var rng = HRMRandom(seed: 31)
    for (n, v) in [(7, 11), (13, 6), (82, 12)] {
      var z = KT.normals(n * v, &rng, scale: 3)
      z[0] = 0; z[1] = -1e-3; z[2] = 25; z[3] = -25  // both stablemax branches, and the kink at 0
      var labels = (0..<n).map { _ in Int32(rng.int(0, v - 1)) }
      labels[1] = -100; labels[n - 1] = -100
      let weights = KT.uniforms(n, &rng, 0.1, 1)
      let zd = z.map(Double.init)
      for kind in [CrossEntropyKind.stablemax, .softmax] {
        let what = "\(kind.rawValue) [\(n), \(v)]"
        let losses = KT.guarded([n])
        cpu.crossEntropyForward(kind: kind, logits: KT.tensor(z, [n, v]), labels: KT.ints(labels, [n]), losses: losses)
        // stablemax: f64 math, one rounding to f32. softmax: f32 log-sum-exp of V terms.
        KT.assertClose(losses.toArray(), Self.refCE(kind, zd, labels),
                       atol: kind == .stablemax ? 1e-7 : 2e-6, rtol: kind == .stablemax ? 1e-7 : 1e-6, what)
        XCTAssertEqual(losses.toArray()[1], 0, "\(what): ignored row has loss 0")
        KT.assertGuards(losses, what)

        let scaleValue: Float = 0.37
        let grad = KT.guarded([n, v])
        cpu.crossEntropyBackward(kind: kind, logits: KT.tensor(z, [n, v]), labels: KT.ints(labels, [n]),
                                 weights: KT.tensor(weights, [n]), gradScale: KT.tensor([scaleValue], [1]),
                                 gradLogits: grad)
        let wd = weights.map { Double($0) * Double(scaleValue) }
        // stablemax: f64 math, one rounding; softmax: expf and a division in f32.
        KT.assertClose(grad.toArray(), Self.refCEGrad(kind, zd, labels, wd),
                       atol: kind == .stablemax ? 1e-8 : 1e-7, rtol: kind == .stablemax ? 1e-6 : 1e-5, what + " grad")
        let gradRows = grad.toArray()
        XCTAssertEqual(Array(gradRows[v..<(2 * v)]), [Float](repeating: 0, count: v), "\(what): ignored row has gradient 0")
        KT.assertGuards(grad, what + " grad")
        // The gradient of Σ w_n·ce_n: finite differences of the reference loss.
        KT.checkDirectional(x: zd, gradOut: wd, gradX: gradRows, rng: &rng, what) { Self.refCE(kind, $0, labels) }
      }
    }
  }

  func testStablemaxAndSoftmaxDiffer() {
    var rng = HRMRandom(seed: 32)
    let (n, v) = (5, 11)
    let z = KT.normals(n * v, &rng, scale: 2)
    let labels = KT.ints((0..<n).map { Int32($0) }, [n])
    let a = KT.guarded([n]), b = KT.guarded([n])
    cpu.crossEntropyForward(kind: .stablemax, logits: KT.tensor(z, [n, v]), labels: labels, losses: a)
    cpu.crossEntropyForward(kind: .softmax, logits: KT.tensor(z, [n, v]), labels: labels, losses: b)
    for i in 0..<n { XCTAssertGreaterThan(abs(a.toArray()[i] - b.toArray()[i]), 1e-3, "row \(i)") }
  }

  func testIgnoredLabelsGiveZeroLossAndGradient() {
    let (n, v) = (3, 4)
    let z: [Float] = [1, 2, 3, 4, -5, 0, 5, 1, 9, 9, 9, 9]
    let labels = KT.ints([-100, -100, -100], [n])
    for kind in [CrossEntropyKind.stablemax, .softmax] {
      let losses = KT.guarded([n]), grad = KT.guarded([n, v])
      cpu.crossEntropyForward(kind: kind, logits: KT.tensor(z, [n, v]), labels: labels, losses: losses)
      cpu.crossEntropyBackward(kind: kind, logits: KT.tensor(z, [n, v]), labels: labels,
                               weights: KT.tensor([1, 1, 1], [n]), gradScale: KT.tensor([1], [1]), gradLogits: grad)
      XCTAssertEqual(losses.toArray(), [0, 0, 0])
      XCTAssertEqual(grad.toArray(), [Float](repeating: 0, count: n * v))
    }
  }

  func testCrossEntropyBF16Logits() {
    var rng = HRMRandom(seed: 33)
    let (n, v) = (13, 11)
    let z = KT.bf16Rounded(KT.normals(n * v, &rng, scale: 3))
    let labels = KT.ints((0..<n).map { _ in Int32(rng.int(0, v - 1)) }, [n])
    for kind in [CrossEntropyKind.stablemax, .softmax] {
      let lf = KT.guarded([n]), lh = KT.guarded([n])
      cpu.crossEntropyForward(kind: kind, logits: KT.tensor(z, [n, v]), labels: labels, losses: lf)
      cpu.crossEntropyForward(kind: kind, logits: KT.tensor(z, [n, v], .bf16), labels: labels, losses: lh)
      // Losses are f32 either way; bf16 logits are widened exactly.
      KT.assertBitEqual(lh.toArray(), lf.toArray(), "\(kind) bf16 losses")
      let gf = KT.guarded([n, v]), gh = KT.guarded([n, v], .bf16)
      let w = KT.tensor([Float](repeating: 0.5, count: n), [n]), one = KT.tensor([1], [1])
      cpu.crossEntropyBackward(kind: kind, logits: KT.tensor(z, [n, v]), labels: labels, weights: w, gradScale: one,
                               gradLogits: gf)
      cpu.crossEntropyBackward(kind: kind, logits: KT.tensor(z, [n, v], .bf16), labels: labels, weights: w,
                               gradScale: one, gradLogits: gh)
      KT.assertBitEqual(gh.toArray(), gf.toArray().map(BF16.round), "\(kind) bf16 grad")
    }
  }

  func testBCEWithLogits() {
    var rng = HRMRandom(seed: 34)
    var x = KT.normals(29, &rng, scale: 4)
    x += [0, 100, -100, 30, -30]
    let n = x.count
    let t = (0..<n).map { i in i % 3 == 0 ? Float(1) : (i % 3 == 1 ? 0 : Float(rng.uniform())) }
    let ref: ([Double]) -> [Double] = { xs in
      (0..<n).map { i in max(xs[i], 0) - xs[i] * Double(t[i]) + log1p(exp(-abs(xs[i]))) }
    }
    let losses = KT.guarded([n])
    cpu.bceWithLogitsForward(logits: KT.tensor(x, [n]), targets: KT.tensor(t, [n]), losses: losses)
    // Stable form in f32: a few ulps of the larger of |x| and log(2); finite at ±100.
    KT.assertClose(losses.toArray(), ref(x.map(Double.init)), atol: 1e-6, rtol: 1e-5, "bce")
    XCTAssert(losses.toArray().allSatisfy { $0.isFinite })
    KT.assertGuards(losses, "bce")
    let grad = KT.guarded([n])
    cpu.bceWithLogitsBackward(logits: KT.tensor(x, [n]), targets: KT.tensor(t, [n]), gradScale: KT.tensor([0.5], [1]),
                              gradLogits: grad)
    let refGrad = (0..<n).map { i in 0.5 * (1 / (1 + exp(-Double(x[i]))) - Double(t[i])) }
    // σ in f32 via expf: ~1 ulp, times 0.5.
    KT.assertClose(grad.toArray(), refGrad, atol: 1e-7, rtol: 1e-6, "bce grad")
    KT.assertGuards(grad, "bce grad")
    KT.checkDirectional(x: x.map(Double.init), gradOut: [Double](repeating: 0.5, count: n), gradX: grad.toArray(),
                        rng: &rng, "bce", f: ref)
  }

  func testRowNormalizedWeights() {
    let labels: [Int32] = [1, -100, 3, 4, -100, -100, -100, -100, 2, 2, 2, 2]
    let w = KT.guarded([3, 4])
    cpu.rowNormalizedWeights(labels: KT.ints(labels, [3, 4]), weights: w)
    XCTAssertEqual(w.toArray(), [1.0 / 3, 0, 1.0 / 3, 1.0 / 3, 0, 0, 0, 0, 0.25, 0.25, 0.25, 0.25])
    KT.assertGuards(w, "rowNormalizedWeights")
  }
}
