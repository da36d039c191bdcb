// GoldenTests.swift: the model against the PyTorch reference's golden fixtures
// (../shared/golden): two ACT training steps with losses, metrics, carries, every gradient
// and one AdamATan2 + sparse sign-SGD update, compared tensor by tensor.

import Foundation
import HRMModel
import HRMSupport
import HRMTensor
import TestSupport
import XCTest

final class GoldenTests: XCTestCase {
  static let goldenDir = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("shared/golden")

  func testRopeStablemaxFixture() throws { try runFixture("hrm-tiny-rope-stablemax") }
  func testLearnedSoftmaxFixture() throws { try runFixture("hrm-tiny-learned-softmax") }

  /// bf16 storage with f32 math (the CPU's emulation of the reference's GPU precision): the
  /// first step's logits and Q values stay within bf16 rounding of the f32 reference.
  func testBF16ForwardStaysCloseToReference() throws {
    try runFixture("hrm-tiny-rope-stablemax", dtype: "bfloat16")
  }

  func runFixture(_ name: String, dtype: String = "float32") throws {
    let base = GoldenTests.goldenDir.appendingPathComponent(name)
    let jsonURL = base.appendingPathExtension("json")
    guard FileManager.default.fileExists(atPath: jsonURL.path) else {
      throw XCTSkip("golden fixture \(jsonURL.path) not present")
    }
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: jsonURL)) as! [String: Any]
    let file = try SafeTensorsFile(path: base.appendingPathExtension("safetensors").path)
    let cfg = json["config"] as! [String: Any]
    var config = HRMConfig()
    config.batchSize = cfg["batch_size"] as! Int
    config.seqLen = cfg["seq_len"] as! Int
    config.puzzleEmbNdim = cfg["puzzle_emb_ndim"] as? Int
    config.numPuzzleIdentifiers = cfg["num_puzzle_identifiers"] as! Int
    config.vocabSize = cfg["vocab_size"] as! Int
    config.hCycles = cfg["H_cycles"] as! Int
    config.lCycles = cfg["L_cycles"] as! Int
    config.hLayers = cfg["H_layers"] as! Int
    config.lLayers = cfg["L_layers"] as! Int
    config.hiddenSize = cfg["hidden_size"] as! Int
    config.expansion = (cfg["expansion"] as! NSNumber).doubleValue
    config.numHeads = cfg["num_heads"] as! Int
    config.posEncodings = cfg["pos_encodings"] as! String
    config.haltMaxSteps = cfg["halt_max_steps"] as! Int
    config.haltExplorationProb = (cfg["halt_exploration_prob"] as! NSNumber).doubleValue
    config.forwardDtype = dtype
    let lossKind = CrossEntropyKind(rawValue: json["loss_type"] as! String)!
    let optim = json["optimisers"] as! [String: [String: Any]]
    let adamCfg = optim["adam_atan2"]!, sparseCfg = optim["sparse_sign_sgd"]!
    let betas = adamCfg["betas"] as! [Double]
    let scalars = json["scalars"] as! [String: [String: Double]]
    let gbs = Float(json["global_batch_size"] as! Int)

    let cpu = CPUBackend.shared
    let store = try ParameterStore.load(config, from: file, prefix: "init.model.inner.", backend: cpu)
    let act = HRMACT(inner: try HRMInner(config: config, parameters: store), lossKind: lossKind, seed: 0)
    let b = config.batchSize, s = config.seqLen
    let batch = DeviceBatch(inputs: try file.ints("input.inputs"), labels: try file.ints("input.labels"),
                            puzzleIdentifiers: try file.ints("input.puzzle_identifiers"), batch: b, seq: s, on: cpu)

    // Tolerances (relative L2): the fixture README expects ~1e-5 for activations, ~1e-4 for
    // gradients (longer f32 chains, different summation order), ~1e-6 for updated weights.
    func compare(_ ours: Tensor, _ key: String, _ tol: Double, file f: StaticString = #filePath, line: UInt = #line) throws {
      let ref = try file.floats(key)
      let err = relativeError(ours.toArray(), ref)
      XCTAssertLessThan(err, tol, "\(name) \(key): relative error \(err)", file: f, line: line)
    }
    func compareInts(_ ours: Tensor, _ key: String, file f: StaticString = #filePath, line: UInt = #line) throws {
      XCTAssertEqual(ours.toInt32Array(), try file.ints(key), "\(name) \(key)", file: f, line: line)
    }
    func compareScalars(_ m: StepMetrics, _ key: String) {
      let ref = scalars[key]!
      let ours: [String: Double] = [
        "loss": m.loss, "count": m.count, "accuracy": m.accuracy, "exact_accuracy": m.exactAccuracy,
        "q_halt_accuracy": m.qHaltAccuracy, "steps": m.steps, "lm_loss": m.lmLoss,
        "q_halt_loss": m.qHaltLoss, "q_continue_loss": m.qContinueLoss]
      for (k, v) in ref {
        guard let o = ours[k] else { XCTFail("unknown scalar \(k)"); continue }
        XCTAssertEqual(o, v, accuracy: 1e-4 * max(1, abs(v)), "\(name) \(key).\(k)")
      }
    }

    var carry = act.initialCarry(batch: b)
    if dtype == "bfloat16" {
      // ~8 significant bits per activation over 24 layer applications: 3e-2 relative.
      let (_, out) = Autodiff.withoutGradient { act.step(carry, batch: batch, training: true) }
      try compare(out.logits, "step1.logits", 3e-2)
      try compare(out.qHalt, "step1.q_halt_logits", 3e-2)
      return
    }
    for stepName in ["step1", "step2"] {
      let tape = Tape()
      var output: ACTOutput! = nil
      var loss: ACTLoss! = nil
      Autodiff.record(on: tape) {
        let (next, out) = act.step(carry, batch: batch, training: true)
        carry = next
        output = out
        loss = act.loss(out, labels: carry.data.labels)
      }
      try compare(output.logits, "\(stepName).logits", 1e-5)
      try compare(output.qHalt, "\(stepName).q_halt_logits", 1e-5)
      try compare(output.qCont, "\(stepName).q_continue_logits", 1e-5)
      try compare(output.targetQCont!, "\(stepName).target_q_continue", 1e-5)
      try compare(carry.inner.zH, "\(stepName).z_H", 1e-5)
      try compare(carry.inner.zL, "\(stepName).z_L", 1e-5)
      try compareInts(carry.halted, "\(stepName).halted")
      try compareInts(carry.steps, "\(stepName).steps")
      compareScalars(act.metrics(loss, output: output, carry: carry), stepName)

      tape.backward(loss.total, seed: Tensor([1 / gbs], shape: [1], on: cpu))
      if stepName == "step1" {
        for (pname, p) in store.parameters {
          XCTAssertNotNil(p.grad, "\(pname) has no gradient")
          if let g = p.grad { try compare(g, "grad.model.inner.\(pname)", 1e-4) }
        }
        let scratch = try XCTUnwrap(act.inner.puzzleScratch)
        try compare(try XCTUnwrap(scratch.rows.grad), "grad.model.inner.puzzle_emb.local_weights", 1e-4)

        SparseSignSGD(weightDecay: Float(sparseCfg["weight_decay"] as! Double))
          .step(table: store["puzzle_emb.weights"], ids: scratch.ids, rows: scratch.rows,
                lr: Float(sparseCfg["lr"] as! Double))
        AdamATan2(beta1: Float(betas[0]), beta2: Float(betas[1]), weightDecay: Float(adamCfg["weight_decay"] as! Double))
          .step(store, lr: Float(adamCfg["lr"] as! Double))
        store.zeroGrad()
        for (pname, t) in store.all { try compare(t, "after.model.inner.\(pname)", 1e-6) }
      }
    }
  }
}
