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
}
