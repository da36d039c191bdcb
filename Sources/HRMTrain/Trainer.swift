// Trainer.swift: the reference's training loop (pretrain.py) on one rank: sampler ->
// ACT step with the loss head -> backward of loss / global batch -> sparse sign-SGD then
// AdamATan2 with the shared lr schedule; evaluation on the test split every eval_interval
// epochs with the reference's metrics.
//
// Full training-state checkpoints and resume: Resume.swift and TrainingState.swift.
//
// Data parallelism (spec §6.2–6.3): with a `Communicator` of N ranks, each rank trains on its
// slice of the same global batch; parameters and buffers are broadcast from rank 0 at start,
// dense gradients are summed over ranks (the loss is already scaled by 1/global batch), the
// puzzle-embedding ids and row gradients are all-gathered so every rank applies the same
// sparse sign-SGD update, and step/eval metrics are summed over ranks. Without a communicator
// (or with one rank) every line below runs exactly as the single-process trainer did.

import Foundation
import HRMData
import HRMModel
import HRMSupport
import HRMTensor

/// Normalised metrics as the reference logs them.
public struct LoggedMetrics: Sendable {
  public var values: [String: Double]
  public subscript(key: String) -> Double? { values[key] }

  /// Train normalisation: keys ending in "loss" over the global batch, the rest over count.
  public static func train(_ m: StepMetrics, globalBatch: Int) -> LoggedMetrics {
    let c = max(m.count, 1), g = Double(globalBatch)
    return LoggedMetrics(values: [
      "count": m.count / c, "accuracy": m.accuracy / c, "exact_accuracy": m.exactAccuracy / c,
      "q_halt_accuracy": m.qHaltAccuracy / c, "steps": m.steps / c, "lm_loss": m.lmLoss / g,
      "q_halt_loss": m.qHaltLoss / g, "q_continue_loss": m.qContinueLoss / g,
    ])
  }

  /// Eval normalisation: every key over the count.
  public static func eval(_ m: StepMetrics) -> LoggedMetrics {
    let c = max(m.count, 1)
    return LoggedMetrics(values: [
      "count": m.count, "accuracy": m.accuracy / c, "exact_accuracy": m.exactAccuracy / c,
      "q_halt_accuracy": m.qHaltAccuracy / c, "steps": m.steps / c, "lm_loss": m.lmLoss / c,
      "q_halt_loss": m.qHaltLoss / c,
    ])
  }
}

/// Receives a trainer's progress; throwing stops the run with that error.
public protocol TrainerObserver: AnyObject {
  /// After every optimiser step, with the step's normalised metrics.
  func trainerDidStep(_ trainer: Trainer, metrics: LoggedMetrics) throws
  /// After every iteration's evaluation (nil metrics when there is no test split).
  func trainerDidEvaluate(_ trainer: Trainer, metrics: LoggedMetrics?) throws
}

/// One training run.
public final class Trainer {
  public let config: TrainConfig
  public let backend: Backend
  public let trainSet: DatasetSplit
  public let testSet: DatasetSplit?
  public let model: HRMACT
  public let store: ParameterStore
  public let adam: AdamATan2
  public let sparse: SparseSignSGD
  public let totalSteps: Int
  /// The data-parallel group this trainer is one rank of (nil: a single process).
  public let communicator: Communicator?
  public internal(set) var step = 0
  /// The ACT carry of this rank's batch rows (nil before the first step).
  public internal(set) var carry: ACTCarry?
  var sampler: TrainSampler
  /// True once the current iteration's evaluation has run (its checkpoint resumes with the next iteration).
  public internal(set) var iterationComplete = false
  /// True once the schedule's last step has been taken (a resume has nothing left to do).
  public internal(set) var finished = false
  /// The last checkpoint written for this run (named when training stops on a NaN/Inf loss).
  public var lastCheckpoint: String?
  /// Told after every step and every evaluation (metrics logs, checkpoints); may throw to stop.
  public var observer: TrainerObserver?
  /// Every rank's carry and RNG, gathered by `run()` on all ranks where a checkpoint is due
  /// (multi-rank runs), for rank 0's `saveCheckpoint`; nil elsewhere.
  var gatheredState: GatheredState?
  /// Called after every training step with the step number and normalised metrics.
  public var onStep: ((Int, LoggedMetrics) -> Void)?
  /// Called after every evaluation.
  public var onEval: ((Int, LoggedMetrics) -> Void)?

  /// A trainer on `backend`; with a `communicator` of N > 1 ranks it is one rank of a
  /// data-parallel job (global_batch_size must divide by N).
  public init(config: TrainConfig, backend: Backend, communicator: Communicator? = nil) throws {
    try config.validate()
    self.backend = backend
    self.communicator = communicator
    let rank = communicator?.rank ?? 0, worldSize = communicator?.worldSize ?? 1
    if worldSize > 1 && config.globalBatchSize % worldSize != 0 {
      throw HRMError("global_batch_size=\(config.globalBatchSize) is not divisible by the \(worldSize) ranks")
    }
    let train = try DatasetSplit.load(from: config.dataPath, split: "train")
    let testPath = URL(fileURLWithPath: config.dataPath).appendingPathComponent("test/dataset.json").path
    let test = FileManager.default.fileExists(atPath: testPath) ? try DatasetSplit.load(from: config.dataPath, split: "test") : nil
    var arch = config.arch
    arch.batchSize = config.globalBatchSize
    arch.seqLen = train.metadata.seqLen
    arch.vocabSize = train.metadata.vocabSize
    arch.numPuzzleIdentifiers = train.metadata.numPuzzleIdentifiers
    try arch.validate()
    var resolved = config
    resolved.arch = arch
    self.config = resolved
    self.trainSet = train
    self.testSet = test
    self.totalSteps = train.metadata.totalSteps(epochs: config.epochs, globalBatchSize: config.globalBatchSize)
    if totalSteps < 1 {
      throw HRMError("epochs=\(config.epochs) with global_batch_size=\(config.globalBatchSize) gives 0 training steps for \(train.metadata.totalGroups) groups: raise epochs or lower global_batch_size")
    }
    store = ParameterStore.initialize(arch, backend: backend, seed: UInt64(config.seed))
    // Exploration noise differs per rank, as the reference's torch.manual_seed(seed + rank).
    model = HRMACT(inner: try HRMInner(config: arch, parameters: store), lossKind: config.lossType,
                   seed: UInt64(config.seed + rank))
    adam = AdamATan2(beta1: Float(config.beta1), beta2: Float(config.beta2), weightDecay: Float(config.weightDecay))
    sparse = SparseSignSGD(weightDecay: Float(config.puzzleEmbWeightDecay))
    sampler = try TrainSampler(split: train, seed: UInt64(config.seed), epochsPerIter: config.evalInterval ?? config.epochs,
                               sharding: try BatchSharding(globalBatchSize: config.globalBatchSize, rank: rank, worldSize: worldSize))
    if let comm = communicator, comm.worldSize > 1 {
      // Parameters and buffers (H_init/L_init, the puzzle table) start as rank 0's.
      try comm.broadcast(store.all.map { $0.tensor }, root: 0)
    }
  }

  /// True on the rank that writes checkpoints and logs (rank 0; always for a single process).
  public var isPrimary: Bool { (communicator?.rank ?? 0) == 0 }

  /// The communicator when there is more than one rank.
  var group: Communicator? { communicator.flatMap { $0.worldSize > 1 ? $0 : nil } }

  /// Learning-rate multiplier schedule at `step` for a base rate.
  public func learningRate(base: Double, step: Int) -> Double {
    HRMModel.learningRate(step: step, base: base, warmupSteps: config.lrWarmupSteps, totalSteps: totalSteps,
                          minRatio: config.lrMinRatio)
  }

  /// One optimiser step on `batch`; returns the step's summed metrics.
  /// With several ranks `batch` is this rank's slice and the returned metrics are this rank's
  /// (`run` sums them over ranks); a failing collective stops the process (use `run`, which
  /// throws instead).
  @discardableResult
  public func trainStep(_ batch: Batch) -> StepMetrics {
    do { return try performStep(batch) } catch { fatalError("\(error)") }
  }

  /// One optimiser step; collectives that fail throw.
  func performStep(_ batch: Batch) throws -> StepMetrics {
    step += 1
    let b = batch.batchSize
    if carry == nil { carry = model.initialCarry(batch: b) }
    let device = DeviceBatch(inputs: batch.inputs, labels: batch.labels, puzzleIdentifiers: batch.puzzleIdentifiers,
                             batch: b, seq: batch.seqLen, on: backend)
    let tape = Tape()
    var metrics = StepMetrics()
    Autodiff.record(on: tape) {
      let (next, out) = model.step(carry!, batch: device, training: true)
      carry = next
      let loss = model.loss(out, labels: next.data.labels)
      tape.backward(loss.total, seed: Tensor([1 / Float(batch.effectiveSize)], shape: [1], on: backend))
      metrics = model.metrics(loss, output: out, carry: next)
    }
    if let comm = group { try synchronizeGradients(comm) }
    if let scratch = model.inner.puzzleScratch, store.contains("puzzle_emb.weights"), let comm = group {
      // Every rank applies the same update: all ranks' ids and row gradients, in rank order.
      let grads = scratch.rows.grad ?? Tensor.zeros(scratch.rows.shape, .f32, on: backend)
      let allIds = try comm.allGather(scratch.ids)
      let allGrads = try comm.allGather(grads)
      backend.sparseSignSGDStep(table: store["puzzle_emb.weights"], ids: allIds, grads: allGrads,
                                lr: Float(learningRate(base: config.puzzleEmbLr, step: step)), weightDecay: sparse.weightDecay)
      scratch.rows.grad = nil
    } else if let scratch = model.inner.puzzleScratch, store.contains("puzzle_emb.weights") {
      sparse.step(table: store["puzzle_emb.weights"], ids: scratch.ids, rows: scratch.rows,
                  lr: Float(learningRate(base: config.puzzleEmbLr, step: step)))
      scratch.rows.grad = nil
    }
    adam.step(store, lr: Float(learningRate(base: config.lr, step: step)))
    store.zeroGrad()
    return metrics
  }

  /// Sums every dense parameter's gradient over the ranks, in place (a parameter without a
  /// gradient on this rank contributes zeros, so every rank issues the same collectives).
  func synchronizeGradients(_ comm: Communicator) throws {
    var grads: [Tensor] = []
    for (_, p) in store.parameters {
      if p.grad == nil { p.grad = Tensor.zeros(p.shape, .f32, on: p.backend) }
      grads.append(p.grad!)
    }
    try comm.allReduceSum(grads)
  }

  /// Sums a step's (or an evaluation's) metrics over the ranks; unchanged for one rank.
  func reduceMetrics(_ m: StepMetrics) throws -> StepMetrics {
    guard let comm = group else { return m }
    let v = try comm.allReduceSum([m.count, m.accuracy, m.exactAccuracy, m.qHaltAccuracy, m.steps,
                                   m.lmLoss, m.qHaltLoss, m.qContinueLoss], on: backend)
    var r = StepMetrics()
    r.count = v[0]; r.accuracy = v[1]; r.exactAccuracy = v[2]; r.qHaltAccuracy = v[3]; r.steps = v[4]
    r.lmLoss = v[5]; r.qHaltLoss = v[6]; r.qContinueLoss = v[7]
    return r
  }

  /// Runs the whole schedule: iterations of eval_interval epochs, each followed by evaluation.
  /// After `restore(from:)` it continues where the checkpoint left off.
  public func run() throws {
    let iterations = config.epochs / (config.evalInterval ?? config.epochs)
    var midIteration = sampler.state.iteration > 0 && !iterationComplete
    while !finished {
      if !midIteration {
        if sampler.state.iteration >= iterations { break }
        sampler.startIteration()
        iterationComplete = false
      }
      midIteration = false
      while let batch = sampler.next() {
        if step >= totalSteps { finished = true; break }
        let m = try reduceMetrics(try performStep(batch))
        try checkFinite(m)
        let logged = LoggedMetrics.train(m, globalBatch: config.globalBatchSize)
        onStep?(step, logged)
        try withGatheredState(if: checkpointDue(afterEvaluation: false)) {
          try observer?.trainerDidStep(self, metrics: logged)
        }
      }
      let eval = try evaluate()
      if let eval = eval { onEval?(step, eval) }
      iterationComplete = true
      if sampler.state.iteration >= iterations { finished = true }
      try withGatheredState(if: checkpointDue(afterEvaluation: true)) {
        try observer?.trainerDidEvaluate(self, metrics: eval)
      }
    }
  }

  /// Whether the run folder takes a checkpoint now: every checkpoint_interval steps (not on
  /// the last step, which is followed by the final evaluation's), and after every evaluation
  /// with checkpoint_every_eval, else after the final one. RunRecorder saves exactly there.
  public func checkpointDue(afterEvaluation: Bool) -> Bool {
    if afterEvaluation { return config.checkpointEveryEval || finished }
    guard let every = config.checkpointInterval else { return false }
    return step % every == 0 && step < totalSteps
  }

  /// Runs `body` (the observer) with every rank's state gathered when `due` and there are
  /// several ranks: the gather is collective, so all ranks do it at the same points whether
  /// or not they write anything.
  func withGatheredState(if due: Bool, _ body: () throws -> Void) throws {
    guard due, let comm = group else { return try body() }
    gatheredState = try gatherState(comm)
    defer { gatheredState = nil }
    try body()
  }

  /// Stops the run with one line when a step's loss is NaN or infinite.
  func checkFinite(_ m: StepMetrics) throws {
    guard !m.loss.isFinite else { return }
    let what = m.loss.isNaN ? "NaN" : "infinite"
    let detail = String(format: "lm_loss %g, q_halt_loss %g, q_continue_loss %g", m.lmLoss, m.qHaltLoss, m.qContinueLoss)
    let last = lastCheckpoint.map { "last good checkpoint: \($0) (continue with resume=\($0), e.g. with a lower lr)" }
      ?? "no checkpoint was saved before it"
    throw HRMError("training stopped at step \(step): the loss is \(what) (\(detail)); \(last)")
  }

  /// Evaluates on the test split (see Evaluator): the reference's metrics, normalised.
  public func evaluate(maxBatches: Int? = nil) throws -> LoggedMetrics? {
    guard let test = testSet else { return nil }
    var evaluator = Evaluator(model: model, globalBatchSize: config.globalBatchSize)
    evaluator.communicator = group
    return try evaluator.evaluate(test, maxBatches: maxBatches ?? config.evalMaxBatches).0
  }
}
