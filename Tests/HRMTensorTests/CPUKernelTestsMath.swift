// CPUKernelTestsMath.swift: the CPU backend's internal vector helpers (eight-lane exp, row
// maximum, dot product) against Double references.

import XCTest
import Foundation
import HRMSupport
@testable import HRMTensor

final class CPUKernelTestsMath: XCTestCase {
  func testExp8IsAccurateOverTheSoftmaxRange() {
    var worst = 0.0
    var x: Float = -87
    while x <= 88 {
      var v = SIMD8<Float>()
      for l in 0..<8 { v[l] = x + Float(l) * 0.013 }
      let e = HostMath.exp8(v)
      for l in 0..<8 {
        let ref = Foundation.exp(Double(v[l]))
        worst = max(worst, abs(Double(e[l]) - ref) / ref)
      }
      x += 0.37
    }
    // Cephes' expf polynomial: within about one f32 ulp (2⁻²³ ≈ 1.2e-7) relative.
    XCTAssertLessThan(worst, 2.5e-7)
    let edge = HostMath.exp8(SIMD8<Float>(0, -1000, .nan, 1, -1, 0.5, -.infinity, 87.5))
    XCTAssertEqual(edge[0], 1)
    XCTAssertLessThan(edge[1], 2e-38, "very negative inputs give (almost) zero")
    XCTAssertTrue(edge[2].isNaN)
    XCTAssertLessThan(edge[6], 2e-38)
    XCTAssertTrue(edge[7].isFinite)
  }

  func testRowHelpers() {
    var rng = HRMRandom(seed: 71)
    for n in [1, 7, 8, 13, 82] {
      var row = KT.normals(n, &rng, scale: 5)
      let m = row.max() ?? 0
      XCTAssertEqual(row.withUnsafeBufferPointer { HostMath.maximum($0.baseAddress!, n) }, m, "max n\(n)")
      let other = KT.normals(n, &rng)
      let dot = zip(row, other).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
      let got = row.withUnsafeBufferPointer { a in other.withUnsafeBufferPointer { b in
        HostMath.dot(a.baseAddress!, b.baseAddress!, n) } }
      // f32 sum of n ≤ 82 products of size ≤ 25.
      XCTAssertEqual(Double(got), dot, accuracy: 1e-4 * max(1, abs(dot)), "dot n\(n)")
      let ref = row.map { Foundation.exp(Double($0 - m)) }
      let sum = row.withUnsafeMutableBufferPointer { HostMath.expShifted($0.baseAddress!, n, shift: m) }
      // exp8 error (≈1 ulp) plus an f32 sum of n terms ≤ 1.
      KT.assertClose(row, ref, atol: 1e-7, rtol: 3e-7, "expShifted n\(n)")
      XCTAssertEqual(Double(sum), ref.reduce(0, +), accuracy: 1e-6 * Double(n), "expShifted sum n\(n)")
    }
  }

  func testAtan2NonNegativeMatchesDouble() {
    var rng = HRMRandom(seed: 72)
    var worst = 0.0
    for _ in 0..<4000 {
      var y = SIMD8<Float>(), x = SIMD8<Float>()
      for l in 0..<8 {
        // Magnitudes from 1e-20 to 1e20 on both sides, so ratios cover every reduction branch.
        y[l] = Float((rng.uniform() < 0.5 ? -1 : 1) * pow(10, 40 * rng.uniform() - 20))
        x[l] = Float(pow(10, 40 * rng.uniform() - 20))
        if l == 7 { x[l] = abs(y[l]) * Float(rng.uniform() * 2) }  // ratios near 1
      }
      let got = HostMath.atan2NonNegative8(y, x)
      for l in 0..<8 {
        let ref = atan2(Double(y[l]), Double(x[l]))
        worst = max(worst, abs(Double(got[l]) - ref) / max(abs(ref), 1e-30))
      }
    }
    // Cephes' atanf reduction: about 2 ulp (2⁻²² ≈ 2.4e-7) relative, like CUDA's atan2f.
    XCTAssertLessThan(worst, 3e-7)
    let e = HostMath.atan2NonNegative8(SIMD8<Float>(0, -0.0, 1, -.infinity, .infinity, .nan, 3, -2),
                                       SIMD8<Float>(0, 0, 0, 1, .infinity, 1, .nan, 2))
    XCTAssertEqual(e[0].bitPattern, Float(0).bitPattern, "atan2(0, 0) = +0")
    XCTAssertEqual(e[1].bitPattern, Float(-0.0).bitPattern, "atan2(-0, 0) = -0")
    XCTAssertEqual(e[2], .pi / 2)
    XCTAssertEqual(e[3], -.pi / 2)
    XCTAssertEqual(e[4], .pi / 4, accuracy: 1e-7)
    XCTAssertTrue(e[5].isNaN && e[6].isNaN)
    XCTAssertEqual(e[7], -.pi / 4, accuracy: 1e-7)
  }
}
