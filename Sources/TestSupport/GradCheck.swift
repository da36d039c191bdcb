// GradCheck.swift: helpers shared by the test targets: seeded random tensors, tolerant
// comparisons, and the finite-difference gradient check every differentiable op goes through.

import Foundation
import HRMSupport
import HRMTensor

public enum TestData {
  /// Seeded uniform values in [lo, hi).
  public static func uniform(_ n: Int, seed: UInt64, lo: Float = -1, hi: Float = 1) -> [Float] {
    var rng = HRMRandom(seed: seed)
    return (0..<n).map { _ in lo + (hi - lo) * Float(rng.uniform()) }
  }

  /// A seeded f32 tensor that requires a gradient.
  public static func parameter(_ shape: [Int], seed: UInt64, on backend: Backend, lo: Float = -1, hi: Float = 1) -> Tensor {
    let t = Tensor(uniform(shape.reduce(1, *), seed: seed, lo: lo, hi: hi), shape: shape, on: backend)
    t.requiresGrad = true
    return t
  }
}

/// Result of one directional-derivative comparison.
public struct GradCheckResult: CustomStringConvertible {
  public let input: Int
  public let analytic: Double
  public let numeric: Double
  public var error: Double { abs(analytic - numeric) / max(abs(numeric), abs(analytic), 1e-6) }
  public var description: String { "input \(input): analytic \(analytic) numeric \(numeric) rel.err \(error)" }
}

/// Checks the tape's gradients of `f` against central finite differences.
///
/// The output is projected to a scalar with fixed random weights w, L(x) = Σ w ⊙ f(x),
/// accumulated in Double. For each input and each of `directions` random unit-scale
/// directions d, the analytic ⟨∇L, d⟩ is compared with (L(x + εd) − L(x − εd)) / 2ε.
public func gradCheck(_ inputs: [Tensor], directions: Int = 2, epsilon: Float = 1e-2, seed: UInt64 = 7,
                      _ f: ([Tensor]) -> Tensor) -> [GradCheckResult] {
  let backend = inputs[0].backend
  let probe = Autodiff.withoutGradient { f(inputs) }
  let weights = TestData.uniform(probe.count, seed: seed ^ 0xABCD, lo: -1, hi: 1)
  let weightTensor = Tensor(weights, shape: [probe.count], on: backend)

  func scalar(_ xs: [Tensor]) -> Double {
    let out = Autodiff.withoutGradient { f(xs) }.toArray()
    var s = 0.0
    for i in 0..<out.count { s += Double(out[i]) * Double(weights[i]) }
    return s
  }

  for x in inputs { x.grad = nil }
  let tape = Tape()
  Autodiff.record(on: tape) {
    let out = f(inputs)
    let projected = weightedSum(out.reshaped([out.count]), weights: weightTensor)
    tape.backward(projected)
  }
  var results: [GradCheckResult] = []
  for (index, x) in inputs.enumerated() where x.requiresGrad {
    let grad = x.grad?.toArray() ?? [Float](repeating: 0, count: x.count)
    let base = x.toArray()
    for k in 0..<directions {
      let d = TestData.uniform(x.count, seed: seed &+ UInt64(100 * index + k), lo: -1, hi: 1)
      var analytic = 0.0
      for i in 0..<x.count { analytic += Double(grad[i]) * Double(d[i]) }
      func shifted(_ sign: Float) -> [Tensor] {
        inputs.enumerated().map { j, t in
          if j != index { return t }
          return Tensor(zip(base, d).map { $0 + sign * epsilon * $1 }, shape: x.shape, dtype: x.dtype, on: backend)
        }
      }
      let numeric = (scalar(shifted(1)) - scalar(shifted(-1))) / (2 * Double(epsilon))
      results.append(GradCheckResult(input: index, analytic: analytic, numeric: numeric))
    }
  }
  return results
}
