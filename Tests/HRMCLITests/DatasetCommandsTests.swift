// DatasetCommandsTests.swift: `hrm dataset maze`, `hrm dataset arc` and `hrm visualize` end to
// end, in process, and the one-line errors their bad input produces.

import ArgumentParser
import Foundation
import HRMCLI
import HRMSupport
import XCTest

final class DatasetCommandsTests: CLITestCase {
  func testMazeGenerateThenVisualize() throws {
    let out = tmp + "/maze"
    try run(["dataset", "maze", "--generate", "4", "--test-size", "2", "--seed", "3", "--output-dir", out, "--save-csv", tmp + "/csv"])
    // The saved CSVs rebuild the same dataset through --source-dir, with --aug 8 puzzles per maze.
    try run(["dataset", "maze", "--source-dir", tmp + "/csv", "--output-dir", tmp + "/again", "--aug"])
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: tmp + "/again/test/all__inputs.npy")),
                   try Data(contentsOf: URL(fileURLWithPath: out + "/test/all__inputs.npy")))
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: tmp + "/again/train/all__inputs.npy")).count - 128, 4 * 8 * 900)
    XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/train/all__inputs.npy"))
    XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/test/dataset.json"))
    let page = tmp + "/maze.html"
    try run(["visualize", out, "--output", page])
    let html = try String(contentsOfFile: page, encoding: .utf8)
    XCTAssertTrue(html.contains("\"kind\": \"maze\""))
  }

  func testMazeSourceWithoutTestCSV() throws {
    let src = tmp + "/src"
    try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
    let q = String(repeating: " ", count: 8) + "S" + String(repeating: " ", count: 6) + "G"
    let a = String(repeating: " ", count: 8) + "Sooo" + "   G"
    try "source,question,answer,rating\n,\(q),\(a),\n".write(toFile: src + "/train.csv", atomically: true, encoding: .utf8)
    assertUserError(["dataset", "maze", "--source-dir", src, "--output-dir", tmp + "/o"], mentions: ["test.csv", "--test-from-generator"])
    assertUsageError(["dataset", "maze", "--source-dir", src, "--reference-weighting", "--output-dir", tmp + "/o"],
                     mentions: ["--reference-weighting", "generated mazes"])
    XCTAssertFalse(FileManager.default.fileExists(atPath: tmp + "/o"))
  }

  func testARCErrorsAreOneLine() throws {
    let src = tmp + "/arc/training"
    try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
    try #"{"train": [{"input": [[1, 2]], "output": [[3]]}], "test": [{"input": [[1]], "output": "oops"}]}"#
      .write(toFile: src + "/bad.json", atomically: true, encoding: .utf8)
    assertUserError(
      ["dataset", "arc", "--dataset-dirs", tmp + "/arc", "--output-dir", tmp + "/o", "--num-aug", "2"],
      mentions: ["bad.json", "test pair 1 output must be a list of rows"])
    assertUserError(["visualize", tmp + "/nothing"], mentions: ["nothing", "not found"])
  }
}
