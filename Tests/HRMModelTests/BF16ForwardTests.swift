// BF16ForwardTests.swift: the CPU's bf16 storage path (the reference's GPU precision) stays
// within bf16 rounding of the reference's float32 golden logits.

import Foundation
import HRMModel
import HRMSupport
import HRMTensor
import TestSupport
import XCTest

final class BF16ForwardTests: XCTestCase {
  func testBF16ForwardStaysCloseToReference() throws {
    let file = try SafeTensorsFile(path: try requireShared("golden/hrm-tiny-rope-stablemax.safetensors", what: "golden fixture"))
    var c = HRMConfig()
    (c.batchSize, c.seqLen, c.puzzleEmbNdim, c.numPuzzleIdentifiers, c.vocabSize) = (4, 81, 64, 3, 11)
    (c.hCycles, c.lCycles, c.hLayers, c.lLayers, c.hiddenSize, c.numHeads) = (2, 2, 2, 2, 64, 2)
    (c.haltMaxSteps, c.haltExplorationProb, c.forwardDtype) = (4, 0, "bfloat16")
    let cpu = CPUBackend.shared
    let store = try ParameterStore.load(c, from: file, prefix: "init.model.inner.", backend: cpu)
    let act = HRMACT(inner: try HRMInner(config: c, parameters: store), lossKind: .stablemax, seed: 0)
    XCTAssertEqual(act.inner.dtype, .bf16)
    let batch = DeviceBatch(inputs: try file.ints("input.inputs"), labels: try file.ints("input.labels"),
                            puzzleIdentifiers: try file.ints("input.puzzle_identifiers"), batch: 4, seq: 81, on: cpu)
    let (_, out) = Autodiff.withoutGradient { act.step(act.initialCarry(batch: 4), batch: batch, training: true) }
    XCTAssertEqual(out.logits.dtype, .bf16)
    // ~8 significant bits per activation over 24 layer applications: 3e-2 relative.
    XCTAssertLessThan(relativeError(out.logits.toArray(), try file.floats("step1.logits")), 3e-2)
    XCTAssertLessThan(relativeError(out.qHalt.toArray(), try file.floats("step1.q_halt_logits")), 3e-2)
  }

  /// Weights cast once for a whole scope (withFrozenWeights) give the same bf16 results and
  /// gradients as the per-forward casts, and the scope's cached casts do not outlive it.
  func testFrozenWeightCastsMatchPerForwardCasts() throws {
    var c = HRMConfig()
    (c.batchSize, c.seqLen, c.puzzleEmbNdim, c.numPuzzleIdentifiers, c.vocabSize) = (2, 9, 16, 2, 6)
    (c.hCycles, c.lCycles, c.hLayers, c.lLayers, c.hiddenSize, c.numHeads) = (2, 2, 1, 1, 16, 2)
    (c.haltMaxSteps, c.haltExplorationProb, c.forwardDtype) = (2, 0, "bfloat16")
    let cpu = CPUBackend.shared
    let store = ParameterStore.initialize(c, backend: cpu, seed: 3)
    let inner = try HRMInner(config: c, parameters: store)
    let inputs = Tensor(ints: (0..<18).map { Int32(1 + $0 % 5) }, shape: [2, 9], on: cpu)
    let ids = Tensor(ints: [0, 1], shape: [2], on: cpu)
    let carry = inner.reset(inner.emptyCarry(batch: 2), mask: Tensor(ints: [1, 1], shape: [2], on: cpu))
    func run() -> (logits: [Float], grad: [Float]) {
      let tape = Tape()
      var logits: [Float] = []
      Autodiff.record(on: tape) {
        let out = inner.forward(carry, inputs: inputs, puzzleIdentifiers: ids, training: false)
        logits = out.logits.toArray()
        tape.backward(sumAll(out.logits.cast(.f32)))
      }
      let w = store["L_level.layers.0.mlp.down_proj.weight"]
      defer { store.zeroGrad() }
      return (logits, w.grad?.toArray() ?? [])
    }
    let plain = run()
    let frozen = inner.withFrozenWeights { run() }
    XCTAssertFalse(plain.grad.isEmpty)
    XCTAssertEqual(frozen.logits, plain.logits)
    XCTAssertEqual(frozen.grad, plain.grad)
    // After the scope a changed weight is cast afresh (a cast kept past the scope would not see it).
    let w = store["L_level.layers.0.self_attn.qkv_proj.weight"]
    cpu.scale(w, by: 2, out: w)
    XCTAssertNotEqual(run().logits, plain.logits)
  }
}
