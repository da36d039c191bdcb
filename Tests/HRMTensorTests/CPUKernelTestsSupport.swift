// CPUKernelTestsSupport.swift: shared helpers of the CPU kernel tests.
//
// Every test tensor is placed at a non-zero offset inside a larger buffer whose other bytes
// hold a guard pattern, so each kernel test also checks that `Tensor.offset` is honoured and
// nothing outside the tensor is written. References are plain Double loops in the tests;
// comparisons use `atol + rtol·|ref|` with the reason for each tolerance at the call site.

import XCTest
import HRMSupport
import HRMTensor

/// Helpers for the CPU kernel tests (namespaced to stay clear of other test files).
enum KT {
  static let cpu = CPUBackend.shared
  /// Elements placed before every test tensor.
  static let lead = 5
  /// Elements placed after every test tensor.
  static let tail = 3
  static let guardByte: UInt8 = 0xA5

  // MARK: - Random data

  static func normals(_ n: Int, _ rng: inout HRMRandom, scale: Double = 1) -> [Float] {
    (0..<n).map { _ in Float(rng.normal() * scale) }
  }

  static func uniforms(_ n: Int, _ rng: inout HRMRandom, _ lo: Double, _ hi: Double) -> [Float] {
    (0..<n).map { _ in Float(lo + (hi - lo) * rng.uniform()) }
  }

  /// Rounds every value to bf16 (so f32 and bf16 runs see identical inputs).
  static func bf16Rounded(_ v: [Float]) -> [Float] { v.map(BF16.round) }

  // MARK: - Tensors at an offset

  /// A tensor of `dtype` holding `values`, at offset `lead` inside a guarded buffer.
  static func tensor(_ values: [Float], _ shape: [Int], _ dtype: DType = .f32) -> Tensor {
    precondition(values.count == shape.reduce(1, *))
    let t = guarded(shape, dtype)
    switch dtype {
    case .f32:
      values.withUnsafeBytes { cpu.upload($0.baseAddress!, byteCount: values.count * 4, to: t.buffer, offset: t.byteOffset) }
    case .bf16:
      let h = values.map(BF16.fromFloat)
      h.withUnsafeBytes { cpu.upload($0.baseAddress!, byteCount: h.count * 2, to: t.buffer, offset: t.byteOffset) }
    case .i32:
      let h = values.map { Int32($0) }
      h.withUnsafeBytes { cpu.upload($0.baseAddress!, byteCount: h.count * 4, to: t.buffer, offset: t.byteOffset) }
    }
    return t
  }

  /// An i32 tensor holding `values`, at an offset inside a guarded buffer.
  static func ints(_ values: [Int32], _ shape: [Int]) -> Tensor {
    precondition(values.count == shape.reduce(1, *))
    let t = guarded(shape, .i32)
    values.withUnsafeBytes { cpu.upload($0.baseAddress!, byteCount: values.count * 4, to: t.buffer, offset: t.byteOffset) }
    return t
  }

  /// An uninitialised-looking output tensor (every byte, inside and out, is the guard byte).
  static func guarded(_ shape: [Int], _ dtype: DType = .f32) -> Tensor {
    let n = shape.reduce(1, *)
    let bytes = (lead + n + tail) * dtype.size
    let buffer = try! cpu.allocate(byteCount: bytes)
    let fill = [UInt8](repeating: guardByte, count: bytes)
    fill.withUnsafeBytes { cpu.upload($0.baseAddress!, byteCount: bytes, to: buffer, offset: 0) }
    return Tensor(buffer: buffer, offset: lead, shape: shape, dtype: dtype)
  }

  /// Fails when a byte outside `t` (but inside its buffer) lost the guard pattern.
  static func assertGuards(_ t: Tensor, _ what: String = "", file: StaticString = #filePath, line: UInt = #line) {
    var bytes = [UInt8](repeating: 0, count: t.buffer.byteCount)
    bytes.withUnsafeMutableBytes { cpu.download(t.buffer, offset: 0, byteCount: t.buffer.byteCount, to: $0.baseAddress!) }
    let lo = t.byteOffset, hi = t.byteOffset + t.byteCount
    let bad = bytes.indices.filter { ($0 < lo || $0 >= hi) && bytes[$0] != guardByte }
    XCTAssert(bad.isEmpty, "\(what): kernel wrote outside the tensor at bytes \(bad.prefix(5))", file: file, line: line)
  }

  // MARK: - Comparisons

  /// |got − ref| ≤ atol + rtol·|ref| elementwise; reports the worst element.
  static func assertClose(_ got: [Float], _ ref: [Double], atol: Double, rtol: Double, _ what: String,
                          file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.count, ref.count, "\(what): count", file: file, line: line)
    var worst = -1, worstExcess = 0.0
    for i in 0..<min(got.count, ref.count) {
      let err = abs(Double(got[i]) - ref[i])
      let excess = err - (atol + rtol * abs(ref[i]))
      if !(excess <= 0) && (worst < 0 || excess > worstExcess || excess.isNaN) { worst = i; worstExcess = excess }
    }
    if worst >= 0 {
      XCTFail("\(what): element \(worst) got \(got[worst]) want \(ref[worst]) (atol \(atol), rtol \(rtol))",
              file: file, line: line)
    }
  }

  static func assertClose(_ got: [Float], _ ref: [Float], atol: Double, rtol: Double, _ what: String,
                          file: StaticString = #filePath, line: UInt = #line) {
    assertClose(got, ref.map(Double.init), atol: atol, rtol: rtol, what, file: file, line: line)
  }

  /// Bitwise equality of two float arrays (NaN payloads included).
  static func assertBitEqual(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "\(what): count", file: file, line: line)
    if let i = (0..<min(a.count, b.count)).first(where: { a[$0].bitPattern != b[$0].bitPattern }) {
      XCTFail("\(what): element \(i) differs: \(a[i]) vs \(b[i])", file: file, line: line)
    }
  }

  // MARK: - Finite differences

  /// Directional derivative check of a backward kernel against central differences of a
  /// Double forward reference f: ⟨gradOut, f(x + εd) − f(x − εd)⟩ / 2ε must equal
  /// ⟨gradX, d⟩ for random directions d. The tolerance is relative to Σ|gradX_i·d_i|, the
  /// size of the terms of the dot product: f32 gradients carry ~1e-6 relative error per
  /// element, and the O(ε²) truncation error of the Double differences is far below that.
  static func checkDirectional(x: [Double], gradOut: [Double], gradX: [Float], rng: inout HRMRandom,
                               directions: Int = 3, epsilon: Double = 1e-5, rtol: Double = 1e-4,
                               _ what: String, file: StaticString = #filePath, line: UInt = #line,
                               f: ([Double]) -> [Double]) {
    XCTAssertEqual(x.count, gradX.count, "\(what): gradient size", file: file, line: line)
    for k in 0..<directions {
      let d = (0..<x.count).map { _ in rng.normal() }
      let plus = f(zip(x, d).map { $0 + epsilon * $1 })
      let minus = f(zip(x, d).map { $0 - epsilon * $1 })
      var numeric = 0.0
      for i in 0..<plus.count { numeric += gradOut[i] * (plus[i] - minus[i]) }
      numeric /= 2 * epsilon
      var analytic = 0.0, magnitude = 0.0
      for i in 0..<x.count {
        analytic += Double(gradX[i]) * d[i]
        magnitude += abs(Double(gradX[i]) * d[i])
      }
      let tol = rtol * magnitude + 1e-7
      XCTAssert(abs(numeric - analytic) <= tol,
                "\(what): direction \(k): finite difference \(numeric) vs kernel \(analytic) (tol \(tol))",
                file: file, line: line)
    }
  }

  static func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
}
