// OpGradientTests.swift: every differentiable op's tape gradient against central finite
// differences (TestSupport.gradCheck), on awkward shapes.

import HRMSupport
import HRMTensor
import TestSupport
import XCTest

final class OpGradientTests: XCTestCase {
  let cpu = CPUBackend.shared

  /// f32 central differences with ε = 1e-2 on smooth functions: truncation error ~ε²·|f'''|
  /// and rounding ~1e-7·|L|/ε, so 2e-3 relative is comfortably above noise yet far below
  /// the error of any wrong gradient (which is O(1)).
  let tolerance = 2e-3

  func assertGradients(_ results: [GradCheckResult], tolerance: Double? = nil, _ name: String,
                       file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertFalse(results.isEmpty, "\(name): nothing was checked", file: file, line: line)
    for r in results {
      XCTAssertLessThan(r.error, tolerance ?? self.tolerance, "\(name): \(r)", file: file, line: line)
      XCTAssertFalse(r.analytic.isNaN, "\(name): NaN gradient", file: file, line: line)
    }
  }

  func testLinearWithAndWithoutBias() {
    let x = TestData.parameter([3, 5, 7], seed: 1, on: cpu)
    let w = TestData.parameter([11, 7], seed: 2, on: cpu)
    let b = TestData.parameter([11], seed: 3, on: cpu)
    assertGradients(gradCheck([x, w]) { linear($0[0], $0[1]) }, "linear")
    assertGradients(gradCheck([x, w, b]) { linear($0[0], $0[1], bias: $0[2]) }, "linear+bias")
  }

  func testEmbeddingWithRepeatedIds() {
    let table = TestData.parameter([6, 5], seed: 4, on: cpu)
    let ids = Tensor(ints: [0, 3, 3, 5, 1, 3, 0], shape: [7], on: cpu)
    assertGradients(gradCheck([table]) { embedding($0[0], ids: ids) }, "embedding")
  }

  func testRMSNorm() {
    let x = TestData.parameter([4, 13], seed: 5, on: cpu)
    assertGradients(gradCheck([x]) { rmsNorm($0[0], eps: 1e-5) }, "rmsNorm")
  }

  func testAddRMSNorm() {
    let a = TestData.parameter([4, 13], seed: 15, on: cpu)
    let b = TestData.parameter([4, 13], seed: 16, on: cpu)
    assertGradients(gradCheck([a, b]) { addRMSNorm($0[0], $0[1], eps: 1e-5) }, "addRMSNorm")
  }

  func testRoPE() {
    let (b, t, h, dh) = (2, 7, 2, 6)
    let qkv = TestData.parameter([b, t, 3 * h * dh], seed: 6, on: cpu)
    let cos = Tensor((0..<(t * dh)).map { Float(Foundation.cos(Double($0) * 0.37)) }, shape: [t, dh], on: cpu)
    let sin = Tensor((0..<(t * dh)).map { Float(Foundation.sin(Double($0) * 0.37)) }, shape: [t, dh], on: cpu)
    assertGradients(gradCheck([qkv]) { rope($0[0], cos: cos, sin: sin, heads: h, headDim: dh) }, "rope")
  }

  func testRotaryAttentionIsRoPEThenAttention() {
    let (b, t, h, dh) = (2, 9, 2, 8)
    let qkv = TestData.parameter([b, t, 3 * h * dh], seed: 17, on: cpu)
    // Independent random tables (halves differ): the backward must be the exact transpose.
    let cos = Tensor(TestData.uniform(t * dh, seed: 18, lo: -1, hi: 1), shape: [t, dh], on: cpu)
    let sin = Tensor(TestData.uniform(t * dh, seed: 19, lo: -1, hi: 1), shape: [t, dh], on: cpu)
    let before = qkv.toArray()
    let fused = Autodiff.withoutGradient { rotaryAttention(qkv, cos: cos, sin: sin, heads: h, headDim: dh) }.toArray()
    let composed = Autodiff.withoutGradient {
      attention(rope(qkv, cos: cos, sin: sin, heads: h, headDim: dh), heads: h, headDim: dh)
    }.toArray()
    XCTAssertEqual(fused, composed)
    XCTAssertEqual(qkv.toArray(), before, "rotaryAttention must leave its input unchanged")
    assertGradients(gradCheck([qkv], directions: 3) { rotaryAttention($0[0], cos: cos, sin: sin, heads: h, headDim: dh) },
                    "rotaryAttention")
    XCTAssertEqual(qkv.toArray(), before, "recording must not rotate the input in place")
  }

  func testAttention() {
    let (b, t, h, dh) = (2, 13, 3, 8)
    let qkv = TestData.parameter([b, t, 3 * h * dh], seed: 7, on: cpu)
    assertGradients(gradCheck([qkv], directions: 3) { attention($0[0], heads: h, headDim: dh) }, "attention")
  }

  func testSwiGLU() {
    let x = TestData.parameter([5, 2 * 9], seed: 8, on: cpu, lo: -3, hi: 3)
    assertGradients(gradCheck([x]) { swiglu($0[0]) }, "swiglu")
  }

  /// swigluLinear: recorded, the gradients of swiglu(linear(x, w)); not recorded (one
  /// backend call, linearSwiGLU), the composition's values bit for bit, in f32 and bf16.
  func testSwiGLULinearMatchesTheComposition() {
    let x = TestData.parameter([2, 3, 8], seed: 21, on: cpu, lo: -2, hi: 2)
    let w = TestData.parameter([2 * 6, 8], seed: 22, on: cpu)
    assertGradients(gradCheck([x, w]) { swigluLinear($0[0], $0[1]) }, "swigluLinear")
    for dtype in [DType.f32, .bf16] {
      let (xd, wd) = (x.cast(dtype), w.cast(dtype))
      let fused = Autodiff.withoutGradient { swigluLinear(xd, wd) }
      let composed = Autodiff.withoutGradient { swiglu(linear(xd, wd)) }
      XCTAssertEqual(fused.shape, [2, 3, 6])
      XCTAssertEqual(fused.dtype, dtype)
      XCTAssertEqual(fused.toArray(), composed.toArray(), "\(dtype)")
    }
  }

  /// The Backend's default linearRotary is linear then rope (positions restart every T rows).
  func testLinearRotaryDefaultIsLinearThenRope() {
    let (b, t, h, dh, k) = (2, 5, 2, 8, 6)
    let width = 3 * h * dh
    let x = TestData.parameter([b * t, k], seed: 23, on: cpu)
    let w = TestData.parameter([width, k], seed: 24, on: cpu)
    let (cosT, sinT) = ropeTables(length: t, headDim: dh, theta: 10000, on: cpu)
    let out = Tensor.empty([b * t, width], .f32, on: cpu)
    cpu.linearRotary(x, weight: w, cos: cosT, sin: sinT, seq: t, heads: h, headDim: dh, out: out)
    let expected = rope(linear(x, w).reshapedRaw([b, t, width]), cos: cosT, sin: sinT, heads: h, headDim: dh)
    XCTAssertEqual(out.toArray(), expected.toArray())
    XCTAssertNotEqual(out.toArray(), linear(x, w).toArray(), "the query and key heads must be rotated")
    // What rotaryProjectedAttention's fused route relies on: plain attention over the rotated
    // projection is rotary attention over the projection.
    let viaProjection = attention(out.reshapedRaw([b, t, width]), heads: h, headDim: dh)
    let direct = rotaryAttention(linear(x, w).reshapedRaw([b, t, width]), cos: cosT, sin: sinT, heads: h, headDim: dh)
    XCTAssertEqual(viaProjection.toArray(), direct.toArray())
  }

  func testAddScaleAndBroadcast() {
    let a = TestData.parameter([3, 4], seed: 9, on: cpu)
    let b = TestData.parameter([3, 4], seed: 10, on: cpu)
    let bias = TestData.parameter([4], seed: 11, on: cpu)
    assertGradients(gradCheck([a, b]) { addScaled($0[0], 0.5, $0[1], -2) }, "addScaled")
    assertGradients(gradCheck([a]) { scale($0[0], 3) }, "scale")
    assertGradients(gradCheck([a, bias]) { addRowBroadcast($0[0], $0[1]) }, "addRowBroadcast")
  }

  func testSequenceSliceAndConcat() {
    let a = TestData.parameter([2, 3, 5], seed: 12, on: cpu)
    let b = TestData.parameter([2, 4, 5], seed: 13, on: cpu)
    assertGradients(gradCheck([a, b]) { concatSequence($0[0], $0[1]) }, "concat")
    assertGradients(gradCheck([b]) { sliceSequence($0[0], start: 1, length: 2) }, "slice")
  }

  func testCrossEntropies() {
    let logits = TestData.parameter([6, 11], seed: 14, on: cpu, lo: -4, hi: 4)
    let labels = Tensor(ints: [3, -100, 0, 10, 7, 7], shape: [6], on: cpu)
    let weights = Tensor([0.5, 1, 0.25, 2, 1, 0.125], shape: [6], on: cpu)
    for kind in [CrossEntropyKind.stablemax, .softmax] {
      assertGradients(gradCheck([logits]) {
        weightedCrossEntropy(kind, logits: $0[0], labels: labels, weights: weights)
      }, "\(kind)")
    }
  }

  func testBCEAndSums() {
    let logits = TestData.parameter([5], seed: 15, on: cpu, lo: -3, hi: 3)
    let targets = Tensor([1, 0, 0.3, 1, 0.9], shape: [5], on: cpu)
    assertGradients(gradCheck([logits]) { bceWithLogitsSum(logits: $0[0], targets: targets) }, "bce")
    assertGradients(gradCheck([logits]) { sumAll($0[0]) }, "sumAll")
  }

  func testCastRoundTripKeepsGradientDtype() {
    let x = TestData.parameter([4, 3], seed: 16, on: cpu)
    let tape = Tape()
    Autodiff.record(on: tape) {
      let y = x.cast(.bf16).cast(.f32)
      tape.backward(sumAll(y))
    }
    XCTAssertEqual(x.grad?.dtype, .f32)
    XCTAssertEqual(x.grad?.toArray(), [Float](repeating: 1, count: 12))
  }
}

/// Autodiff semantics: reuse, unused inputs, no-grad regions, detach, tape size.
final class AutodiffSemanticsTests: XCTestCase {
  let cpu = CPUBackend.shared

  func testReusedInputSumsGradients() {
    let x = Tensor([1, 2, 3], shape: [3], on: cpu)
    x.requiresGrad = true
    let tape = Tape()
    Autodiff.record(on: tape) { tape.backward(sumAll(add(x, scale(x, 3)))) }
    XCTAssertEqual(x.grad?.toArray(), [4, 4, 4])
  }

  func testUnusedInputGetsNoGradient() {
    let x = TestData.parameter([3], seed: 1, on: cpu)
    let unused = TestData.parameter([3], seed: 2, on: cpu)
    let tape = Tape()
    Autodiff.record(on: tape) { tape.backward(sumAll(scale(x, 2))) }
    XCTAssertNil(unused.grad)
    XCTAssertEqual(x.grad?.toArray(), [2, 2, 2])
  }

  func testGradientsAccumulateAcrossBackwardCalls() {
    let x = TestData.parameter([2], seed: 3, on: cpu)
    for _ in 0..<2 {
      let tape = Tape()
      Autodiff.record(on: tape) { tape.backward(sumAll(scale(x, 5))) }
    }
    XCTAssertEqual(x.grad?.toArray(), [10, 10])
  }

  func testWithoutGradientRecordsNothing() {
    let x = TestData.parameter([4], seed: 4, on: cpu)
    let tape = Tape()
    Autodiff.record(on: tape) {
      _ = Autodiff.withoutGradient { scale(add(x, x), 2) }
      XCTAssertEqual(tape.count, 0)
      _ = scale(x, 2)
      XCTAssertEqual(tape.count, 1)
    }
  }

  func testDetachedCutsTheGraph() {
    let x = TestData.parameter([3], seed: 5, on: cpu)
    let tape = Tape()
    Autodiff.record(on: tape) {
      let y = scale(x, 2).detached()
      XCTAssertFalse(y.requiresGrad)
      tape.backward(sumAll(add(scale(y, 3), x)))
    }
    XCTAssertEqual(x.grad?.toArray(), [1, 1, 1])
  }

  func testSeedScalesGradient() {
    let x = TestData.parameter([2], seed: 6, on: cpu)
    let tape = Tape()
    Autodiff.record(on: tape) { tape.backward(sumAll(x), seed: Tensor([0.25], shape: [1], on: cpu)) }
    XCTAssertEqual(x.grad?.toArray(), [0.25, 0.25])
  }
}
