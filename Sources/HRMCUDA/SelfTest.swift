// SelfTest.swift: checks every kernel of one Backend against another (the GPU against the
// CPU oracle), op by op, on fresh random inputs.
//
// Each check builds the same host inputs on both backends, poisons the outputs (NaN for
// float tensors, a sentinel for i32) so unwritten elements fail, runs the op on both, and
// compares: relative error ||device - reference|| / ||reference|| (f64), NaN never passes,
// i32 outputs must match exactly. Tolerances: 1e-5 where the op's outputs are f32, 1e-2 on
// bf16 paths. Not here: timing (see CUDABench.swift) and the CLI (HRMCLI/SelftestCommand).

import Foundation
import HRMSupport
import HRMTensor

/// One row of the self-test table.
public struct SelfTestResult: Sendable {
  /// Op name, e.g. "attentionForward".
  public let op: String
  /// Shapes and dtypes of the case, e.g. "bf16 B2 T200 H2 Dh64".
  public let variant: String
  /// Relative error (mismatch fraction for integer outputs).
  public let error: Double
  /// The bound the error had to stay under.
  public let tolerance: Double
  /// error <= tolerance and no NaN.
  public let passed: Bool
  /// Which output failed, NaN counts, and similar details.
  public let note: String

  /// A result row (the CLI adds its own, e.g. the out-of-memory check).
  public init(op: String, variant: String, error: Double, tolerance: Double, passed: Bool, note: String) {
    self.op = op
    self.variant = variant
    self.error = error
    self.tolerance = tolerance
    self.passed = passed
    self.note = note
  }
}

/// The self-test harness, generic over any two backends.
public final class BackendSelfTest {
  /// The backend under test.
  public let device: Backend
  /// The oracle (the CPU backend).
  public let reference: Backend
  /// Substrings of op names to run (empty: all).
  public var filters: [String] = []
  /// Ops (exact names) not run but reported as failures, e.g. after a kernel compile error.
  public var skipped: [String] = []
  /// Called after each check (for streaming output).
  public var onResult: ((SelfTestResult) -> Void)?
  /// Every check run so far.
  public private(set) var results: [SelfTestResult] = []
  var rng: HRMRandom

  /// Relative-error bound where the op's output is f32.
  public static let f32Tolerance = 1e-5
  /// Relative-error bound on bf16 paths.
  public static let bf16Tolerance = 1e-2
  static let intPoison: Float = -123_456

  /// A harness comparing `device` with `reference`; `seed` fixes the random inputs.
  public init(device: Backend, reference: Backend, seed: UInt64 = 1) {
    self.device = device
    self.reference = reference
    self.rng = HRMRandom(seed: seed)
  }

  /// Runs every check; returns the results (also kept in `results`).
  @discardableResult
  public func runAll() -> [SelfTestResult] {
    memoryAndElementwise()
    linearAlgebra()
    embeddings()
    normalisationAndRope()
    attention()
    swiglu()
    fusedProjections()
    losses()
    reductions()
    act()
    optimisers()
    return results
  }

  /// True when every check passed (and at least one ran).
  public var allPassed: Bool { !results.isEmpty && results.allSatisfy(\.passed) }

  // MARK: - Random inputs

  func normal(_ n: Int, _ scale: Float = 1) -> [Float] {
    (0..<n).map { _ in Float(rng.normal()) * scale }
  }

  func uniform(_ n: Int, _ lo: Float, _ hi: Float) -> [Float] {
    (0..<n).map { _ in lo + (hi - lo) * Float(rng.uniform()) }
  }

  func ints(_ n: Int, _ lo: Int, _ hi: Int) -> [Int32] {
    (0..<n).map { _ in Int32(rng.int(lo, hi)) }
  }

  /// Labels in 0..<vocab with about `ignoreFraction` of them -100.
  func labels(_ n: Int, vocab: Int, ignoreFraction: Double = 0.1) -> [Int32] {
    (0..<n).map { _ in rng.uniform() < ignoreFraction ? -100 : Int32(rng.int(0, vocab - 1)) }
  }

  static func tolerance(_ dtype: DType) -> Double { dtype == .bf16 ? bf16Tolerance : f32Tolerance }

  // MARK: - Tensor helpers (used inside check bodies, per backend)

  static func make(_ values: [Float], _ shape: [Int], _ dtype: DType, on be: Backend) -> Tensor {
    Tensor(values, shape: shape, dtype: dtype, on: be)
  }

  static func make(ints values: [Int32], _ shape: [Int], on be: Backend) -> Tensor {
    Tensor(ints: values, shape: shape, on: be)
  }

  /// An output tensor whose every element is poison (NaN, or a sentinel for i32).
  static func poisoned(_ shape: [Int], _ dtype: DType, on be: Backend) -> Tensor {
    Tensor.full(shape, dtype == .i32 ? intPoison : .nan, dtype, on: be)
  }

  /// A tensor placed at a non-zero element offset inside a larger buffer.
  static func offsetTensor(_ values: [Float], _ shape: [Int], _ dtype: DType, offset: Int, on be: Backend) -> Tensor {
    let parent = Tensor(Array(repeating: 0, count: offset) + values, shape: [offset + values.count], dtype: dtype, on: be)
    return Tensor(buffer: parent.buffer, offset: offset, shape: shape, dtype: dtype)
  }

  // MARK: - Comparison

  /// Relative L2 error of `got` against `want` (f64); integer-typed outputs: mismatch fraction.
  static func compare(_ got: Tensor, _ want: Tensor) -> (error: Double, note: String) {
    precondition(got.count == want.count, "compared tensors differ in size")
    if want.dtype == .i32 {
      let g = got.toInt32Array(), w = want.toInt32Array()
      var mismatches = 0
      var first = -1
      for i in 0..<g.count where g[i] != w[i] {
        mismatches += 1
        if first < 0 { first = i }
      }
      if mismatches == 0 { return (0, "") }
      return (Double(mismatches) / Double(max(g.count, 1)),
              "\(mismatches) of \(g.count) differ (first at \(first): \(g[first]) vs \(w[first]))")
    }
    let g = got.toArray(), w = want.toArray()
    var diff = 0.0, norm = 0.0
    var nanGot = 0, nanWant = 0
    var worst = -1
    var worstDiff = -1.0
    for i in 0..<g.count {
      if g[i].isNaN { nanGot += 1; continue }
      if w[i].isNaN { nanWant += 1; continue }
      let d = Double(g[i]) - Double(w[i])
      diff += d * d
      norm += Double(w[i]) * Double(w[i])
      if abs(d) > worstDiff { worstDiff = abs(d); worst = i }
    }
    if nanGot > 0 || nanWant > 0 {
      return (.nan, "NaN: \(nanGot) on the device, \(nanWant) in the reference, of \(g.count)")
    }
    let error = norm > 0 ? (diff / norm).squareRoot() : diff.squareRoot()
    let note = worst >= 0 && worstDiff > 0 ? "worst at \(worst): \(g[worst]) vs \(w[worst])" : ""
    return (error, note)
  }

  /// Whether `op` passes the filters.
  func wants(_ op: String) -> Bool {
    filters.isEmpty || filters.contains(where: { op.lowercased().contains($0.lowercased()) })
  }

  /// Runs `body` on both backends (it must build its inputs from the same host arrays) and
  /// compares the returned outputs pairwise. `tolerance` nil: per output dtype.
  func check(_ op: String, _ variant: String, tolerance: Double? = nil, _ body: (Backend) -> [Tensor]) {
    if !wants(op) { return }
    if skipped.contains(op) {
      let result = SelfTestResult(op: op, variant: variant, error: .nan, tolerance: tolerance ?? 0, passed: false,
                                  note: "skipped: its kernels did not compile")
      results.append(result)
      onResult?(result)
      return
    }
    let got = body(device)
    device.synchronize()
    let want = body(reference)
    reference.synchronize()
    precondition(got.count == want.count, "\(op): backends returned different output counts")
    var worst = 0.0
    var notes: [String] = []
    var passed = true
    var tol = tolerance ?? 0
    for (i, (g, w)) in zip(got, want).enumerated() {
      let t = tolerance ?? BackendSelfTest.tolerance(w.dtype)
      tol = max(tol, t)
      let (e, note) = BackendSelfTest.compare(g, w)
      let ok = !e.isNaN && e <= t
      if !ok { passed = false }
      if e.isNaN || e > worst || worst.isNaN { worst = e.isNaN ? .nan : max(worst, e) }
      if !ok || (!note.isEmpty && e > t / 10) {
        notes.append(got.count > 1 ? "out\(i): \(note)" : note)
      }
    }
    let result = SelfTestResult(op: op, variant: variant, error: worst, tolerance: tol, passed: passed,
                                note: notes.joined(separator: "; "))
    results.append(result)
    onResult?(result)
  }

  /// Formats results as a table (op / variant / error / tolerance / PASS|FAIL).
  public static func table(_ results: [SelfTestResult]) -> String {
    let opWidth = max(2, results.map(\.op.count).max() ?? 2)
    let varWidth = max(7, results.map(\.variant.count).max() ?? 7)
    func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
    var lines = [pad("op", opWidth) + "  " + pad("variant", varWidth) + "  error      tol    result"]
    for r in results {
      let err = r.error.isNaN ? "NaN      " : String(format: "%.2e ", r.error)
      var line = pad(r.op, opWidth) + "  " + pad(r.variant, varWidth) + "  " + pad(err, 9) + "  "
        + String(format: "%.0e", r.tolerance) + "  " + (r.passed ? "PASS" : "FAIL")
      if !r.note.isEmpty && !r.passed { line += "  (\(r.note))" }
      lines.append(line)
    }
    let failed = results.filter { !$0.passed }.count
    lines.append("\(results.count - failed) of \(results.count) checks passed" + (failed > 0 ? ", \(failed) FAILED" : ""))
    return lines.joined(separator: "\n")
  }
}
