// CLITests.swift: the `hrm` command end to end, in process: dataset building, training on
// the result, and the one-line errors bad input must produce.

import ArgumentParser
import Foundation
@testable import HRMCLI
import HRMCUDA
import HRMData
import HRMSupport
import TestSupport
import XCTest

final class CLITests: CLITestCase {
  func testGenerateThenTrain() throws {
    let data = tmp + "/sudoku"
    try run(["dataset", "sudoku", "--generate", "24", "--test-size", "8", "--min-blanks", "2", "--max-blanks", "5",
             "--output-dir", data])
    for split in ["train", "test"] {
      for file in ["dataset.json", "all__inputs.npy", "all__labels.npy", "all__puzzle_identifiers.npy",
                   "all__puzzle_indices.npy", "all__group_indices.npy"] {
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(data)/\(split)/\(file)"), "\(split)/\(file)")
      }
    }
    let ckpt = tmp + "/ckpt"
    try run(["train", "data_path=\(data)", "epochs=2", "eval_interval=1", "global_batch_size=8",
             "arch.hidden_size=32", "arch.num_heads=2", "arch.H_layers=1", "arch.L_layers=1", "arch.halt_max_steps=2",
             "device=cpu", "checkpoint_path=\(ckpt)"])
    let weights = ckpt + "/step_6.safetensors"
    XCTAssertTrue(FileManager.default.fileExists(atPath: weights), "final checkpoint (2 epochs x 3 batches)")

    // Evaluate: metrics and row-aligned predictions for the 8 test puzzles.
    let out = tmp + "/eval"
    try run(["evaluate", "checkpoint=\(weights)", "output_dir=\(out)", "save_steps=true", "device=cpu"])
    let preds = try NPY.read(path: out + "/predictions.npy")
    XCTAssertEqual(preds.shape, [8, 81])
    XCTAssertEqual(try NPY.read(path: out + "/step_predictions.npy").shape, [2, 8, 81])
    XCTAssertEqual(try NPY.read(path: out + "/segments.npy").int32Values(file: "segments"), [Int32](repeating: 2, count: 8))
    let labels = try NPY.read(path: out + "/labels.npy").int32Values(file: "labels")
    let inputs = try NPY.read(path: out + "/inputs.npy").int32Values(file: "inputs")
    let test = try DatasetSplit.load(from: data, split: "test")
    XCTAssertEqual(inputs, test.sets[0].inputs.int32Values(), "rows in storage order, padding dropped")
    XCTAssertEqual(labels, test.sets[0].labels.int32Values())
    let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/metrics.json"))) as? [String: Any]
    XCTAssertEqual((metrics?["metrics"] as? [String: Double])?["count"], 8)

    // Solve: a 2-segment model prints an answer grid; wrong input is one clear error.
    let puzzle = String(test.sets[0].inputs.int32Values().prefix(81).map { $0 == 1 ? "." : String($0 - 1) }.joined())
    do {
      try run(["solve", "checkpoint=\(weights)", "puzzle=\(puzzle)", "device=cpu"])
    } catch let e as ExitCode {
      XCTAssertEqual(e, ExitCode(2), "an untrained model's invalid answer exits 2")
    }
    assertUserError(["solve", "checkpoint=\(weights)", "puzzle=123", "device=cpu"], mentions: ["81 cells"])
    assertUserError(["solve", "checkpoint=\(weights)", "puzzle=\(String(repeating: "x", count: 81))", "device=cpu"],
                    mentions: ["'x'"])
    assertUserError(["evaluate", "checkpoint=\(tmp!)/nope.safetensors"], mentions: ["nope.safetensors"])
  }

  /// After a kernel file fails to compile the selftest skips that file's ops: every embedded
  /// kernel file must be in its table (gemm.cu with no op of its own).
  func testSelftestKnowsEveryKernelFile() {
    XCTAssertEqual(Set(SelftestCommand.opsByFile.keys), Set(CUDAKernelSources.kernelFileNames))
  }

  func testBadOverridesAndConfigs() {
    assertUserError(["train", "lrr=1e-3"], mentions: ["'lrr'", "did you mean 'lr'"])
    assertUserError(["train", "global_batch_size=many"], mentions: ["global_batch_size=many", "integer"])
    assertUserError(["train", "arch.hidden_size=100", "arch.num_heads=8"], mentions: ["num_heads", "divisible"])
    assertUserError(["train", "data_path=\(tmp!)/missing", "device=cpu"], mentions: ["missing"])
  }

  func testMalformedCSVNamesFileAndLine() throws {
    let src = tmp + "/csv"
    try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
    let good = "source,question,answer,rating\n"
      + "t,..53.....8......2..7..1.5..4....53...1..7...6..32...8..6.5....9..4....3......97..,"
      + "145327698839654127672918543496185372218473956753296481367542819984761235521839764,56\n"
    try good.write(toFile: src + "/test.csv", atomically: true, encoding: .utf8)
    try (good + "t,123,456\n").write(toFile: src + "/train.csv", atomically: true, encoding: .utf8)
    let out = tmp + "/out"
    assertUserError(["dataset", "sudoku", "--source-dir", src, "--output-dir", out], mentions: ["train.csv:3"])
    XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing is written on failure")
  }

  func testBrokenDatasetNamesTheProblem() throws {
    let data = tmp + "/sudoku"
    try run(["dataset", "sudoku", "--generate", "8", "--test-size", "4", "--max-blanks", "5", "--output-dir", data])
    let meta = data + "/train/dataset.json"
    let text = try String(contentsOfFile: meta, encoding: .utf8)
    try text.replacingOccurrences(of: "\"seq_len\": 81, ", with: "").write(toFile: meta, atomically: true, encoding: .utf8)
    assertUserError(["train", "data_path=\(data)", "device=cpu"], mentions: ["dataset.json", "seq_len"])
  }

  func testTrainHelpListsTheReferenceKeys() throws {
    let train = try XCTUnwrap(HRMCommand.configuration.subcommands.first { $0.configuration.commandName == "train" })
    let help = HRMCommand.helpMessage(for: train, columns: 200)
    for key in ["data_path", "global_batch_size", "eval_interval", "puzzle_emb_lr", "arch.H_cycles",
                "arch.halt_exploration_prob", "arch.loss.loss_type", "device"] {
      XCTAssertTrue(help.contains(key), "--help should list \(key)")
    }
  }
}

/// ARC end to end on a handful of real tasks: build with augmentations, train a tiny model,
/// evaluate, and score pass@K from the saved predictions.
final class ARCPipelineTests: CLITestCase {
  static let arcRoot = sharedPath("data/arc/ARC-AGI/data")

  func testBuildTrainEvaluateScore() throws {
    let fm = FileManager.default
    _ = try requireShared("data/arc/ARC-AGI/data", what: "ARC data")
    let tmp = NSTemporaryDirectory() + "hrm-arc-\(getpid())-\(UUID().uuidString)"
    defer { try? fm.removeItem(atPath: tmp) }
    // Two training and two evaluation tasks, in the public repository's layout.
    for (sub, count) in [("training", 2), ("evaluation", 2)] {
      try fm.createDirectory(atPath: "\(tmp)/raw/\(sub)", withIntermediateDirectories: true)
      let names = try fm.contentsOfDirectory(atPath: "\(ARCPipelineTests.arcRoot)/\(sub)").sorted().prefix(count)
      for n in names { try fm.copyItem(atPath: "\(ARCPipelineTests.arcRoot)/\(sub)/\(n)", toPath: "\(tmp)/raw/\(sub)/\(n)") }
    }
    try run(["dataset", "arc", "--dataset-dirs", "\(tmp)/raw", "--output-dir", "\(tmp)/arc", "--num-aug", "3"])
    try run(["train", "data_path=\(tmp)/arc", "epochs=1", "eval_interval=1", "global_batch_size=8", "arch.hidden_size=32", "arch.num_heads=2",
             "arch.H_layers=1", "arch.L_layers=1", "arch.H_cycles=1", "arch.L_cycles=1", "arch.halt_max_steps=2",
             "device=cpu", "checkpoint_path=\(tmp)/run"])
    let checkpoint = try XCTUnwrap(try fm.contentsOfDirectory(atPath: "\(tmp)/run")
      .first { $0.hasPrefix("step_") && $0.hasSuffix(".safetensors") && !$0.contains(".state") })
    try run(["evaluate", "checkpoint=\(tmp)/run/\(checkpoint)", "output_dir=\(tmp)/eval", "device=cpu"])
    try run(["score-arc", "predictions=\(tmp)/eval", "ks=1,2"])
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(tmp)/eval/arc_score.json"))) as? [String: Any]
    XCTAssertEqual(json?["taskCount"] as? Int, 2, "the two evaluation tasks are scored")
    let overall = try XCTUnwrap(json?["overall"] as? [String: Double])
    XCTAssertNotNil(overall["pass@2"])
    XCTAssertGreaterThanOrEqual(overall["pass@2"]!, overall["pass@1"]!)

    // Solve one of the evaluation tasks by voting over its augmented embeddings.
    let evalTask = try XCTUnwrap(try fm.contentsOfDirectory(atPath: "\(tmp)/raw/evaluation").sorted().first)
    try run(["solve", "checkpoint=\(tmp)/run/\(checkpoint)", "puzzle=\(tmp)/raw/evaluation/\(evalTask)", "device=cpu"])
    // A task the model never saw has no puzzle embedding: one clear error.
    let unseen = try fm.contentsOfDirectory(atPath: "\(ARCPipelineTests.arcRoot)/evaluation").sorted().last!
    XCTAssertThrowsError(try run(["solve", "checkpoint=\(tmp)/run/\(checkpoint)",
                                  "puzzle=\(ARCPipelineTests.arcRoot)/evaluation/\(unseen)", "device=cpu"])) { error in
      XCTAssertTrue("\(error)".contains("no puzzle embedding"), "\(error)")
    }
  }

  func testMazeTrainThenSolve() throws {
    let fm = FileManager.default
    let tmp = NSTemporaryDirectory() + "hrm-maze-\(getpid())-\(UUID().uuidString)"
    defer { try? fm.removeItem(atPath: tmp) }
    try run(["dataset", "maze", "--generate", "8", "--test-size", "2", "--output-dir", "\(tmp)/maze"])
    try run(["train", "data_path=\(tmp)/maze", "epochs=1", "eval_interval=1", "global_batch_size=8", "arch.hidden_size=32",
             "arch.num_heads=2", "arch.H_layers=1", "arch.L_layers=1", "arch.H_cycles=1", "arch.L_cycles=1",
             "arch.halt_max_steps=2", "device=cpu", "checkpoint_path=\(tmp)/run"])
    let test = try DatasetSplit.load(from: "\(tmp)/maze", split: "test")
    let text = String(test.sets[0].inputs.int32Values().prefix(900).map { Maze.charset[Int($0) - 1] })
    let lines = stride(from: 0, to: 900, by: 30).map { i in String(Array(text)[i..<(i + 30)]) }.joined(separator: "\n")
    do {
      try run(["solve", "checkpoint=\(tmp)/run/step_1.safetensors", "puzzle=\(lines)", "device=cpu"])
    } catch let e as ExitCode {
      XCTAssertEqual(e, ExitCode(2), "an untrained model's path is reported invalid with exit status 2")
    }
    XCTAssertThrowsError(try run(["solve", "checkpoint=\(tmp)/run/step_1.safetensors", "puzzle=#  S", "device=cpu"])) { error in
      XCTAssertTrue("\(error)".contains("900 cells"), "\(error)")
    }
    // A maze checkpoint on Sudoku data: another vocabulary and sequence length.
    try run(["dataset", "sudoku", "--generate", "4", "--test-size", "2", "--max-blanks", "5", "--output-dir", "\(tmp)/sudoku"])
    XCTAssertThrowsError(try run(["evaluate", "checkpoint=\(tmp)/run/step_1.safetensors", "data_path=\(tmp)/sudoku",
                                  "device=cpu"])) { error in
      XCTAssertTrue("\(error)".contains("vocab_size 11, seq_len 81") && "\(error)".contains("vocab_size 6, seq_len 900"), "\(error)")
    }
  }
}
