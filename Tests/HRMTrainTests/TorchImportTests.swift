// TorchImportTests.swift: a reference-layout PyTorch checkpoint (Tests/Fixtures/torch, made by
// Dev/make-torch-fixture.py) imports into a working model, sizes inferred from the shapes,
// and survives the trip through hrm's safetensors checkpoint unchanged; the run report
// draws a run folder's curves into one self-contained HTML page.

import Foundation
import HRMModel
import HRMSupport
import HRMTensor
import HRMTrain
import XCTest

final class TorchImportTests: XCTestCase {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/torch").path

  func testReferenceCheckpointImportsAndRoundTrips() throws {
    var config = TrainConfig()
    try config.apply(overrides: ["arch.num_heads=2", "arch.halt_max_steps=2"])
    let (store, resolved) = try Checkpoint.importTorch(path: TorchImportTests.fixtures + "/tiny_state_dict.pt",
                                                       config: config, backend: CPUBackend.shared)
    XCTAssertEqual(resolved.arch.hiddenSize, 8)
    XCTAssertEqual(resolved.arch.vocabSize, 11)
    XCTAssertEqual(resolved.arch.hLayers, 1)
    XCTAssertEqual(resolved.arch.lLayers, 1)
    XCTAssertEqual(resolved.arch.numPuzzleIdentifiers, 1)
    XCTAssertEqual(resolved.arch.mlpWidth, 256)
    XCTAssertEqual(store["H_init"].toArray(), (0..<8).map { Float(($0 * 7 % 29) - 14) / 64 })
    XCTAssertEqual(store["lm_head.weight"].toArray()[1], Float((7 + 3 * 13) % 29 - 14) / 64, "transposed storage")

    let path = NSTemporaryDirectory() + "hrm-import-\(getpid())-\(UUID().uuidString).safetensors"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try Checkpoint.save(store, config: resolved, step: 0, to: path)
    let file = try SafeTensorsFile(path: path)
    XCTAssertEqual(file.entries["model.inner.H_init"]?.dtype, "BF16", "H_init stays bf16 as the reference stores it")
    XCTAssertEqual(file.entries["model.inner.lm_head.weight"]?.dtype, "F32")
    let (model, _) = try Checkpoint.loadModel(path: path, backend: CPUBackend.shared)
    for (name, t) in store.all {
      XCTAssertEqual(model.inner.parameters[name].toArray().map(\.bitPattern), t.toArray().map(\.bitPattern), name)
    }
    // The imported model runs.
    let b = 2, s = resolved.arch.seqLen
    let batch = DeviceBatch(inputs: [Int32](repeating: 1, count: b * s), labels: [Int32](repeating: 2, count: b * s),
                            puzzleIdentifiers: [0, 0], batch: b, seq: s, on: CPUBackend.shared)
    let out = Autodiff.withoutGradient { model.step(model.initialCarry(batch: b), batch: batch, training: false).1 }
    XCTAssertTrue(out.logits.toArray().allSatisfy(\.isFinite))
  }

  func testWrongHeadCountIsOneClearError() {
    var config = TrainConfig()
    XCTAssertNoThrow(try config.apply(overrides: ["arch.num_heads=3"]))
    XCTAssertThrowsError(try Checkpoint.importTorch(path: TorchImportTests.fixtures + "/tiny_state_dict.pt", config: config,
                                                    backend: CPUBackend.shared)) { error in
      let m = (error as? HRMError)?.message ?? ""
      XCTAssertTrue(m.contains("tiny_state_dict.pt") && m.contains("num_heads"), m)
    }
  }

  func testReportDrawsCurvesIntoOneHTMLFile() throws {
    let dir = NSTemporaryDirectory() + "hrm-report-\(getpid())-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    XCTAssertThrowsError(try RunReport.html(runDirectory: dir))
    let log = try MetricsLog(path: dir + "/metrics.jsonl")
    for step in 1...50 {
      log.append(step: step, split: "train", values: ["lm_loss": 2 / Double(step), "accuracy": Double(step) / 50,
                                                      "exact_accuracy": 0, "steps": 3, "q_halt_loss": 0.1, "q_continue_loss": 0.2])
    }
    log.append(step: 50, split: "eval", values: ["accuracy": 0.9, "exact_accuracy": 0.5, "lm_loss": 0.3, "steps": 16])
    try AtomicFile.write(text: "{\"lr\": 1e-4, \"note\": \"<b>\"}", to: dir + "/config.json")
    let html = try RunReport.html(runDirectory: dir)
    XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 5, "five charts")
    XCTAssertTrue(html.contains("<polyline"))
    XCTAssertTrue(html.contains("Train loss") && html.contains("exact_accuracy"))
    XCTAssertTrue(html.contains("&lt;b&gt;"), "config text is escaped")
    XCTAssertFalse(html.contains("<script") || html.contains("http://") && !html.contains("http://www.w3.org/2000/svg"),
                   "self-contained: no scripts, no links")
    XCTAssertFalse(html.contains("nan") || html.contains("inf\""))
  }
}
