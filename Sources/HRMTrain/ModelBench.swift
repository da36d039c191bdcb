// ModelBench.swift: times whole HRM training steps and evaluation batches on any backend,
// with random Sudoku-shaped (or any seq_len) data: warm-up, then timed repeats between
// device synchronisations; medians reported.

import Foundation
import HRMModel
import HRMSupport
import HRMTensor

public struct ModelBenchResult: Codable, Sendable {
  public var backend: String
  public var batch: Int
  public var seqLen: Int
  public var parameters: Int
  /// Median milliseconds of one training step (ACT segment, loss, backward, optimisers).
  public var trainStepMs: Double
  /// Median milliseconds of one evaluation batch (halt_max_steps segments, no gradient).
  public var evalBatchMs: Double?
  /// Device time per kernel of one more training step / evaluation batch, taken after the
  /// timed ones (with `profile`; empty on backends that do not profile).
  public var trainProfile: [KernelTime]?
  public var evalProfile: [KernelTime]?
  public var examplesPerSecond: Double { Double(batch) / (trainStepMs / 1000) }
}

public enum ModelBench {
  /// Runs `warmup` + `repeats` training steps (and optionally evaluation batches).
  public static func run(arch: HRMConfig, batch: Int, backend: Backend, warmup: Int = 2, repeats: Int = 5,
                         evalRepeats: Int = 0, profile: Bool = false, seed: UInt64 = 0) throws -> ModelBenchResult {
    var c = arch
    c.batchSize = batch
    try c.validate()
    let store = ParameterStore.initialize(c, backend: backend, seed: seed)
    let act = HRMACT(inner: try HRMInner(config: c, parameters: store), lossKind: .stablemax, seed: seed)
    let adam = AdamATan2()
    let sparse = SparseSignSGD()
    var rng = HRMRandom(seed: seed, stream: 99)
    func randomBatch() -> DeviceBatch {
      let inputs = (0..<(batch * c.seqLen)).map { _ in Int32(rng.int(1, c.vocabSize - 1)) }
      let labels = (0..<(batch * c.seqLen)).map { _ in Int32(rng.int(2, c.vocabSize - 1)) }
      return DeviceBatch(inputs: inputs, labels: labels, puzzleIdentifiers: [Int32](repeating: 0, count: batch),
                         batch: batch, seq: c.seqLen, on: backend)
    }
    let data = randomBatch()
    var carry = act.initialCarry(batch: batch)
    func trainStep() {
      let tape = Tape()
      Autodiff.record(on: tape) {
        let (next, out) = act.step(carry, batch: data, training: true)
        carry = next
        let loss = act.loss(out, labels: next.data.labels)
        tape.backward(loss.total, seed: Tensor([1 / Float(batch)], shape: [1], on: backend))
        _ = loss.total.item()  // the trainer reads metrics every step too
      }
      if let s = act.inner.puzzleScratch, store.contains("puzzle_emb.weights") {
        sparse.step(table: store["puzzle_emb.weights"], ids: s.ids, rows: s.rows, lr: 1e-4)
        s.rows.grad = nil
      }
      adam.step(store, lr: 1e-4)
      store.zeroGrad()
    }
    func evalBatch() {
      act.inner.withFrozenWeights { Autodiff.withoutGradient {
        var ec = act.initialCarry(batch: batch)
        var last: ACTOutput? = nil
        for _ in 0..<c.haltMaxSteps {
          let (next, out) = act.step(ec, batch: data, training: false)
          ec = next
          last = out
        }
        _ = last?.qHalt.toArray()
      } }
    }
    func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
    func time(_ body: () -> Void) -> Double {
      backend.synchronize()
      let t0 = DispatchTime.now().uptimeNanoseconds
      body()
      backend.synchronize()
      return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
    }
    for _ in 0..<warmup { trainStep() }
    let train = (0..<max(1, repeats)).map { _ in time(trainStep) }
    var eval: Double? = nil
    if evalRepeats > 0 {
      evalBatch()
      eval = median((0..<evalRepeats).map { _ in time(evalBatch) })
    }
    var result = ModelBenchResult(backend: backend.name, batch: batch, seqLen: c.seqLen,
                                  parameters: store.parameterCount, trainStepMs: median(train), evalBatchMs: eval)
    if profile {  // after the timed runs, so event recording cannot slow those
      func profiled(_ body: () -> Void) -> [KernelTime] {
        backend.beginProfile()
        body()
        return backend.endProfile()
      }
      result.trainProfile = profiled(trainStep)
      if evalRepeats > 0 { result.evalProfile = profiled(evalBatch) }
    }
    return result
  }
}
