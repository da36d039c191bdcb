// CPUKernelTestsOptimisers.swift: CPU ACT bookkeeping (halting rule, Q target), AdamATan2 and
// sparse sign-SGD against hand-computed values and Double references.

import XCTest
import Foundation
import HRMSupport
import HRMTensor

final class CPUKernelTestsOptimisers: XCTestCase {
  let cpu = KT.cpu

  // MARK: - ACT

  func testActHaltWithoutQ() {
    let steps = KT.ints([0, 2, 3, 15], [4])
    let halted = KT.guarded([4], .i32)
    // useQ false: only the step limit counts; q and minSteps are ignored.
    cpu.actHalt(steps: steps, qHalt: KT.tensor([9, 9, 9, 9], [4]), qCont: KT.tensor([0, 0, 0, 0], [4]),
                minSteps: KT.ints([16, 16, 16, 16], [4]), maxSteps: 4, useQ: false, halted: halted)
    XCTAssertEqual(steps.toInt32Array(), [1, 3, 4, 16])
    XCTAssertEqual(halted.toInt32Array(), [0, 0, 1, 1])
    KT.assertGuards(halted, "actHalt")
    KT.assertGuards(steps, "actHalt steps")
  }

  func testActHaltWithQAndMinSteps() {
    // Columns: Q says halt / Q says continue / at the limit / Q halt vetoed by minSteps /
    // minSteps reached / the limit is not vetoed by minSteps ≤ maxSteps / equal q: continue.
    let steps = KT.ints([2, 2, 15, 2, 4, 15, 5], [7])
    let qHalt = KT.tensor([1, -1, -5, 3, 3, -5, 0.5], [7])
    let qCont = KT.tensor([0, 2, 0, 0, 0, 0, 0.5], [7])
    let minSteps = KT.ints([0, 0, 0, 5, 5, 16, 0], [7])
    let halted = KT.guarded([7], .i32)
    cpu.actHalt(steps: steps, qHalt: qHalt, qCont: qCont, minSteps: minSteps, maxSteps: 16, useQ: true, halted: halted)
    XCTAssertEqual(steps.toInt32Array(), [3, 3, 16, 3, 5, 16, 6])
    XCTAssertEqual(halted.toInt32Array(), [1, 0, 1, 0, 1, 1, 0])
  }

  func testActTarget() {
    let nh: [Float] = [-1, 2, 0.5, -3], nc: [Float] = [3, 1, 4, -2]
    let steps = KT.ints([2, 5, 16, 17], [4])
    let target = KT.guarded([4])
    cpu.actTarget(nextQHalt: KT.tensor(nh, [4]), nextQCont: KT.tensor(nc, [4]), steps: steps, maxSteps: 16, target: target)
    let sig: (Double) -> Double = { 1 / (1 + exp(-$0)) }
    // Before the limit: max of both heads; at or past it: the halt head alone. expf: ~1 ulp.
    KT.assertClose(target.toArray(), [sig(3), sig(2), sig(0.5), sig(-3)], atol: 1e-7, rtol: 1e-6, "actTarget")
    KT.assertGuards(target, "actTarget")
  }

  // MARK: - AdamATan2

  func testAdamATan2FirstStepByHand() {
    let (lr, b1, b2, wd): (Float, Float, Float, Float) = (1e-3, 0.9, 0.95, 0.1)
    let p0: [Float] = [0.5, -0.25, 1, 0, 2]
    let g: [Float] = [0.3, -2, 1e-4, 0, -7]
    let (param, m, v) = (KT.tensor(p0, [5]), KT.tensor([0, 0, 0, 0, 0], [5]), KT.tensor([0, 0, 0, 0, 0], [5]))
    cpu.adamATan2Step(param: param, grad: KT.tensor(g, [5]), m: m, v: v, lr: lr, beta1: b1, beta2: b2,
                      weightDecay: wd, biasCorrection1: 1 - b1, biasCorrection2: 1 - b2)
    // At t = 1: m = 0.1·g, v = 0.05·g², sqrt(v)/sqrt(bc2) = |g|, so
    // p = p0·(1 − lr·wd) − (lr/0.1)·atan2(0.1·g, |g|) = p0·(1 − lr·wd) − 10·lr·atan(0.1)·sign(g).
    let want = (0..<5).map { i -> Double in
      let gi = Double(g[i])
      return Double(p0[i]) * (1 - 1e-4) - (1e-3 / 0.1) * atan2(0.1 * gi, abs(gi))
    }
    // Several f32 roundings on O(1) values; the step itself is ~1e-3.
    KT.assertClose(param.toArray(), want, atol: 1e-7, rtol: 1e-6, "adam-atan2 first step")
    XCTAssertEqual(Double(p0[0]) * (1 - 1e-4) - Double(param.toArray()[0]), 0.9967 * 1e-3, accuracy: 1e-6,
                   "10·atan(0.1) ≈ 0.9967 of lr")
    KT.assertClose(m.toArray(), g.map { 0.1 * Double($0) }, atol: 1e-9, rtol: 1e-6, "m")
    KT.assertClose(v.toArray(), g.map { 0.05 * Double($0) * Double($0) }, atol: 1e-12, rtol: 1e-6, "v")
    XCTAssertEqual(param.toArray()[3], 0, "zero weight and zero grad stay at zero (atan2(0, 0) = 0)")
    KT.assertGuards(param, "adam param")
  }

  func testAdamATan2SeveralStepsAgainstDouble() {
    var rng = HRMRandom(seed: 51)
    let n = 37
    let (lr, b1, b2, wd): (Double, Double, Double, Double) = (3e-3, 0.9, 0.95, 0.5)
    var p = KT.normals(n, &rng).map(Double.init)
    var m = [Double](repeating: 0, count: n), v = m
    let param = KT.tensor(p.map { Float($0) }, [n])
    let mt = KT.tensor(m.map { Float($0) }, [n]), vt = KT.tensor(v.map { Float($0) }, [n])
    for t in 1...5 {
      let g = KT.normals(n, &rng)
      let bc1 = 1 - pow(b1, Double(t)), bc2 = 1 - pow(b2, Double(t))
      cpu.adamATan2Step(param: param, grad: KT.tensor(g, [n]), m: mt, v: vt, lr: Float(lr), beta1: Float(b1),
                        beta2: Float(b2), weightDecay: Float(wd), biasCorrection1: Float(bc1),
                        biasCorrection2: Float(bc2))
      for i in 0..<n {
        let gi = Double(g[i])
        p[i] *= 1 - lr * wd
        m[i] += (1 - b1) * (gi - m[i])
        v[i] += (1 - b2) * (gi * gi - v[i])
        p[i] -= (lr / bc1) * atan2(m[i], v[i].squareRoot() / bc2.squareRoot())
      }
    }
    // Five f32 steps of size ≤ (π/2)·lr/bc1; f32 state error stays at a few ulps of O(1) values.
    KT.assertClose(param.toArray(), p, atol: 1e-6, rtol: 1e-6, "adam-atan2 5 steps param")
    KT.assertClose(mt.toArray(), m, atol: 1e-7, rtol: 1e-5, "adam-atan2 5 steps m")
    KT.assertClose(vt.toArray(), v, atol: 1e-7, rtol: 1e-5, "adam-atan2 5 steps v")
  }

  // MARK: - Sparse sign-SGD

  func testSparseSignSGDSumsDuplicatesFirst() {
    let (r, d) = (5, 3)
    let table0: [Float] = (0..<(r * d)).map { Float($0) * 0.5 - 3 }
    let ids: [Int32] = [3, 1, 3, 3, 0]
    let grads: [Float] = [
      1, -2, 0.5,      // id 3
      0, 0, 0,         // id 1: zero gradient -> decay only
      -3, 1, -0.5,     // id 3
      1, 0.5, 0,       // id 3: sums are (-1, -0.5, 0)
      -1e-30, 4, 0,    // id 0
    ]
    let table = KT.tensor(table0, [r, d])
    let (lr, wd): (Float, Float) = (0.01, 0.1)
    cpu.sparseSignSGDStep(table: table, ids: KT.ints(ids, [5]), grads: KT.tensor(grads, [5, d]), lr: lr, weightDecay: wd)
    var want = table0.map(Double.init)
    let decay = 1 - 0.01 * 0.1
    let signs: [Int: [Double]] = [3: [-1, -1, 0], 1: [0, 0, 0], 0: [-1, 1, 0]]
    for (id, s) in signs { for j in 0..<d { want[id * d + j] = want[id * d + j] * decay - 0.01 * s[j] } }
    // One f32 multiply and subtract per element; rows 2 and 4 (not in ids) are untouched.
    KT.assertClose(table.toArray(), want, atol: 1e-6, rtol: 1e-6, "sparse sign-SGD")
    XCTAssertEqual(Array(table.toArray()[(2 * d)..<(3 * d)]), Array(table0[(2 * d)..<(3 * d)]))
    XCTAssertEqual(Array(table.toArray()[(4 * d)..<(5 * d)]), Array(table0[(4 * d)..<(5 * d)]))
    KT.assertGuards(table, "sparse sign-SGD")
  }

  func testSparseSignSGDRandomAgainstReference() {
    var rng = HRMRandom(seed: 52)
    let (r, d, n) = (9, 13, 40)
    let table0 = KT.normals(r * d, &rng)
    let ids = (0..<n).map { _ in Int32(rng.int(0, r - 2)) }  // the last row never appears
    let grads = KT.normals(n * d, &rng)
    let table = KT.tensor(table0, [r, d])
    cpu.sparseSignSGDStep(table: table, ids: KT.ints(ids, [n]), grads: KT.tensor(grads, [n, d]), lr: 0.02, weightDecay: 0.3)
    var sums = [Double](repeating: 0, count: r * d)
    for (i, id) in ids.enumerated() { for j in 0..<d { sums[Int(id) * d + j] += Double(grads[i * d + j]) } }
    let present = Set(ids.map(Int.init))
    let want = (0..<(r * d)).map { k -> Double in
      guard present.contains(k / d) else { return Double(table0[k]) }
      let s: Double = sums[k] > 0 ? 1 : (sums[k] < 0 ? -1 : 0)
      return Double(table0[k]) * (1 - 0.02 * 0.3) - 0.02 * s
    }
    // Same as above; sums of ~4 unit normals are never within f32 noise of 0 for this seed.
    KT.assertClose(table.toArray(), want, atol: 1e-6, rtol: 1e-6, "sparse sign-SGD random")
  }
}
