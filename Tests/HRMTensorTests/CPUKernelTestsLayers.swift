// CPUKernelTestsLayers.swift: CPU RMSNorm, RoPE and SwiGLU kernels (forward and backward)
// against Double references, finite differences and the bf16 storage path.

import XCTest
import Foundation
import HRMSupport
import HRMTensor

final class CPUKernelTestsLayers: XCTestCase {
  let cpu = KT.cpu

  // MARK: - RMSNorm

  static func refRMSNorm(_ x: [Double], rows: Int, eps: Double) -> (y: [Double], rstd: [Double]) {
    let d = x.count / rows
    var y = x, rstd = [Double](repeating: 0, count: rows)
    for r in 0..<rows {
      var ms = 0.0
      for j in 0..<d { ms += x[r * d + j] * x[r * d + j] }
      rstd[r] = 1 / (ms / Double(d) + eps).squareRoot()
      for j in 0..<d { y[r * d + j] = x[r * d + j] * rstd[r] }
    }
    return (y, rstd)
  }

  func testRMSNormForwardBackward() {
    var rng = HRMRandom(seed: 11)
    let eps = 1e-5
    for (rows, d) in [(7, 37), (13, 64), (3, 82)] {
      let x = KT.normals(rows * d, &rng, scale: 2)
      let xt = KT.tensor(x, [rows, d])
      let y = KT.guarded([rows, d]), rstd = KT.guarded([rows])
      cpu.rmsNormForward(xt, out: y, rstd: rstd, eps: Float(eps))
      let ref = Self.refRMSNorm(x.map(Double.init), rows: rows, eps: eps)
      // f32 sum of D ≤ 82 squares and one rsqrt: a few ulps relative.
      KT.assertClose(y.toArray(), ref.y, atol: 1e-6, rtol: 1e-5, "rmsnorm y [\(rows), \(d)]")
      KT.assertClose(rstd.toArray(), ref.rstd, atol: 0, rtol: 1e-5, "rmsnorm rstd [\(rows), \(d)]")
      KT.assertGuards(y, "rmsnorm y")
      KT.assertGuards(rstd, "rmsnorm rstd")

      let g = KT.normals(rows * d, &rng)
      let gx = KT.guarded([rows, d])
      cpu.rmsNormBackward(gradOut: KT.tensor(g, [rows, d]), y: y, rstd: rstd, gradX: gx)
      var refGx = [Double](repeating: 0, count: rows * d)
      for r in 0..<rows {
        var m = 0.0
        for j in 0..<d { m += Double(g[r * d + j]) * ref.y[r * d + j] }
        m /= Double(d)
        for j in 0..<d { refGx[r * d + j] = ref.rstd[r] * (Double(g[r * d + j]) - ref.y[r * d + j] * m) }
      }
      // Built from the f32 forward outputs, so it inherits their ~1e-6 relative error; the
      // subtraction dy − y·mean can cancel, hence the absolute term at the gradient's scale.
      KT.assertClose(gx.toArray(), refGx, atol: 1e-5, rtol: 1e-4, "rmsnorm dx [\(rows), \(d)]")
      KT.assertGuards(gx, "rmsnorm dx")
      KT.checkDirectional(x: x.map(Double.init), gradOut: g.map(Double.init), gradX: gx.toArray(), rng: &rng,
                          "rmsnorm [\(rows), \(d)]") { Self.refRMSNorm($0, rows: rows, eps: eps).y }
    }
  }

  /// The fused residual add + norm equals the composed add then norm bit for bit (f32 and
  /// bf16 storage: the sum is rounded to the storage dtype before the statistics).
  func testAddRMSNormMatchesComposed() {
    var rng = HRMRandom(seed: 13)
    for (dtype, rows, d) in [(DType.f32, 7, 37), (.bf16, 13, 64), (.bf16, 3, 512), (.f32, 5, 82)] {
      let a = KT.tensor(KT.bf16Rounded(KT.normals(rows * d, &rng, scale: 2)), [rows, d], dtype)
      let b = KT.tensor(KT.bf16Rounded(KT.normals(rows * d, &rng)), [rows, d], dtype)
      let sum = KT.guarded([rows, d], dtype)
      cpu.addScaled(a, alpha: 1, b, beta: 1, out: sum)
      let y = KT.guarded([rows, d], dtype), rstd = KT.guarded([rows])
      cpu.rmsNormForward(sum, out: y, rstd: rstd, eps: 1e-5)
      let yf = KT.guarded([rows, d], dtype), rf = KT.guarded([rows])
      cpu.addRMSNormForward(a, b, out: yf, rstd: rf, eps: 1e-5)
      KT.assertBitEqual(yf.toArray(), y.toArray(), "addRMSNorm y \(dtype) [\(rows), \(d)]")
      KT.assertBitEqual(rf.toArray(), rstd.toArray(), "addRMSNorm rstd \(dtype) [\(rows), \(d)]")
      KT.assertGuards(yf, "addRMSNorm y")
      KT.assertGuards(rf, "addRMSNorm rstd")
    }
  }

  func testRMSNormBF16() {
    var rng = HRMRandom(seed: 12)
    let (rows, d) = (13, 37)
    let x = KT.bf16Rounded(KT.normals(rows * d, &rng))
    let yf = KT.guarded([rows, d]), rf = KT.guarded([rows])
    let yh = KT.guarded([rows, d], .bf16), rh = KT.guarded([rows])
    cpu.rmsNormForward(KT.tensor(x, [rows, d]), out: yf, rstd: rf, eps: 1e-5)
    cpu.rmsNormForward(KT.tensor(x, [rows, d], .bf16), out: yh, rstd: rh, eps: 1e-5)
    // bf16 is storage only: same f32 math, one rounding of the output.
    KT.assertBitEqual(yh.toArray(), yf.toArray().map(BF16.round), "rmsnorm bf16 y")
    KT.assertBitEqual(rh.toArray(), rf.toArray(), "rmsnorm bf16 rstd")
    // Against the exact result: within bf16 rounding (2⁻⁸ relative, half an ulp of 8 bits).
    let ref = Self.refRMSNorm(x.map(Double.init), rows: rows, eps: 1e-5)
    KT.assertClose(yh.toArray(), ref.y, atol: 1e-6, rtol: 1.0 / 256, "rmsnorm bf16 vs exact")
    let g = KT.bf16Rounded(KT.normals(rows * d, &rng))
    let gf = KT.guarded([rows, d]), gh = KT.guarded([rows, d], .bf16)
    cpu.rmsNormBackward(gradOut: KT.tensor(g, [rows, d]), y: KT.tensor(yh.toArray(), [rows, d]), rstd: rh, gradX: gf)
    cpu.rmsNormBackward(gradOut: KT.tensor(g, [rows, d], .bf16), y: yh, rstd: rh, gradX: gh)
    KT.assertBitEqual(gh.toArray(), gf.toArray().map(BF16.round), "rmsnorm bf16 dx")
  }

  // MARK: - RoPE

  /// The reference's tables: cos/sin of cat([A, A]) with A[t, i] = t / θ^(2i/Dh).
  static func ropeTables(seq: Int, headDim: Int, theta: Double = 10000) -> (cos: [Float], sin: [Float]) {
    var c = [Float](), s = [Float]()
    for t in 0..<seq {
      for k in 0..<headDim {
        let i = k % (headDim / 2)
        let invFreq = Float(1 / pow(theta, Double(2 * i) / Double(headDim)))
        let angle = Float(t) * invFreq
        c.append(Foundation.cos(angle))
        s.append(Foundation.sin(angle))
      }
    }
    return (c, s)
  }

  /// q' = q·cos + rotate_half(q)·sin on query and key heads; value heads copied.
  static func refRoPE(_ x: [Double], cos: [Double], sin: [Double], batch: Int, seq: Int, heads: Int,
                      headDim: Int) -> [Double] {
    let width = 3 * heads * headDim, half = headDim / 2
    var out = x
    for b in 0..<batch { for t in 0..<seq { for h in 0..<(2 * heads) { for i in 0..<headDim {
      let base = (b * seq + t) * width + h * headDim
      let rot = i < half ? -x[base + i + half] : x[base + i - half]
      out[base + i] = x[base + i] * cos[t * headDim + i] + rot * sin[t * headDim + i]
    } } } }
    return out
  }

  func testRoPEForwardInverseAndGradient() {
    var rng = HRMRandom(seed: 13)
    for (batch, seq, heads, headDim) in [(2, 7, 3, 10), (1, 13, 2, 6), (2, 82, 1, 16)] {
      let width = 3 * heads * headDim
      let x = KT.normals(batch * seq * width, &rng)
      // Random tables (halves differ) check the general formula; the real ones the rotation.
      for realTables in [false, true] {
        let (c, s) = realTables ? Self.ropeTables(seq: seq, headDim: headDim)
                                : (KT.normals(seq * headDim, &rng), KT.normals(seq * headDim, &rng))
        let ct = KT.tensor(c, [seq, headDim]), st = KT.tensor(s, [seq, headDim])
        let out = KT.guarded([batch, seq, width])
        cpu.rope(KT.tensor(x, [batch, seq, width]), cos: ct, sin: st, heads: heads, headDim: headDim,
                 inverse: false, out: out)
        let (cd, sd) = (c.map(Double.init), s.map(Double.init))
        let f: ([Double]) -> [Double] = {
          Self.refRoPE($0, cos: cd, sin: sd, batch: batch, seq: seq, heads: heads, headDim: headDim)
        }
        let what = "rope B\(batch) T\(seq) H\(heads) Dh\(headDim) real \(realTables)"
        // Two f32 products and a sum per element.
        KT.assertClose(out.toArray(), f(x.map(Double.init)), atol: 1e-6, rtol: 1e-5, what)
        KT.assertGuards(out, what)
        // inverse = the backward pass: finite differences of the forward reference.
        let g = KT.normals(batch * seq * width, &rng)
        let gx = KT.guarded([batch, seq, width])
        cpu.rope(KT.tensor(g, [batch, seq, width]), cos: ct, sin: st, heads: heads, headDim: headDim,
                 inverse: true, out: gx)
        KT.checkDirectional(x: x.map(Double.init), gradOut: g.map(Double.init), gradX: gx.toArray(), rng: &rng,
                            what, f: f)
        KT.assertGuards(gx, what + " inverse")
        if realTables {
          // With the reference's tables the inverse undoes the rotation (in place here).
          let back = KT.tensor(out.toArray(), [batch, seq, width])
          cpu.rope(back, cos: ct, sin: st, heads: heads, headDim: headDim, inverse: true, out: back)
          // cos² + sin² = 1 up to f32 rounding of the tables and two rotations.
          KT.assertClose(back.toArray(), x.map(Double.init), atol: 1e-5, rtol: 1e-5, what + " round trip")
        }
      }
    }
  }

  func testRoPEBF16() {
    var rng = HRMRandom(seed: 14)
    let (batch, seq, heads, headDim) = (2, 13, 2, 10)
    let width = 3 * heads * headDim
    let x = KT.bf16Rounded(KT.normals(batch * seq * width, &rng))
    let (c, s) = Self.ropeTables(seq: seq, headDim: headDim)
    let ct = KT.tensor(c, [seq, headDim]), st = KT.tensor(s, [seq, headDim])
    let of = KT.guarded([batch, seq, width]), oh = KT.guarded([batch, seq, width], .bf16)
    cpu.rope(KT.tensor(x, [batch, seq, width]), cos: ct, sin: st, heads: heads, headDim: headDim, inverse: false, out: of)
    cpu.rope(KT.tensor(x, [batch, seq, width], .bf16), cos: ct, sin: st, heads: heads, headDim: headDim,
             inverse: false, out: oh)
    // f32 rotation, one rounding to bf16 (value heads round-trip exactly).
    KT.assertBitEqual(oh.toArray(), of.toArray().map(BF16.round), "rope bf16")
    KT.assertGuards(oh, "rope bf16")
  }

  // MARK: - SwiGLU

  static func silu(_ x: Double) -> Double { x / (1 + exp(-x)) }

  func testSwiGLUForwardBackward() {
    var rng = HRMRandom(seed: 15)
    for (rows, inner) in [(7, 37), (13, 8), (82, 3)] {
      var gu = KT.normals(rows * 2 * inner, &rng, scale: 2)
      // Saturated gates exercise both branches of the stable sigmoid.
      gu[0] = 40; gu[1] = -40; gu[2] = 0
      let out = KT.guarded([rows, inner])
      cpu.swigluForward(KT.tensor(gu, [rows, 2 * inner]), out: out)
      let f: ([Double]) -> [Double] = { v in
        (0..<(rows * inner)).map { i in
          let (r, j) = (i / inner, i % inner)
          return Self.silu(v[r * 2 * inner + j]) * v[r * 2 * inner + inner + j]
        }
      }
      let x = gu.map(Double.init)
      // expf and three f32 products: a few ulps.
      KT.assertClose(out.toArray(), f(x), atol: 1e-6, rtol: 1e-5, "swiglu [\(rows), \(inner)]")
      KT.assertGuards(out, "swiglu")
      let g = KT.normals(rows * inner, &rng)
      let gx = KT.guarded([rows, 2 * inner])
      cpu.swigluBackward(gateUp: KT.tensor(gu, [rows, 2 * inner]), gradOut: KT.tensor(g, [rows, inner]), gradGateUp: gx)
      var ref = [Double](repeating: 0, count: rows * 2 * inner)
      for r in 0..<rows { for j in 0..<inner {
        let a = x[r * 2 * inner + j], u = x[r * 2 * inner + inner + j], d = Double(g[r * inner + j])
        let s = 1 / (1 + exp(-a))
        ref[r * 2 * inner + j] = d * u * s * (1 + a * (1 - s))
        ref[r * 2 * inner + inner + j] = d * Self.silu(a)
      } }
      // Same f32 operation count as the forward.
      KT.assertClose(gx.toArray(), ref, atol: 1e-6, rtol: 1e-5, "swiglu grad [\(rows), \(inner)]")
      KT.assertGuards(gx, "swiglu grad")
      KT.checkDirectional(x: x, gradOut: g.map(Double.init), gradX: gx.toArray(), rng: &rng,
                          "swiglu [\(rows), \(inner)]", f: f)
    }
  }

  func testSwiGLUBF16() {
    var rng = HRMRandom(seed: 16)
    let (rows, inner) = (13, 37)
    let gu = KT.bf16Rounded(KT.normals(rows * 2 * inner, &rng, scale: 2))
    let of = KT.guarded([rows, inner]), oh = KT.guarded([rows, inner], .bf16)
    cpu.swigluForward(KT.tensor(gu, [rows, 2 * inner]), out: of)
    cpu.swigluForward(KT.tensor(gu, [rows, 2 * inner], .bf16), out: oh)
    KT.assertBitEqual(oh.toArray(), of.toArray().map(BF16.round), "swiglu bf16")
    let g = KT.bf16Rounded(KT.normals(rows * inner, &rng))
    let gf = KT.guarded([rows, 2 * inner]), gh = KT.guarded([rows, 2 * inner], .bf16)
    cpu.swigluBackward(gateUp: KT.tensor(gu, [rows, 2 * inner]), gradOut: KT.tensor(g, [rows, inner]), gradGateUp: gf)
    cpu.swigluBackward(gateUp: KT.tensor(gu, [rows, 2 * inner], .bf16), gradOut: KT.tensor(g, [rows, inner], .bf16),
                       gradGateUp: gh)
    KT.assertBitEqual(gh.toArray(), gf.toArray().map(BF16.round), "swiglu bf16 grad")
    KT.assertGuards(gh, "swiglu bf16 grad")
  }
}
