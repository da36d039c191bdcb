// Optimizers.swift: AdamATan2 for the dense parameters, sparse sign-SGD for the puzzle
// embedding table, and the reference's learning-rate schedule.

import Foundation
import HRMSupport
import HRMTensor

/// AdamATan2 as the reference trains with it (imoneoi/adam-atan2: a = b = 1, first-moment
/// bias correction outside the atan2, no epsilon, decoupled decay on the pre-update weights).
public final class AdamATan2 {
  public var beta1: Float
  public var beta2: Float
  public var weightDecay: Float
  /// Per-parameter state, keyed by name: first and second moments and the step count.
  public private(set) var state: [String: (m: Tensor, v: Tensor, step: Int)] = [:]

  public init(beta1: Float = 0.9, beta2: Float = 0.95, weightDecay: Float = 0.1) {
    self.beta1 = beta1
    self.beta2 = beta2
    self.weightDecay = weightDecay
  }

  /// Updates every parameter that has a gradient.
  public func step(_ store: ParameterStore, lr: Float) {
    for (name, p) in store.parameters {
      guard let g = p.grad else { continue }
      var s = state[name] ?? (Tensor.zeros(p.shape, .f32, on: p.backend), Tensor.zeros(p.shape, .f32, on: p.backend), 0)
      s.step += 1
      let bc1 = 1 - pow(beta1, Float(s.step))
      let bc2 = 1 - pow(beta2, Float(s.step))
      p.backend.adamATan2Step(param: p, grad: g, m: s.m, v: s.v, lr: lr, beta1: beta1, beta2: beta2,
                              weightDecay: weightDecay, biasCorrection1: bc1, biasCorrection2: bc2)
      state[name] = s
    }
  }

  /// Replaces the state (resume).
  public func setState(_ name: String, m: Tensor, v: Tensor, step: Int) { state[name] = (m, v, step) }
}

/// Sparse sign-SGD over the rows of the puzzle-embedding table seen in the batch.
public final class SparseSignSGD {
  public var weightDecay: Float
  public init(weightDecay: Float = 0.1) { self.weightDecay = weightDecay }

  /// table[u] = table[u]·(1 − lr·wd) − lr·sign(Σ grads of u) for every id u in the batch.
  public func step(table: Tensor, ids: Tensor, rows: Tensor, lr: Float) {
    guard let g = rows.grad else { return }
    table.backend.sparseSignSGDStep(table: table, ids: ids, grads: g, lr: lr, weightDecay: weightDecay)
  }
}

/// The reference's schedule: linear warmup, then cosine from lr to lr·minRatio
/// (constant when minRatio = 1). Steps count from 1.
public func learningRate(step: Int, base: Double, warmupSteps: Int, totalSteps: Int, minRatio: Double) -> Double {
  if step < warmupSteps { return base * Double(step) / Double(max(1, warmupSteps)) }
  let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
  return base * (minRatio + max(0, (1 - minRatio) * 0.5 * (1 + cos(Double.pi * progress))))
}
