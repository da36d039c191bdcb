// TrainerTests.swift: the training loop end to end on a tiny generated Sudoku set:
// bit-for-bit determinism for a seed, evaluation metrics, checkpoint round trip, and the
// override parser's errors.

import Foundation
import HRMData
import HRMModel
import HRMSupport
import HRMTensor
import HRMTrain
import XCTest

final class TrainerTests: XCTestCase {
  static var datasetPath: String = {
    let path = NSTemporaryDirectory() + "hrm-trainer-tests-\(getpid())"
    let puzzles = try! SudokuGenerator.generate(count: 48, options: SudokuGeneratorOptions(minBlanks: 2, maxBlanks: 4, seed: 5))
    let dataset = try! SudokuDataset.build(train: Array(puzzles.prefix(32)), test: Array(puzzles.suffix(16)),
                                           options: SudokuBuildOptions(numAug: 1, seed: 5))
    try! dataset.write(to: path)
    return path
  }()

  func config(seed: Int = 0, extra: [String] = []) throws -> TrainConfig {
    var c = TrainConfig()
    try c.apply(overrides: TinyRun.overrides + ["arch.halt_max_steps=2", "epochs=2", "eval_interval=1", "seed=\(seed)"] + extra)
    return c
  }

  func weights(_ t: Trainer) -> [String: [Float]] {
    Dictionary(uniqueKeysWithValues: t.store.all.map { ($0.name, $0.tensor.toArray()) })
  }

  func testSameSeedGivesTheSameRunBitForBit() throws {
    let a = try Trainer(config: try config(seed: 3), backend: CPUBackend.shared)
    let b = try Trainer(config: try config(seed: 3), backend: CPUBackend.shared)
    let c = try Trainer(config: try config(seed: 4), backend: CPUBackend.shared)
    var lossesA: [Double] = [], lossesB: [Double] = []
    a.onStep = { _, m in lossesA.append(m["lm_loss"]!) }
    b.onStep = { _, m in lossesB.append(m["lm_loss"]!) }
    try a.run()
    try b.run()
    try c.run()
    XCTAssertEqual(a.step, 2 * 32 / 8, "2 epochs of 32 groups (one puzzle per group per epoch) at batch 8")
    XCTAssertEqual(lossesA, lossesB)
    let wa = weights(a), wb = weights(b), wc = weights(c)
    for (name, values) in wa {
      XCTAssertEqual(values.map(\.bitPattern), wb[name]!.map(\.bitPattern), "\(name) differs between equal seeds")
    }
    XCTAssertNotEqual(wa["lm_head.weight"]!, wc["lm_head.weight"]!, "another seed should give another run")
  }

  func testEvaluationReportsReferenceMetrics() throws {
    let t = try Trainer(config: try config(), backend: CPUBackend.shared)
    var evals: [LoggedMetrics] = []
    t.onEval = { _, m in evals.append(m) }
    try t.run()
    XCTAssertEqual(evals.count, 2, "one evaluation per eval_interval")
    let m = try XCTUnwrap(evals.last)
    XCTAssertEqual(m["count"], 16, "every test puzzle counts once")
    XCTAssertEqual(m["steps"], 2, "evaluation always runs halt_max_steps segments")
    for key in ["accuracy", "exact_accuracy", "q_halt_accuracy"] {
      let v = try XCTUnwrap(m[key])
      XCTAssertTrue(v >= 0 && v <= 1, "\(key) = \(v)")
    }
    XCTAssertGreaterThan(m["accuracy"]!, 0.5, "givens are copied after a few steps")
  }

  func testCheckpointRoundTripGivesTheSameLogits() throws {
    let t = try Trainer(config: try config(), backend: CPUBackend.shared)
    try t.run()
    let path = NSTemporaryDirectory() + "hrm-ckpt-\(getpid()).safetensors"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try Checkpoint.save(t.store, config: t.config, step: t.step, to: path)
    let (model, config) = try Checkpoint.loadModel(path: path, backend: CPUBackend.shared)
    XCTAssertEqual(config, t.config)
    var batches = TestBatches(split: t.testSet!, sharding: try BatchSharding(globalBatchSize: 8))
    let batch = try XCTUnwrap(batches.next())
    func logits(_ act: HRMACT) -> [Float] {
      Autodiff.withoutGradient {
        let device = DeviceBatch(inputs: batch.inputs, labels: batch.labels, puzzleIdentifiers: batch.puzzleIdentifiers,
                                 batch: 8, seq: batch.seqLen, on: CPUBackend.shared)
        return act.step(act.initialCarry(batch: 8), batch: device, training: false).1.logits.toArray()
      }
    }
    XCTAssertEqual(logits(model), logits(t.model))
  }

  func testOverrideErrorsNameTheKey() {
    var c = TrainConfig()
    XCTAssertThrowsError(try c.apply(overrides: ["lrr=1e-3"])) { error in
      XCTAssertTrue("\(error)".contains("'lrr'") && "\(error)".contains("did you mean 'lr'"), "\(error)")
    }
    XCTAssertThrowsError(try c.apply(overrides: ["epochs=ten"])) { error in
      XCTAssertTrue("\(error)".contains("epochs=ten"), "\(error)")
    }
    XCTAssertThrowsError(try c.apply(overrides: ["epochs"])) { error in
      XCTAssertTrue("\(error)".contains("key=value"), "\(error)")
    }
    var bad = TrainConfig()
    XCTAssertNoThrow(try bad.apply(overrides: ["arch.hidden_size=100", "arch.num_heads=8"]))
    XCTAssertThrowsError(try bad.validate()) { error in
      XCTAssertTrue("\(error)".contains("num_heads"), "\(error)")
    }
    var interval = TrainConfig()
    XCTAssertNoThrow(try interval.apply(overrides: ["epochs=10", "eval_interval=3"]))
    XCTAssertThrowsError(try interval.validate()) { error in
      XCTAssertTrue("\(error)".contains("eval_interval"), "\(error)")
    }
  }

  func testReferenceRecipeParses() throws {
    var c = TrainConfig()
    try c.apply(overrides: [
      "data_path=data/sudoku-extreme-1k-aug-1000", "epochs=20000", "eval_interval=2000", "global_batch_size=384",
      "lr=7e-5", "puzzle_emb_lr=7e-5", "weight_decay=1.0", "puzzle_emb_weight_decay=1.0",
      "arch.loss.loss_type=softmax_cross_entropy", "arch.L_cycles=8", "arch.pos_encodings=learned",
    ])
    try c.validate()
    XCTAssertEqual(c.globalBatchSize, 384)
    XCTAssertEqual(c.lr, 7e-5)
    XCTAssertEqual(c.lossType, .softmax)
    XCTAssertEqual(c.arch.lCycles, 8)
    XCTAssertEqual(c.arch.posEncodings, "learned")
  }

  func testLearningRateSchedule() {
    // Warmup is linear from 0; with min ratio 1 the rate stays constant afterwards.
    XCTAssertEqual(learningRate(step: 50, base: 1e-4, warmupSteps: 100, totalSteps: 1000, minRatio: 1), 5e-5, accuracy: 1e-12)
    XCTAssertEqual(learningRate(step: 900, base: 1e-4, warmupSteps: 100, totalSteps: 1000, minRatio: 1), 1e-4, accuracy: 1e-12)
    // Cosine: halfway through the decay the rate is the mean of base and base·ratio.
    XCTAssertEqual(learningRate(step: 550, base: 1e-4, warmupSteps: 100, totalSteps: 1000, minRatio: 0.1), 0.55e-4, accuracy: 1e-12)
    XCTAssertEqual(learningRate(step: 1000, base: 1e-4, warmupSteps: 100, totalSteps: 1000, minRatio: 0.1), 1e-5, accuracy: 1e-12)
  }
}
