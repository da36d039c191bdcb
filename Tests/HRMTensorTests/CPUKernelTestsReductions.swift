// CPUKernelTestsReductions.swift: CPU sum / dot / sum of squares, argmax and the LM
// correctness counts against Double references.

import XCTest
import HRMSupport
import HRMTensor

final class CPUKernelTestsReductions: XCTestCase {
  let cpu = KT.cpu

  func testScalarReductionsAcrossBlocks() {
    var rng = HRMRandom(seed: 41)
    // 1 block, several fixed-size blocks, and a ragged last block.
    for n in [1, 7, 4096, 50_001] {
      let a = KT.normals(n, &rng), b = KT.normals(n, &rng)
      let sum = a.reduce(0.0) { $0 + Double($1) }
      let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
      let sq = a.reduce(0.0) { $0 + Double($1) * Double($1) }
      for dtype in [DType.f32, .bf16] {
        let ra = dtype == .bf16 ? KT.bf16Rounded(a) : a, rb = dtype == .bf16 ? KT.bf16Rounded(b) : b
        let (s, d, q) = dtype == .bf16
          ? (ra.reduce(0.0) { $0 + Double($1) }, zip(ra, rb).reduce(0.0) { $0 + Double($1.0) * Double($1.1) },
             ra.reduce(0.0) { $0 + Double($1) * Double($1) })
          : (sum, dot, sq)
        let ta = KT.tensor(a, [n], dtype), tb = KT.tensor(b, [n], dtype)
        let out = KT.guarded([1])
        // f64 accumulation: the only error is the final rounding to f32 (plus f64 noise).
        cpu.sum(ta, out: out, accumulate: false)
        KT.assertClose(out.toArray(), [s], atol: 1e-9, rtol: 1e-7, "sum n\(n) \(dtype)")
        cpu.sum(ta, out: out, accumulate: true)
        KT.assertClose(out.toArray(), [2 * s], atol: 1e-9, rtol: 2e-7, "sum accumulate n\(n) \(dtype)")
        cpu.dot(ta, tb, out: out, accumulate: false)
        KT.assertClose(out.toArray(), [d], atol: 1e-9, rtol: 1e-7, "dot n\(n) \(dtype)")
        cpu.sumOfSquares(ta, out: out, accumulate: false)
        cpu.sumOfSquares(ta, out: out, accumulate: true)
        KT.assertClose(out.toArray(), [2 * q], atol: 1e-9, rtol: 2e-7, "sumOfSquares n\(n) \(dtype)")
        KT.assertGuards(out, "reduction out")
      }
    }
  }

  func testArgmaxTiesGoToTheLowestIndex() {
    let logits: [Float] = [1, 3, 3, 0,   -1, -1, -1, -1,   0, 0, 0, 5,   2, -.infinity, 2, 1]
    let out = KT.guarded([4], .i32)
    cpu.argmax(KT.tensor(logits, [4, 4]), out: out)
    XCTAssertEqual(out.toInt32Array(), [1, 0, 3, 0])
    KT.assertGuards(out, "argmax")
    let outH = KT.guarded([4], .i32)
    cpu.argmax(KT.tensor(logits, [4, 4], .bf16), out: outH)
    XCTAssertEqual(outH.toInt32Array(), [1, 0, 3, 0])
  }

  func testArgmaxAgainstReference() {
    var rng = HRMRandom(seed: 42)
    let (n, v) = (82, 13)
    // Coarse values so ties are common.
    let z = (0..<(n * v)).map { _ in Float(rng.int(0, 4)) }
    let out = KT.guarded([n], .i32)
    cpu.argmax(KT.tensor(z, [n, v]), out: out)
    let ref = (0..<n).map { r -> Int32 in
      let row = z[(r * v)..<((r + 1) * v)]
      let m = row.max() ?? 0
      return Int32((row.firstIndex(of: m) ?? 0) - r * v)
    }
    XCTAssertEqual(out.toInt32Array(), ref)
  }

  func testTokenCorrectness() {
    // B = 3, S = 4, V = 3.
    let logits: [Float] = [
      // row 0: argmax 0, 1, 2, 2 (tie 2 vs 2 at index 1/2 -> 1 in the last position)
      5, 0, 0,  0, 5, 0,  0, 0, 5,  0, 2, 2,
      // row 1: all correct on valid positions
      1, 0, 0,  0, 1, 0,  0, 0, 1,  1, 1, 1,
      // row 2: fully ignored
      1, 0, 0,  0, 1, 0,  0, 0, 1,  1, 1, 1,
    ]
    let labels: [Int32] = [0, 1, 0, 2,   0, 1, 2, -100,   -100, -100, -100, -100]
    let valid = KT.guarded([3], .i32), correct = KT.guarded([3], .i32), seq = KT.guarded([3])
    for dtype in [DType.f32, .bf16] {
      cpu.tokenCorrectness(logits: KT.tensor(logits, [3, 4, 3], dtype), labels: KT.ints(labels, [3, 4]),
                           valid: valid, correct: correct, seqCorrect: seq)
      XCTAssertEqual(valid.toInt32Array(), [4, 3, 0], "\(dtype)")
      // Row 0: positions 0, 1 right; 2 wrong (label 0, argmax 2); 3 wrong (tie resolves to 1).
      XCTAssertEqual(correct.toInt32Array(), [2, 3, 0], "\(dtype)")
      // A fully ignored row counts as sequence-correct (the reference's behaviour).
      XCTAssertEqual(seq.toArray(), [0, 1, 1], "\(dtype)")
    }
    KT.assertGuards(valid, "valid")
    KT.assertGuards(correct, "correct")
    KT.assertGuards(seq, "seqCorrect")
  }
}
