// KillResumeTests.swift: the fault test for exact resume, with the real binary. A CPU
// training run of the built `hrm` (found beside the test bundle) is killed with SIGKILL at a
// random step, resumed with `resume=<run folder>`, and must end with the same final weights
// (bitwise) and the same metrics.jsonl (byte for byte) as an uninterrupted run.

import Foundation
import HRMData
import HRMSupport
import HRMTensor
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class KillResumeTests: TemporaryFolderTestCase {
  /// The `hrm` executable the package built, next to the test bundle.
  func hrmBinary() throws -> String {
    var dirs = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path,
                Bundle.main.bundleURL.deletingLastPathComponent().path,
                Bundle(for: KillResumeTests.self).bundleURL.deletingLastPathComponent().path]
    dirs += dirs.map { ($0 as NSString).deletingLastPathComponent }
    for d in dirs {
      let p = (d as NSString).appendingPathComponent("hrm")
      if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    XCTFail("the hrm binary is not next to the test bundle (looked in \(dirs)); run `swift build` first")
    throw XCTSkip("no hrm binary")
  }

  func start(_ binary: String, _ args: [String]) throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = ["train"] + args
    p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
    p.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try p.run()
    return p
  }

  func lines(_ path: String) -> Int {
    guard let d = FileManager.default.contents(atPath: path) else { return 0 }
    return d.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
  }

  func testSIGKILLAtARandomStepThenResumeEqualsUninterruptedRun() throws {
    let hrm = try hrmBinary()
    let data = tmp + "/data"
    let puzzles = try SudokuGenerator.generate(count: 40, options: SudokuGeneratorOptions(minBlanks: 2, maxBlanks: 4, seed: 11))
    try SudokuDataset.build(train: Array(puzzles.prefix(32)), test: Array(puzzles.suffix(8)),
                            options: SudokuBuildOptions(numAug: 1, seed: 11)).write(to: data)
    let common = ["data_path=\(data)", "arch.hidden_size=32", "arch.num_heads=2", "arch.H_layers=1", "arch.L_layers=1",
                  "arch.halt_max_steps=3", "global_batch_size=8", "epochs=24", "eval_interval=8", "eval_max_batches=1",
                  "lr=1e-3", "seed=3", "device=cpu", "checkpoint_interval=7", "checkpoint_keep=2"]
    let totalSteps = 24 * 4

    let full = tmp + "/full"
    let a = try start(hrm, common + ["checkpoint_path=\(full)"])
    a.waitUntilExit()
    XCTAssertEqual(a.terminationStatus, 0, "uninterrupted run failed")

    // Kill at a random step: once metrics.jsonl has that many lines.
    let killAt = Int.random(in: 10...(totalSteps / 2 + 10))  // leaves ~40 steps of margin for the kill to land
    let cut = tmp + "/cut"
    let b = try start(hrm, common + ["checkpoint_path=\(cut)"])
    let deadline = Date().addingTimeInterval(60)
    while lines(cut + "/metrics.jsonl") < killAt && b.isRunning && Date() < deadline { usleep(500) }
    XCTAssertEqual(kill(b.processIdentifier, SIGKILL), 0)
    b.waitUntilExit()
    XCTAssertEqual(b.terminationReason, .uncaughtSignal, "the run finished before the kill at step ~\(killAt)")
    let killedAfter = lines(cut + "/metrics.jsonl")
    XCTAssertLessThan(killedAfter, totalSteps + 3, "killed at line \(killedAfter)")

    let c = try start(hrm, common + ["checkpoint_path=\(cut)", "resume=\(cut)"])
    c.waitUntilExit()
    XCTAssertEqual(c.terminationStatus, 0, "resumed run failed (killed after \(killedAfter) metric lines)")

    let expected = try String(contentsOfFile: full + "/metrics.jsonl", encoding: .utf8)
    let got = try String(contentsOfFile: cut + "/metrics.jsonl", encoding: .utf8)
    XCTAssertEqual(expected.split(separator: "\n").count, totalSteps + 3)
    XCTAssertEqual(got, expected, "metrics.jsonl differs (killed after \(killedAfter) lines)")
    let fa = try SafeTensorsFile(path: full + "/step_\(totalSteps).safetensors")
    let fb = try SafeTensorsFile(path: cut + "/step_\(totalSteps).safetensors")
    XCTAssertEqual(fa.names, fb.names)
    for name in fa.names {
      XCTAssertEqual(try fa.rawBytes(name), try fb.rawBytes(name), "\(name) differs (killed after \(killedAfter) lines)")
    }
  }
}
