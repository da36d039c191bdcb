// DatasetTests.swift: dataset.json formatting/parsing, dataset folder round trips and reader validation.

import Foundation
import HRMSupport
import XCTest

@testable import HRMData

final class MetadataTests: XCTestCase {
  func testJSONTextMatchesReferenceFormatting() {
    let m = DatasetMetadata(vocabSize: 11, seqLen: 81, numPuzzleIdentifiers: 1, totalGroups: 1000, meanPuzzleExamples: 1)
    XCTAssertEqual(
      m.jsonText(),
      "{\"pad_id\": 0, \"ignore_label_id\": 0, \"blank_identifier_id\": 0, \"vocab_size\": 11, \"seq_len\": 81, "
        + "\"num_puzzle_identifiers\": 1, \"total_groups\": 1000, \"mean_puzzle_examples\": 1.0, \"sets\": [\"all\"]}")
    var arc = m
    arc.ignoreLabelId = nil
    arc.meanPuzzleExamples = 3633425.0 / 876411.0
    arc.totalPuzzles = 876411
    arc.sets = ["all", "é\"x"]
    XCTAssertEqual(
      arc.jsonText(),
      "{\"pad_id\": 0, \"ignore_label_id\": null, \"blank_identifier_id\": 0, \"vocab_size\": 11, \"seq_len\": 81, "
        + "\"num_puzzle_identifiers\": 1, \"total_groups\": 1000, \"mean_puzzle_examples\": 4.145800315148943, "
        + "\"total_puzzles\": 876411, \"sets\": [\"all\", \"\\u00e9\\\"x\"]}")
  }

  func testPythonFloatFormatting() {
    XCTAssertEqual(PythonJSON.float(1), "1.0")
    XCTAssertEqual(PythonJSON.float(0.5), "0.5")
    XCTAssertEqual(PythonJSON.float(1e-5), "1e-05")
    XCTAssertEqual(PythonJSON.float(1e16), "1e+16")
    XCTAssertEqual(PythonJSON.float(123456.0), "123456.0")
  }

  func testReadingToleratesExtraKeysAndKeepsTotalPuzzles() throws {
    let text = """
      {"pad_id": 0, "ignore_label_id": null, "blank_identifier_id": 0, "vocab_size": 12, "seq_len": 900,
       "num_puzzle_identifiers": 5, "total_groups": 2, "mean_puzzle_examples": 4, "total_puzzles": 4,
       "sets": ["all"], "something_new": [1, 2]}
      """
    let m = try DatasetMetadata.decode(Data(text.utf8), file: "d.json")
    XCTAssertNil(m.ignoreLabelId)
    XCTAssertEqual(m.meanPuzzleExamples, 4.0)
    XCTAssertEqual(m.totalPuzzles, 4)
    XCTAssertEqual(try DatasetMetadata.decode(Data(m.jsonText().utf8), file: "again"), m)
  }

  func testMissingOrMistypedKeysAreNamed() throws {
    let full = DatasetMetadata(vocabSize: 11, seqLen: 81, numPuzzleIdentifiers: 1, totalGroups: 3, meanPuzzleExamples: 1).jsonText()
    let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(full.utf8)) as? [String: Any])
    for key in DatasetMetadata.CodingKeys.allCases where key != .totalPuzzles {
      var d = object
      XCTAssertNotNil(d.removeValue(forKey: key.rawValue))
      let data = try JSONSerialization.data(withJSONObject: d)
      assertHRMError(["train/dataset.json", "missing key '\(key.rawValue)'"]) {
        _ = try DatasetMetadata.decode(data, file: "train/dataset.json")
      }
    }
    assertHRMError(["x.json", "'seq_len'", "wrong type"]) {
      _ = try DatasetMetadata.decode(Data(full.replacingOccurrences(of: "81", with: "\"81\"").utf8), file: "x.json")
    }
    assertHRMError(["x.json", "invalid JSON"]) { _ = try DatasetMetadata.decode(Data("{\"pad_id\": ".utf8), file: "x.json") }
  }

  func testTotalSteps() {
    let m = DatasetMetadata(vocabSize: 11, seqLen: 81, numPuzzleIdentifiers: 1, totalGroups: 1000, meanPuzzleExamples: 1)
    // The spec's Sudoku-1k figure: 20000 epochs, GBS 768 -> 26041.
    XCTAssertEqual(m.totalSteps(epochs: 20000, globalBatchSize: 768), 26041)
    var arc = m
    arc.totalGroups = 960
    arc.meanPuzzleExamples = 4.146
    XCTAssertEqual(arc.totalSteps(epochs: 100000, globalBatchSize: 768), Int(100000.0 * 960 * 4.146 / 768))
    XCTAssertEqual(m.totalSteps(epochs: 1, globalBatchSize: 1001), 0)
  }
}

final class DatasetFolderTests: XCTestCase {
  private func sampleDataset() -> PuzzleDataset {
    let train = makeSplit(groups: [[1, 2], [3], [1, 1, 1]])
    var test = makeSplit(groups: [[2], [1]])
    test.metadata.ignoreLabelId = nil
    return PuzzleDataset(identifiers: (0..<7).map { $0 == 0 ? "<blank>" : "p\($0)" }, splits: ["train": train, "test": test])
  }

  func testWriteThenLoadRoundTripsAndFilesAreExact() throws {
    let dir = try makeTempDir(self)
    let out = (dir as NSString).appendingPathComponent("ds")
    let ds = sampleDataset()
    try ds.write(to: out)
    XCTAssertEqual(try PuzzleDataset.load(from: out), ds)
    let names = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
    XCTAssertEqual(names, ["identifiers.json", "test", "train"])
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: out + "/train").sorted(),
      ["all__group_indices.npy", "all__inputs.npy", "all__labels.npy", "all__puzzle_identifiers.npy",
       "all__puzzle_indices.npy", "dataset.json"])
    XCTAssertEqual(
      try String(contentsOfFile: out + "/identifiers.json", encoding: .utf8),
      "[\"<blank>\", \"p1\", \"p2\", \"p3\", \"p4\", \"p5\", \"p6\"]")
    XCTAssertEqual(try String(contentsOfFile: out + "/train/dataset.json", encoding: .utf8), ds.splits["train"]?.metadata.jsonText())
    let inputs = try NPY.read(path: out + "/train/all__inputs.npy")
    XCTAssertEqual(inputs.dtype, .uint8)
    XCTAssertEqual(inputs.shape, [9, 3])
    XCTAssertEqual(try NPY.read(path: out + "/train/all__group_indices.npy"), NPYArray(int32: [0, 2, 3, 6], shape: [4]))
  }

  func testRewritingReplacesTheFolderAndLeavesNoTemporaries() throws {
    let dir = try makeTempDir(self)
    let out = (dir as NSString).appendingPathComponent("ds")
    try sampleDataset().write(to: out)
    var smaller = sampleDataset()
    smaller.splits["test"] = nil
    try smaller.write(to: out)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["ds"])
    XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/test"))
    XCTAssertEqual(try PuzzleDataset.load(from: out), smaller)
  }

  func testFailedWriteLeavesPreviousDatasetUntouched() throws {
    let dir = try makeTempDir(self)
    let out = (dir as NSString).appendingPathComponent("ds")
    let ds = sampleDataset()
    try ds.write(to: out)
    var bad = ds
    bad.splits["train"]?.metadata.totalGroups = 99
    assertHRMError(["ds/train/dataset.json", "total_groups is 99"]) { try bad.write(to: out) }
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["ds"])
    XCTAssertEqual(try PuzzleDataset.load(from: out), ds)
  }

  func testRefusesToReplaceAFolderThatIsNotADataset() throws {
    let dir = try makeTempDir(self)
    try AtomicFile.write(text: "precious", to: dir + "/notes.txt")
    assertHRMError([dir, "not a dataset folder"]) { try sampleDataset().write(to: dir) }
    XCTAssertEqual(try String(contentsOfFile: dir + "/notes.txt", encoding: .utf8), "precious")
    // An empty folder is fine.
    let empty = dir + "/empty"
    try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: false)
    try sampleDataset().write(to: empty)
    XCTAssertEqual(try PuzzleDataset.load(from: empty), sampleDataset())
  }

  func testAtomicFileWriteReplacesContent() throws {
    let dir = try makeTempDir(self)
    let path = (dir as NSString).appendingPathComponent("f.txt")
    try AtomicFile.write(text: "one", to: path)
    try AtomicFile.write(text: "two", to: path)
    XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "two")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["f.txt"])
  }

  /// Writes the sample dataset, lets `mutate` damage the train split on disk, and expects `parts` in the error.
  private func assertLoadFails(_ parts: [String], line: UInt = #line, _ mutate: (String) throws -> Void) throws {
    let dir = try makeTempDir(self)
    let out = (dir as NSString).appendingPathComponent("ds")
    try sampleDataset().write(to: out)
    try mutate(out + "/train")
    assertHRMError(parts, line: line) { _ = try DatasetSplit.load(from: out, split: "train") }
  }

  func testReaderRejectsBadFiles() throws {
    try assertLoadFails(["train/all__labels.npy", "does not match inputs"]) { t in
      try NPY.write(NPYArray(uint8: [UInt8](repeating: 1, count: 8 * 3), shape: [8, 3]), to: t + "/all__labels.npy")
    }
    try assertLoadFails(["train/all__inputs.npy", "seq_len 3"]) { t in
      try NPY.write(NPYArray(uint8: [UInt8](repeating: 1, count: 9 * 4), shape: [9, 4]), to: t + "/all__inputs.npy")
    }
    try assertLoadFails(["train/all__inputs.npy", "integer tokens", "<f4"]) { t in
      try NPY.write(NPYArray(float32: [Float](repeating: 1, count: 27), shape: [9, 3]), to: t + "/all__inputs.npy")
    }
    try assertLoadFails(["train/all__puzzle_indices.npy", "1-D"]) { t in
      try NPY.write(NPYArray(int32: [0, 1, 3, 6, 7, 8, 9, 9], shape: [2, 4]), to: t + "/all__puzzle_indices.npy")
    }
    try assertLoadFails(["train/all__puzzle_indices.npy", "start at 0"]) { t in
      try NPY.write(NPYArray(int32: [1, 1, 3, 6, 7, 8, 9], shape: [7]), to: t + "/all__puzzle_indices.npy")
    }
    try assertLoadFails(["train/all__puzzle_indices.npy", "decrease at index 2"]) { t in
      try NPY.write(NPYArray(int32: [0, 4, 3, 6, 7, 8, 9], shape: [7]), to: t + "/all__puzzle_indices.npy")
    }
    try assertLoadFails(["train/all__puzzle_indices.npy", "end at 9"]) { t in
      try NPY.write(NPYArray(int32: [0, 1, 3, 6, 7, 8, 8], shape: [7]), to: t + "/all__puzzle_indices.npy")
    }
    try assertLoadFails(["train/all__puzzle_indices.npy", "expected 7"]) { t in
      try NPY.write(NPYArray(int32: [0, 1, 9], shape: [3]), to: t + "/all__puzzle_indices.npy")
    }
    try assertLoadFails(["train/all__group_indices.npy", "end at 6"]) { t in
      try NPY.write(NPYArray(int32: [0, 2, 3, 5], shape: [4]), to: t + "/all__group_indices.npy")
    }
    try assertLoadFails(["train/all__inputs.npy", "token 50", "vocab_size"]) { t in
      var v = [UInt8](repeating: 1, count: 27)
      v[13] = 50
      try NPY.write(NPYArray(uint8: v, shape: [9, 3]), to: t + "/all__inputs.npy")
    }
    try assertLoadFails(["train/all__labels.npy", "token -3"]) { t in
      var v = [Int64](repeating: 1, count: 27)
      v[0] = -3
      try NPY.write(NPYArray(int64: v, shape: [9, 3]), to: t + "/all__labels.npy")
    }
    try assertLoadFails(["train/all__puzzle_identifiers.npy", "identifier 7", "num_puzzle_identifiers"]) { t in
      try NPY.write(NPYArray(int32: [0, 1, 2, 3, 4, 7], shape: [6]), to: t + "/all__puzzle_identifiers.npy")
    }
    try assertLoadFails(["train/all__group_indices.npy", "not found"]) { t in
      try FileManager.default.removeItem(atPath: t + "/all__group_indices.npy")
    }
    try assertLoadFails(["train/dataset.json", "missing key 'vocab_size'"]) { t in
      try AtomicFile.write(
        text: "{\"pad_id\": 0, \"ignore_label_id\": 0, \"blank_identifier_id\": 0, \"seq_len\": 3, "
          + "\"num_puzzle_identifiers\": 7, \"total_groups\": 3, \"mean_puzzle_examples\": 1.5, \"sets\": [\"all\"]}",
        to: t + "/dataset.json")
    }
  }

  /// The reference's augmented Sudoku writes <i8 tokens and TRM adds total_puzzles: both load.
  func testReaderAcceptsInt64TokensAndInt64Offsets() throws {
    let dir = try makeTempDir(self)
    let out = (dir as NSString).appendingPathComponent("ds")
    try sampleDataset().write(to: out)
    let t = out + "/train"
    let inputs = try NPY.read(path: t + "/all__inputs.npy")
    try NPY.write(NPYArray(int64: inputs.data.map { Int64($0) }, shape: inputs.shape), to: t + "/all__inputs.npy")
    try NPY.write(NPYArray(int64: [0, 2, 3, 6], shape: [4]), to: t + "/all__group_indices.npy")
    let split = try DatasetSplit.load(from: out, split: "train")
    XCTAssertEqual(split, sampleDataset().splits["train"])
  }
}
