// ACT.swift: adaptive computation time around the inner model, the loss head and metrics.
//
// One call of `HRMACT.step` is one ACT segment for every row of the batch:
//   halted rows restart (carry reset, steps 0, the new batch's row takes the slot),
//   the inner model runs one segment, steps += 1, and the halting rule decides which rows
//   are done; in training a second, gradient-free forward gives the Q-learning target.
// `HRMACT.loss` is the reference's ACTLossHead: stablemax (or softmax) cross-entropy
// normalised per sequence, plus 0.5 · (BCE(q_halt, exact) + BCE(q_cont, target)).

import Foundation
import HRMSupport
import HRMTensor

/// A batch of examples on the device.
public struct DeviceBatch {
  /// [B, S] i32
  public var inputs: Tensor
  /// [B, S] i32, −100 = ignore
  public var labels: Tensor
  /// [B] i32
  public var puzzleIdentifiers: Tensor

  /// A batch from tensors already on the device.
  public init(inputs: Tensor, labels: Tensor, puzzleIdentifiers: Tensor) {
    self.inputs = inputs
    self.labels = labels
    self.puzzleIdentifiers = puzzleIdentifiers
  }

  /// Uploads host arrays (batch rows × seq).
  public init(inputs: [Int32], labels: [Int32], puzzleIdentifiers: [Int32], batch: Int, seq: Int, on backend: Backend) {
    self.inputs = Tensor(ints: inputs, shape: [batch, seq], on: backend)
    self.labels = Tensor(ints: labels, shape: [batch, seq], on: backend)
    self.puzzleIdentifiers = Tensor(ints: puzzleIdentifiers, shape: [batch], on: backend)
  }
}

/// State carried across ACT calls (and across training steps).
public struct ACTCarry {
  /// The recurrent state z_H, z_L.
  public var inner: InnerCarry
  /// [B] i32
  public var steps: Tensor
  /// [B] i32 (1 = halted)
  public var halted: Tensor
  public var data: DeviceBatch

  /// A carry from its parts (training-state checkpoints rebuild it this way).
  public init(inner: InnerCarry, steps: Tensor, halted: Tensor, data: DeviceBatch) {
    self.inner = inner
    self.steps = steps
    self.halted = halted
    self.data = data
  }
}

/// Outputs of one ACT call.
public struct ACTOutput {
  /// [B, S, V]
  public var logits: Tensor
  /// [B] f32
  public var qHalt: Tensor
  /// [B] f32
  public var qCont: Tensor
  /// [B] f32 (training only)
  public var targetQCont: Tensor?
}

/// Loss and the per-row quantities the metrics need.
public struct ACTLoss {
  /// lm + 0.5 · (q_halt + q_continue), [1] f32, on the tape.
  public var total: Tensor
  /// Σ_b Σ_t ce / n̂_b, [1] f32.
  public var lmLoss: Tensor
  /// Σ_b BCE(q_halt, exact), [1] f32.
  public var qHaltLoss: Tensor
  /// Σ_b BCE(q_cont, target), [1] f32 (training only).
  public var qContLoss: Tensor?
  /// [B] i32
  public var valid: Tensor
  /// [B] i32
  public var correct: Tensor
  /// [B] f32
  public var seqCorrect: Tensor
}

/// Summed metrics of one step (before normalisation), as the reference's loss head returns them.
public struct StepMetrics: Equatable, Sendable {
  /// Rows counted (halted, with at least one label).
  public var count: Double = 0
  /// Σ of each counted row's fraction of correct labels.
  public var accuracy: Double = 0
  /// Counted rows with every label correct.
  public var exactAccuracy: Double = 0
  /// Counted rows where (q_halt ≥ 0) equals exact correctness.
  public var qHaltAccuracy: Double = 0
  /// Σ of ACT segments of counted rows.
  public var steps: Double = 0
  /// The loss sums over all rows (not only counted ones).
  public var lmLoss: Double = 0
  public var qHaltLoss: Double = 0
  public var qContinueLoss: Double = 0

  /// Empty sums.
  public init() {}

  /// lm + 0.5 · (q_halt + q_continue), as the reference's loss head.
  public var loss: Double { lmLoss + 0.5 * (qHaltLoss + qContinueLoss) }

  /// Element-wise sum (batches, ranks).
  public static func + (a: StepMetrics, b: StepMetrics) -> StepMetrics {
    var r = a
    r.count += b.count; r.accuracy += b.accuracy; r.exactAccuracy += b.exactAccuracy
    r.qHaltAccuracy += b.qHaltAccuracy; r.steps += b.steps; r.lmLoss += b.lmLoss
    r.qHaltLoss += b.qHaltLoss; r.qContinueLoss += b.qContinueLoss
    return r
  }
}

/// The ACT wrapper with its loss head.
public final class HRMACT {
  /// The inner model.
  public let inner: HRMInner
  /// Stablemax (the reference's default) or softmax cross-entropy.
  public let lossKind: CrossEntropyKind
  /// Exploration draws (min segments); seeded by the trainer.
  public var rng: HRMRandom
  let zeroSteps: Tensor  // [1, 1] i32
  /// No exploration minimum, [B] i32, uploaded once per batch size (evaluation runs every
  /// segment without exploration).
  private var noMinimum: Tensor?

  /// Wraps `inner`; `seed` seeds the exploration draws.
  public init(inner: HRMInner, lossKind: CrossEntropyKind, seed: UInt64) {
    self.inner = inner
    self.lossKind = lossKind
    self.rng = HRMRandom(seed: seed, stream: 0x4558504C)  // "EXPL"
    self.zeroSteps = Tensor(ints: [0], shape: [1, 1], on: inner.backend)
  }

  /// The architecture.
  public var config: HRMConfig { inner.config }
  /// Where the model's tensors live.
  public var backend: Backend { inner.backend }

  /// A carry whose rows are all halted, so the first call loads the whole batch.
  public func initialCarry(batch: Int) -> ACTCarry {
    let c = config
    let b = backend
    return ACTCarry(
      inner: inner.emptyCarry(batch: batch),
      steps: Tensor(ints: [Int32](repeating: 0, count: batch), shape: [batch], on: b),
      halted: Tensor(ints: [Int32](repeating: 1, count: batch), shape: [batch], on: b),
      data: DeviceBatch(inputs: Tensor(ints: [Int32](repeating: 0, count: batch * c.seqLen), shape: [batch, c.seqLen], on: b),
                        labels: Tensor(ints: [Int32](repeating: -100, count: batch * c.seqLen), shape: [batch, c.seqLen], on: b),
                        puzzleIdentifiers: Tensor(ints: [Int32](repeating: 0, count: batch), shape: [batch], on: b)))
  }

  /// One ACT segment. `batch` offers a new example for every slot; only halted slots take it.
  public func step(_ carry: ACTCarry, batch: DeviceBatch, training: Bool) -> (ACTCarry, ACTOutput) {
    inner.withFrozenWeights { segment(carry, batch: batch, training: training) }
  }

  private func segment(_ carry: ACTCarry, batch: DeviceBatch, training: Bool) -> (ACTCarry, ACTOutput) {
    let c = config
    let n = carry.steps.count
    let halted = carry.halted
    let innerCarry = inner.reset(carry.inner, mask: halted)
    let steps = selectRows(mask: halted, zeroSteps, carry.steps.reshapedRaw([n, 1])).reshapedRaw([n])
    let data = DeviceBatch(
      inputs: selectRows(mask: halted, batch.inputs, carry.data.inputs),
      labels: selectRows(mask: halted, batch.labels, carry.data.labels),
      puzzleIdentifiers: selectRows(mask: halted, batch.puzzleIdentifiers.reshapedRaw([n, 1]),
                                    carry.data.puzzleIdentifiers.reshapedRaw([n, 1])).reshapedRaw([n]))
    let out = inner.forward(innerCarry, inputs: data.inputs, puzzleIdentifiers: data.puzzleIdentifiers, training: training)

    let newHalted = Tensor.empty([n], .i32, on: backend)
    var target: Tensor? = nil
    Autodiff.withoutGradient {
      let explore = training && c.haltMaxSteps > 1
      let minSteps: Tensor
      if explore && c.haltExplorationProb > 0 {
        var draws = [Int32](repeating: 0, count: n)
        for i in 0..<n where rng.uniform() < c.haltExplorationProb {
          draws[i] = Int32(rng.int(2, c.haltMaxSteps))
        }
        minSteps = Tensor(ints: draws, shape: [n], on: backend)
      } else {
        if noMinimum?.count != n { noMinimum = Tensor(ints: [Int32](repeating: 0, count: n), shape: [n], on: backend) }
        minSteps = noMinimum!
      }
      backend.actHalt(steps: steps, qHalt: out.qHalt, qCont: out.qCont, minSteps: minSteps,
                      maxSteps: c.haltMaxSteps, useQ: explore, halted: newHalted)
      if explore {
        let next = inner.forward(out.carry, inputs: data.inputs, puzzleIdentifiers: data.puzzleIdentifiers, training: true)
        let t = Tensor.empty([n], .f32, on: backend)
        backend.actTarget(nextQHalt: next.qHalt, nextQCont: next.qCont, steps: steps, maxSteps: c.haltMaxSteps, target: t)
        target = t
      }
    }
    let newCarry = ACTCarry(inner: out.carry, steps: steps, halted: newHalted, data: data)
    return (newCarry, ACTOutput(logits: out.logits, qHalt: out.qHalt, qCont: out.qCont, targetQCont: target))
  }

  /// The loss head on the carry's current data.
  public func loss(_ output: ACTOutput, labels: Tensor) -> ACTLoss {
    let b = labels.shape[0]
    let valid = Tensor.empty([b], .i32, on: backend)
    let correct = Tensor.empty([b], .i32, on: backend)
    let seqCorrect = Tensor.empty([b], .f32, on: backend)
    backend.tokenCorrectness(logits: output.logits, labels: labels, valid: valid, correct: correct, seqCorrect: seqCorrect)
    let weights = Tensor.empty(labels.shape, .f32, on: backend)
    backend.rowNormalizedWeights(labels: labels, weights: weights)
    let lm = weightedCrossEntropy(lossKind, logits: output.logits, labels: labels.reshapedRaw([labels.count]),
                                  weights: weights.reshapedRaw([labels.count]))
    let qh = bceWithLogitsSum(logits: output.qHalt, targets: seqCorrect)
    var total = addScaled(lm, 1, qh, 0.5)
    var qc: Tensor? = nil
    if let target = output.targetQCont {
      let l = bceWithLogitsSum(logits: output.qCont, targets: target)
      total = addScaled(total, 1, l, 0.5)
      qc = l
    }
    return ACTLoss(total: total, lmLoss: lm, qHaltLoss: qh, qContLoss: qc, valid: valid, correct: correct,
                   seqCorrect: seqCorrect)
  }

  /// Reads the summed metrics (a host round trip). Rows count when halted and with a label.
  public func metrics(_ loss: ACTLoss, output: ACTOutput, carry: ACTCarry) -> StepMetrics {
    let valid = loss.valid.toInt32Array()
    let correct = loss.correct.toInt32Array()
    let seq = loss.seqCorrect.toArray()
    let halted = carry.halted.toInt32Array()
    let steps = carry.steps.toInt32Array()
    let qh = output.qHalt.toArray()
    var m = StepMetrics()
    for i in 0..<valid.count where halted[i] != 0 && valid[i] > 0 {
      let exact = seq[i] > 0.5
      m.count += 1
      m.accuracy += Double(correct[i]) / Double(max(valid[i], 1))
      m.exactAccuracy += exact ? 1 : 0
      m.qHaltAccuracy += ((qh[i] >= 0) == exact) ? 1 : 0
      m.steps += Double(steps[i])
    }
    m.lmLoss = Double(loss.lmLoss.item())
    m.qHaltLoss = Double(loss.qHaltLoss.item())
    m.qContinueLoss = Double(loss.qContLoss?.item() ?? 0)
    return m
  }
}
