// ReferenceCheck.swift: replays a golden fixture of the PyTorch reference (weights, one batch,
// two ACT training steps with one optimiser update between them) and compares every tensor by
// name against that tensor's own tolerance. Used by `hrm check-reference` and GoldenTests.

import Foundation
import HRMModel
import HRMSupport
import HRMTensor

public enum ReferenceCheck {
  /// One comparison: relative L2 error ‖ours − ref‖ / ‖ref‖ (or |difference| for scalars).
  public struct Row: Sendable {
    public var name: String
    public var error: Double
    public var tolerance: Double
    public var passed: Bool { error.isFinite && error <= tolerance }
  }

  /// Runs fixture `base` (path without extension: `<base>.json` + `<base>.safetensors`).
  ///
  /// Tolerances: activations 1e-5 (the fixture was made in float32; only summation order
  /// differs), gradients 1e-4 (longer chains of float32 sums), updated weights 1e-6, scalar
  /// losses and metrics 1e-4 relative, halting flags and step counts exactly.
  public static func run(fixture base: String, backend: Backend) throws -> [Row] {
    let jsonPath = base + ".json"
    guard let data = FileManager.default.contents(atPath: jsonPath),
          let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let cfg = json["config"] as? [String: Any] else {
      throw HRMError(file: jsonPath, "not a golden fixture (no 'config' object)")
    }
    let file = try SafeTensorsFile(path: base + ".safetensors")
    func int(_ k: String) throws -> Int {
      guard let v = cfg[k] as? Int else { throw HRMError(file: jsonPath, "config.\(k) missing") }
      return v
    }
    func dbl(_ k: String) throws -> Double {
      guard let v = cfg[k] as? NSNumber else { throw HRMError(file: jsonPath, "config.\(k) missing") }
      return v.doubleValue
    }
    var config = HRMConfig()
    config.batchSize = try int("batch_size")
    config.seqLen = try int("seq_len")
    config.puzzleEmbNdim = cfg["puzzle_emb_ndim"] as? Int
    config.numPuzzleIdentifiers = try int("num_puzzle_identifiers")
    config.vocabSize = try int("vocab_size")
    config.hCycles = try int("H_cycles")
    config.lCycles = try int("L_cycles")
    config.hLayers = try int("H_layers")
    config.lLayers = try int("L_layers")
    config.hiddenSize = try int("hidden_size")
    config.expansion = try dbl("expansion")
    config.numHeads = try int("num_heads")
    config.posEncodings = (cfg["pos_encodings"] as? String) ?? "rope"
    config.haltMaxSteps = try int("halt_max_steps")
    config.haltExplorationProb = try dbl("halt_exploration_prob")
    config.forwardDtype = "float32"
    guard let lossName = json["loss_type"] as? String, let lossKind = CrossEntropyKind(rawValue: lossName),
          let optim = json["optimisers"] as? [String: [String: Any]], let adamCfg = optim["adam_atan2"],
          let sparseCfg = optim["sparse_sign_sgd"], let betas = adamCfg["betas"] as? [Double],
          let scalars = json["scalars"] as? [String: [String: Double]], let gbs = json["global_batch_size"] as? Int
    else { throw HRMError(file: jsonPath, "loss_type, optimisers, scalars or global_batch_size missing") }

    let store = try ParameterStore.load(config, from: file, prefix: "init.model.inner.", backend: backend)
    let act = HRMACT(inner: try HRMInner(config: config, parameters: store), lossKind: lossKind, seed: 0)
    let b = config.batchSize, s = config.seqLen
    let batch = DeviceBatch(inputs: try file.ints("input.inputs"), labels: try file.ints("input.labels"),
                            puzzleIdentifiers: try file.ints("input.puzzle_identifiers"), batch: b, seq: s, on: backend)
    var rows: [Row] = []
    func compare(_ ours: Tensor, _ key: String, _ tolerance: Double) throws {
      rows.append(Row(name: key, error: relativeError(ours.toArray(), try file.floats(key)), tolerance: tolerance))
    }
    func compareExact(_ ours: Tensor, _ key: String) throws {
      let same = ours.toInt32Array() == (try file.ints(key))
      rows.append(Row(name: key, error: same ? 0 : 1, tolerance: 0))
    }

    var carry = act.initialCarry(batch: b)
    for stepName in ["step1", "step2"] {
      let tape = Tape()
      var output: ACTOutput?
      var loss: ACTLoss?
      Autodiff.record(on: tape) {
        let (next, out) = act.step(carry, batch: batch, training: true)
        carry = next
        output = out
        loss = act.loss(out, labels: next.data.labels)
      }
      guard let out = output, let l = loss, let target = out.targetQCont else {
        throw HRMError("the training step produced no output")
      }
      try compare(out.logits, "\(stepName).logits", 1e-5)
      try compare(out.qHalt, "\(stepName).q_halt_logits", 1e-5)
      try compare(out.qCont, "\(stepName).q_continue_logits", 1e-5)
      try compare(target, "\(stepName).target_q_continue", 1e-5)
      try compare(carry.inner.zH, "\(stepName).z_H", 1e-5)
      try compare(carry.inner.zL, "\(stepName).z_L", 1e-5)
      try compareExact(carry.halted, "\(stepName).halted")
      try compareExact(carry.steps, "\(stepName).steps")
      let m = act.metrics(l, output: out, carry: carry)
      let ours: [String: Double] = [
        "loss": m.loss, "count": m.count, "accuracy": m.accuracy, "exact_accuracy": m.exactAccuracy,
        "q_halt_accuracy": m.qHaltAccuracy, "steps": m.steps, "lm_loss": m.lmLoss,
        "q_halt_loss": m.qHaltLoss, "q_continue_loss": m.qContinueLoss]
      for (k, v) in (scalars[stepName] ?? [:]).sorted(by: { $0.key < $1.key }) {
        let o = ours[k] ?? .nan
        rows.append(Row(name: "scalars.\(stepName).\(k)", error: abs(o - v) / max(1, abs(v)), tolerance: 1e-4))
      }
      tape.backward(l.total, seed: Tensor([1 / Float(gbs)], shape: [1], on: backend))
      if stepName == "step1" {
        for (pname, p) in store.parameters {
          guard let g = p.grad else {
            rows.append(Row(name: "grad.model.inner.\(pname)", error: .infinity, tolerance: 1e-4))
            continue
          }
          try compare(g, "grad.model.inner.\(pname)", 1e-4)
        }
        guard let scratch = act.inner.puzzleScratch, let g = scratch.rows.grad else {
          throw HRMError("no puzzle-embedding gradient")
        }
        try compare(g, "grad.model.inner.puzzle_emb.local_weights", 1e-4)
        SparseSignSGD(weightDecay: Float((sparseCfg["weight_decay"] as? Double) ?? 0))
          .step(table: store["puzzle_emb.weights"], ids: scratch.ids, rows: scratch.rows,
                lr: Float((sparseCfg["lr"] as? Double) ?? 0))
        AdamATan2(beta1: Float(betas[0]), beta2: Float(betas[1]), weightDecay: Float((adamCfg["weight_decay"] as? Double) ?? 0))
          .step(store, lr: Float((adamCfg["lr"] as? Double) ?? 0))
        store.zeroGrad()
        for (pname, t) in store.all { try compare(t, "after.model.inner.\(pname)", 1e-6) }
      }
    }
    return rows
  }
}
