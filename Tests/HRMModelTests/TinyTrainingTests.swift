// TinyTrainingTests.swift: a tiny HRM learns a tiny task (reverse a short sequence) with the
// real ACT loop, losses and optimisers, and the ACT bookkeeping behaves as specified.

import HRMModel
import HRMSupport
import HRMTensor
import TestSupport
import XCTest

final class TinyTrainingTests: XCTestCase {
  let cpu = CPUBackend.shared

  func tinyConfig() -> HRMConfig {
    var c = HRMConfig()
    c.hiddenSize = 32
    c.numHeads = 2
    c.hLayers = 1
    c.lLayers = 1
    c.hCycles = 2
    c.lCycles = 2
    c.seqLen = 6
    c.vocabSize = 7
    c.numPuzzleIdentifiers = 1
    c.haltMaxSteps = 2
    c.haltExplorationProb = 0.1
    c.batchSize = 32
    return c
  }

  /// Inputs are random tokens 2...6; labels are the inputs reversed.
  func reverseBatch(_ rng: inout HRMRandom, batch: Int, seq: Int) -> DeviceBatch {
    var inputs = [Int32](), labels = [Int32]()
    for _ in 0..<batch {
      let row = (0..<seq).map { _ in Int32(rng.int(2, 6)) }
      inputs += row
      labels += row.reversed()
    }
    return DeviceBatch(inputs: inputs, labels: labels, puzzleIdentifiers: [Int32](repeating: 0, count: batch),
                       batch: batch, seq: seq, on: cpu)
  }

  func evaluate(_ act: HRMACT, _ batch: DeviceBatch) -> StepMetrics {
    Autodiff.withoutGradient {
      var carry = act.initialCarry(batch: batch.inputs.shape[0])
      var result = StepMetrics()
      for _ in 0..<act.config.haltMaxSteps {
        let (next, out) = act.step(carry, batch: batch, training: false)
        carry = next
        result = act.metrics(act.loss(out, labels: next.data.labels), output: out, carry: next)
      }
      return result
    }
  }

  func testTinyModelLearnsToReverse() {
    let c = tinyConfig()
    let store = ParameterStore.initialize(c, backend: cpu, seed: 1)
    let act = HRMACT(inner: try! HRMInner(config: c, parameters: store), lossKind: .stablemax, seed: 1)
    let adam = AdamATan2(beta1: 0.9, beta2: 0.95, weightDecay: 0.01)
    var rng = HRMRandom(seed: 42)
    var evalRng = HRMRandom(seed: 99)
    let evalBatch = reverseBatch(&evalRng, batch: 64, seq: c.seqLen)
    let before = evaluate(act, evalBatch)
    var carry = act.initialCarry(batch: c.batchSize)
    var firstLosses: [Double] = [], lastLosses: [Double] = []
    let steps = 800
    for step in 1...steps {
      let tape = Tape()
      var lm = 0.0
      Autodiff.record(on: tape) {
        let (next, out) = act.step(carry, batch: reverseBatch(&rng, batch: c.batchSize, seq: c.seqLen), training: true)
        carry = next
        let loss = act.loss(out, labels: next.data.labels)
        tape.backward(loss.total, seed: Tensor([1 / Float(c.batchSize)], shape: [1], on: cpu))
        lm = Double(loss.lmLoss.item()) / Double(c.batchSize)
      }
      XCTAssertEqual(tape.count, 0, "backward must consume the tape")
      adam.step(store, lr: Float(learningRate(step: step, base: 3e-3, warmupSteps: 20, totalSteps: steps, minRatio: 1)))
      store.zeroGrad()
      if step <= 20 { firstLosses.append(lm) }
      if step > steps - 20 { lastLosses.append(lm) }
    }
    let after = evaluate(act, evalBatch)
    let meanFirst = firstLosses.reduce(0, +) / 20, meanLast = lastLosses.reduce(0, +) / 20
    XCTAssertLessThan(meanLast, 0.5 * meanFirst, "LM loss should fall: \(meanFirst) -> \(meanLast)")
    XCTAssertEqual(before.count, 64)
    XCTAssertGreaterThan(after.exactAccuracy / after.count, before.exactAccuracy / before.count + 0.3,
                         "exact accuracy should rise: \(before.exactAccuracy / 64) -> \(after.exactAccuracy / 64)")
  }

  func testEvaluationRunsExactlyHaltMaxStepsAndResetsCarry() {
    var c = tinyConfig()
    c.haltMaxSteps = 3
    let store = ParameterStore.initialize(c, backend: cpu, seed: 2)
    let act = HRMACT(inner: try! HRMInner(config: c, parameters: store), lossKind: .stablemax, seed: 2)
    var rng = HRMRandom(seed: 1)
    let batch = reverseBatch(&rng, batch: 4, seq: c.seqLen)
    Autodiff.withoutGradient {
      var carry = act.initialCarry(batch: 4)
      for segment in 1...3 {
        let (next, out) = act.step(carry, batch: batch, training: false)
        carry = next
        XCTAssertNil(out.targetQCont, "no Q target at evaluation")
        XCTAssertEqual(carry.steps.toInt32Array(), [Int32](repeating: Int32(segment), count: 4))
        XCTAssertEqual(carry.halted.toInt32Array(), [Int32](repeating: segment == 3 ? 1 : 0, count: 4))
      }
      // All rows halted: the next call restarts them from H_init / L_init with steps 1.
      let reset = act.inner.reset(carry.inner, mask: carry.halted)
      let hInit = store["H_init"].toArray()
      let zH = reset.zH.toArray()
      for i in 0..<c.hiddenSize { XCTAssertEqual(zH[i], hInit[i]) }
      let (next, _) = act.step(carry, batch: batch, training: false)
      XCTAssertEqual(next.steps.toInt32Array(), [1, 1, 1, 1])
    }
  }

  func testTrainingHaltsWhenQHaltExceedsQContinue() {
    var c = tinyConfig()
    c.haltMaxSteps = 5
    c.haltExplorationProb = 0
    let store = ParameterStore.initialize(c, backend: cpu, seed: 3)
    // Bias the Q head: halt logit 1 > continue logit −1 for every row.
    store.set("q_head.bias", Tensor([1, -1], shape: [2], on: cpu))
    let act = HRMACT(inner: try! HRMInner(config: c, parameters: store), lossKind: .stablemax, seed: 3)
    var rng = HRMRandom(seed: 4)
    let batch = reverseBatch(&rng, batch: 3, seq: c.seqLen)
    Autodiff.withoutGradient {
      let (next, out) = act.step(act.initialCarry(batch: 3), batch: batch, training: true)
      XCTAssertEqual(next.halted.toInt32Array(), [1, 1, 1])
      XCTAssertNotNil(out.targetQCont)
      // The same weights with the Q head reversed never halt before the limit.
      store.set("q_head.bias", Tensor([-1, 1], shape: [2], on: cpu))
      let (again, _) = act.step(act.initialCarry(batch: 3), batch: batch, training: true)
      XCTAssertEqual(again.halted.toInt32Array(), [0, 0, 0])
    }
  }

  func testParameterCountMatchesReference() {
    // Spec §8.1: the Sudoku config has 27,275,266 parameters.
    var c = HRMConfig()
    c.vocabSize = 11
    c.seqLen = 81
    let n = ParameterStore.layout(for: c).filter { !$0.isBuffer }.reduce(0) { $0 + $1.shape.reduce(1, *) }
    XCTAssertEqual(n, 27_275_266)
    XCTAssertEqual(c.mlpWidth, 1536)
    XCTAssertEqual(c.totalLength, 82)
  }

  func testConfigValidationNamesTheKey() {
    var c = HRMConfig()
    c.numHeads = 7
    XCTAssertThrowsError(try c.validate()) { error in
      XCTAssertTrue("\(error)".contains("num_heads"), "\(error)")
    }
  }
}
