// CheckpointCLITests.swift: the checkpoint features through the `hrm` command in process:
// a run folder with logs and both checkpoint files, resume of a finished run, `hrm report`,
// `hrm convert` of the PyTorch fixture, and one-line errors for bad resume paths and files.

import ArgumentParser
import Foundation
import HRMCLI
import HRMSupport
import TestSupport
import XCTest

final class CheckpointCLITests: TemporaryFolderTestCase {
  func run(_ args: [String]) throws {
    var command = try HRMCommand.parseAsRoot(args)
    try command.run()
  }

  func userError(_ args: [String], _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try run(args), file: file, line: line) { error in
      let m = (error as? HRMError)?.message ?? "not an HRMError: \(error)"
      XCTAssertFalse(m.contains("\n"), m, file: file, line: line)
      for f in fragments { XCTAssertTrue(m.contains(f), "'\(f)' missing in: \(m)", file: file, line: line) }
    }
  }

  func testRunFolderResumeReportAndConvert() throws {
    let data = tmp + "/sudoku", out = tmp + "/run"
    try run(["dataset", "sudoku", "--generate", "24", "--test-size", "8", "--min-blanks", "2", "--max-blanks", "5",
             "--output-dir", data])
    let keys = ["data_path=\(data)", "epochs=2", "eval_interval=1", "global_batch_size=8", "arch.hidden_size=32",
                "arch.num_heads=2", "arch.H_layers=1", "arch.L_layers=1", "arch.halt_max_steps=2", "device=cpu",
                "checkpoint_path=\(out)", "checkpoint_interval=2", "checkpoint_keep=2"]
    try run(["train"] + keys)
    let files = Set(try FileManager.default.contentsOfDirectory(atPath: out))
    for f in ["config.json", "metrics.jsonl", "step_6.safetensors", "step_6.state.safetensors", "step_4.safetensors"] {
      XCTAssertTrue(files.contains(f), "\(f) missing in \(files.sorted())")
    }
    XCTAssertFalse(files.contains("step_2.safetensors"), "checkpoint_keep=2 prunes step 2")
    XCTAssertTrue(files.contains { $0.hasPrefix("events.out.tfevents.") })
    let before = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8)
    // Resuming a finished run changes nothing.
    try run(["train"] + keys + ["resume=\(out)"])
    XCTAssertEqual(try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8), before)

    try run(["report", out])
    let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
    XCTAssertTrue(html.contains("<svg") && html.contains("Evaluation accuracy"))

    let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Fixtures/torch").path
    try run(["convert", fixture + "/tiny_state_dict.pt", tmp + "/tiny.safetensors", "arch.num_heads=2"])
    XCTAssertTrue(FileManager.default.fileExists(atPath: tmp + "/tiny.safetensors"))
    userError(["convert", fixture + "/evil.pt", tmp + "/evil.safetensors"], ["posix.system", "not allowed"])
    XCTAssertFalse(FileManager.default.fileExists(atPath: tmp + "/evil.safetensors"))

    userError(["train"] + keys + ["resume=\(tmp!)/nowhere"], ["nowhere", "no such file"])
    userError(["train"] + keys + ["resume=\(data)"], ["no training-state checkpoint"])
    userError(["train"] + keys + ["resume=\(tmp!)/tiny.safetensors"], ["weights only"])
    userError(["train"] + keys + ["checkpoint_keep=0"], ["checkpoint_keep=0"])
    userError(["report", data], ["metrics.jsonl"])
  }
}
