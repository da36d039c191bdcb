// Evaluator.swift: the reference's evaluation: every test batch runs from a fresh carry until
// every row has halted (exactly halt_max_steps segments at evaluation), and the metrics of the
// last segment are summed over batches and divided by the count. Optionally keeps every
// row's inputs, labels, prediction, Q-halt logit and per-segment predictions.

import Foundation
import HRMData
import HRMModel
import HRMSupport
import HRMTensor

/// Predictions of one evaluation, row-aligned (padding rows removed).
public struct EvaluationOutputs: Sendable {
  public var seqLen: Int
  /// [N, S]
  public var inputs: [Int32] = []
  /// [N, S], −100 = ignored
  public var labels: [Int32] = []
  /// [N, S], argmax of the last segment's logits
  public var predictions: [Int32] = []
  /// [N]
  public var puzzleIdentifiers: [Int32] = []
  /// [N]
  public var qHaltLogits: [Float] = []
  /// [N], ACT segments run
  public var segments: [Int32] = []
  /// [K][N·S] predictions after each segment (only when asked for).
  public var stepPredictions: [[Int32]] = []

  public var count: Int { puzzleIdentifiers.count }

  public init(seqLen: Int) { self.seqLen = seqLen }

  /// Row r of a [N, S] array.
  public func row(_ values: [Int32], _ r: Int) -> [Int32] { Array(values[(r * seqLen)..<((r + 1) * seqLen)]) }
}

public struct Evaluator {
  public let model: HRMACT
  public let globalBatchSize: Int
  /// Freeze each row's prediction at the first segment where its Q head says halt
  /// (q_halt > q_cont) and stop the batch once every row has, instead of the reference's fixed
  /// halt_max_steps. The saved predictions are the frozen ones; the returned metrics are those
  /// of the last segment run.
  public var adaptiveHalting = false
  /// Keep the prediction after every segment.
  public var keepStepPredictions = false
  /// With several ranks: each evaluates its slice of every test batch and the metrics are
  /// summed over ranks (outputs, when kept, hold this rank's rows only).
  public var communicator: Communicator? = nil

  public init(model: HRMACT, globalBatchSize: Int) {
    self.model = model
    self.globalBatchSize = globalBatchSize
  }

  /// Runs one batch to the end; returns its metrics and, when `outputs` is given, appends the
  /// non-padding rows to it.
  public func run(_ batch: Batch, into outputs: inout EvaluationOutputs?) -> StepMetrics {
    let backend = model.backend
    let c = model.config
    let b = batch.batchSize
    let device = DeviceBatch(inputs: batch.inputs, labels: batch.labels, puzzleIdentifiers: batch.puzzleIdentifiers,
                             batch: b, seq: batch.seqLen, on: backend)
    return model.inner.withFrozenWeights { Autodiff.withoutGradient {
      var carry = model.initialCarry(batch: b)
      var segments = [Int32](repeating: 0, count: b)
      var stopped = [Bool](repeating: false, count: b)
      var steps: [[Int32]] = []
      var last: ACTOutput? = nil
      var finalPredictions = [Int32](repeating: 0, count: b * batch.seqLen)
      var finalQ = [Float](repeating: 0, count: b)
      for segment in 1...c.haltMaxSteps {
        let (next, out) = model.step(carry, batch: device, training: false)
        carry = next
        last = out
        let needPredictions = outputs != nil
        if needPredictions || adaptiveHalting {
          let preds = Tensor.empty([b * batch.seqLen], .i32, on: backend)
          backend.argmax(out.logits.reshapedRaw([b * batch.seqLen, c.vocabSize]), out: preds)
          let p = preds.toInt32Array()
          let qh = out.qHalt.toArray(), qc = out.qCont.toArray()
          if keepStepPredictions { steps.append(p) }
          for i in 0..<b where !stopped[i] {
            segments[i] = Int32(segment)
            for s in 0..<batch.seqLen { finalPredictions[i * batch.seqLen + s] = p[i * batch.seqLen + s] }
            finalQ[i] = qh[i]
            if adaptiveHalting && qh[i] > qc[i] { stopped[i] = true }
          }
        }
        if adaptiveHalting && !stopped.contains(false) { break }
      }
      // The reference keeps the metrics of the last segment only, so the loss head runs once.
      let out = last!
      let loss = model.loss(out, labels: carry.data.labels)
      if var o = outputs {
        for i in 0..<b where i < rowsInBatch(batch) {
          let range = (i * batch.seqLen)..<((i + 1) * batch.seqLen)
          o.inputs += batch.inputs[range]
          o.labels += batch.labels[range]
          o.predictions += finalPredictions[range]
          o.puzzleIdentifiers.append(batch.puzzleIdentifiers[i])
          o.qHaltLogits.append(finalQ[i])
          o.segments.append(segments[i])
        }
        if keepStepPredictions {
          if o.stepPredictions.isEmpty { o.stepPredictions = Array(repeating: [], count: c.haltMaxSteps) }
          for k in 0..<c.haltMaxSteps {
            let p = k < steps.count ? steps[k] : steps[steps.count - 1]
            for i in 0..<min(b, rowsInBatch(batch)) { o.stepPredictions[k] += p[(i * batch.seqLen)..<((i + 1) * batch.seqLen)] }
          }
        }
        outputs = o
      }
      return model.metrics(loss, output: out, carry: carry)
    } }
  }

  /// Real (non-padding) rows of this rank's test batch (its slice of the effectiveSize rows).
  func rowsInBatch(_ batch: Batch) -> Int {
    let rank = communicator?.rank ?? 0
    return max(0, min(batch.effectiveSize - rank * batch.batchSize, batch.batchSize))
  }

  /// Evaluates a whole split; returns the normalised metrics and, if asked, the outputs.
  public func evaluate(_ split: DatasetSplit, maxBatches: Int? = nil, keepOutputs: Bool = false,
                       progress: ProgressBar? = nil) throws -> (LoggedMetrics, EvaluationOutputs?) {
    var total = StepMetrics()
    var outputs: EvaluationOutputs? = keepOutputs ? EvaluationOutputs(seqLen: split.metadata.seqLen) : nil
    var seen = 0
    let sharding = try BatchSharding(globalBatchSize: globalBatchSize, rank: communicator?.rank ?? 0,
                                     worldSize: communicator?.worldSize ?? 1)
    for batch in TestBatches(split: split, sharding: sharding) {
      if let limit = maxBatches, seen >= limit { break }
      seen += 1
      total = total + run(batch, into: &outputs)
      progress?.update(completed: seen)
    }
    if let comm = communicator, comm.worldSize > 1 {
      let v = try comm.allReduceSum([total.count, total.accuracy, total.exactAccuracy, total.qHaltAccuracy, total.steps,
                                     total.lmLoss, total.qHaltLoss, total.qContinueLoss], on: model.backend)
      total = StepMetrics()
      total.count = v[0]; total.accuracy = v[1]; total.exactAccuracy = v[2]; total.qHaltAccuracy = v[3]
      total.steps = v[4]; total.lmLoss = v[5]; total.qHaltLoss = v[6]; total.qContinueLoss = v[7]
    }
    return (LoggedMetrics.eval(total), outputs)
  }
}
