// ARCTests.swift: the ARC task reader (and its errors), SHA-256, the canvas encoding and crop,
// the augmentations and their inverses, puzzle names and hashes, and a small real build
// (5 ARC-AGI tasks, 20 augmentations) checked end to end against the original grids.

import Foundation
import HRMData
import HRMSupport
import TestSupport
import XCTest


final class ARCTests: XCTestCase {
  func testSHA256MatchesFIPSVectors() {
    XCTAssertEqual(SHA256.hexDigest([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    XCTAssertEqual(SHA256.hexDigest(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    XCTAssertEqual(
      SHA256.hexDigest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    XCTAssertEqual(
      SHA256.hexDigest([UInt8](repeating: 0x61, count: 1_000)),
      "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
  }

  func testJSONKeepsKeyOrderAndReportsPosition() throws {
    let v = try ARCJSONParser.parse(Array(#"{"test": [1, 2.5e1], "train": {"a": "x\"\u0041"}, "z": [true, false, null]}"#.utf8))
    guard case .object(let members) = v else { return XCTFail("not an object") }
    XCTAssertEqual(members.map(\.0), ["test", "train", "z"])
    XCTAssertEqual(members[0].1, .array([.number(1), .number(25)]))
    XCTAssertEqual(members[1].1, .object([("a", .string("x\"A"))]))
    XCTAssertThrowsError(try ARCJSONParser.parse(Array(#"{"a": [1, 2}"#.utf8))) { e in
      XCTAssertTrue("\(e)".contains("byte 11"), "\(e)")
    }
  }

  func parse(_ text: String) throws -> ARCTask {
    try ARCTask.parse(Array(text.utf8), stem: "t1", subset: "training", file: "dir/t1.json")
  }

  func testTaskReaderKeepsOrderAndNamesBadInput() throws {
    let t = try parse(#"{"test": [{"input": [[1]], "output": [[2]]}], "train": [{"input": [[0, 1], [2, 3]], "output": [[4]]}], "name": "fixed"}"#)
    XCTAssertEqual(t.name, "fixed")
    XCTAssertEqual(t.lists.map(\.key), ["test", "train"])
    XCTAssertEqual(t.train[0].input, Grid([[0, 1], [2, 3]]))
    XCTAssertEqual(t.routed.train.count, 2, "non-evaluation queries are train data")
    XCTAssertEqual(t.routed.train[0].input, Grid([[1]]), "file key order")
    let eval = ARCTask(name: "e", subset: "evaluation", lists: t.lists)
    XCTAssertEqual(eval.routed.train.count, 1)
    XCTAssertEqual(eval.routed.test.count, 1)
    // Round trip through the stored JSON text.
    XCTAssertEqual(try ARCTask.parse(Array(t.jsonText().utf8), stem: "fixed", subset: "training", file: "x"), t)

    let big = "[" + Array(repeating: "[" + Array(repeating: "0", count: 3).joined(separator: ",") + "]", count: 31).joined(separator: ",") + "]"
    let cases: [(String, [String])] = [
      (#"{"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[1]]"#, ["dir/t1.json", "invalid JSON"]),
      (#"{"train": [{"input": \#(big), "output": [[2]]}], "test": []}"#, ["dir/t1.json", "train pair 1 input", "31x3", "at most 30x30"]),
      (#"{"train": [{"input": [[1]], "output": [[2, 10]]}], "test": []}"#, ["train pair 1 output row 1 column 2 is 10", "0-9"]),
      (#"{"train": [], "test": [{"input": [[1], [1, 2]], "output": [[2]]}]}"#, ["test pair 1 input row 2 has 2 cells"]),
      (#"{"train": [{"input": [[1]], "output": [[-1]]}], "test": []}"#, ["is -1"]),
      (#"{"train": [{"input": [[1]]}], "test": []}"#, ["train pair 1 has no \"output\""]),
      (#"{"train": []}"#, ["missing key \"test\""]),
      (#"{"train": [], "test": [], "extra": 1}"#, ["unexpected key \"extra\""]),
      (#"[1]"#, ["expected a JSON object"]),
    ]
    for (text, parts) in cases { assertHRMError(parts) { _ = try parse(text) } }
  }

  func testCanvasEncodingAndCrop() {
    let g = Grid([[3, 4], [5, 6]])
    let c = ARCEncoding.canvas(g, rowOffset: 1, columnOffset: 2)
    func row(_ r: Int) -> [UInt8] { Array(c[r * 30..<r * 30 + 6]) }
    XCTAssertEqual(row(0), [0, 0, 0, 0, 0, 0])
    XCTAssertEqual(row(1), [0, 0, 5, 6, 1, 0])
    XCTAssertEqual(row(2), [0, 0, 7, 8, 1, 0])
    XCTAssertEqual(row(3), [0, 0, 1, 1, 0, 0], "EOS row; the corner stays PAD")
    XCTAssertEqual(c.filter { $0 != 0 }.count, 8)
    // A full 30x30 grid has no EOS border; a 30x1 grid only its EOS column.
    XCTAssertFalse(ARCEncoding.canvas(Grid(rows: 30, columns: 30, cells: [UInt8](repeating: 9, count: 900))).contains(1))
    XCTAssertEqual(ARCEncoding.canvas(Grid(rows: 30, columns: 1, cells: [UInt8](repeating: 0, count: 30))).filter { $0 == 1 }.count, 30)
    // crop inverts the untranslated encoding, for any size.
    var rng = HRMRandom(seed: 3)
    for _ in 0..<50 {
      let (h, w) = (rng.int(1, 30), rng.int(1, 30))
      let grid = Grid(rows: h, columns: w, cells: (0..<h * w).map { _ in UInt8(rng.int(0, 9)) })
      XCTAssertEqual(ARCEncoding.crop(ARCEncoding.canvas(grid)), grid)
    }
    XCTAssertEqual(ARCEncoding.crop([UInt8](repeating: 0, count: 900)).cells.count, 0)
  }

  func testAugmentationsAreInvertibleAndNamed() {
    var rng = HRMRandom(seed: 11)
    let g = Grid(rows: 4, columns: 7, cells: (0..<28).map { _ in UInt8(rng.int(0, 9)) })
    for t in 0..<8 {
      for _ in 0..<5 {
        let aug = ARCAugmentation(transform: t, colourMap: [0] + rng.permutation(9).map { UInt8($0 + 1) })
        let image = aug.apply(g)
        XCTAssertEqual(aug.inverse.apply(image), g, "inverse after forward, t=\(t)")
        XCTAssertEqual(aug.apply(aug.inverse.apply(image)), image, "forward after inverse, t=\(t)")
        XCTAssertEqual(image.cells.filter { $0 == 0 }.count, g.cells.filter { $0 == 0 }.count, "colour 0 fixed")
        let name = aug.puzzleName(task: "abc_def")
        XCTAssertTrue(name.hasPrefix("abc_def_t\(t)_0"))
        XCTAssertEqual(ARCAugmentation.parse(puzzleName: name)?.task, "abc_def")
        XCTAssertEqual(ARCAugmentation.parse(puzzleName: name)?.augmentation, aug)
      }
    }
    XCTAssertEqual(ARCAugmentation.identity.puzzleName(task: "007bbfb7"), "007bbfb7")
    XCTAssertNil(ARCAugmentation.parse(puzzleName: "007bbfb7"))
    XCTAssertEqual(
      ARCAugmentation(transform: 5, colourMap: [0, 3, 1, 8, 2, 7, 4, 9, 5, 6]).puzzleName(task: "007bbfb7"), "007bbfb7_t5_0318274956")
  }

  func testPuzzleHashIsOrderFreeAndDedupCapsSymmetricTasks() {
    let a = ARCPair(input: Grid([[1, 0]]), output: Grid([[0, 1]]))
    let b = ARCPair(input: Grid([[2]]), output: Grid([[2, 2]]))
    XCTAssertEqual(ARCEncoding.puzzleHash([a, b]), ARCEncoding.puzzleHash([b, a]))
    XCTAssertNotEqual(ARCEncoding.puzzleHash([a, b]), ARCEncoding.puzzleHash([a, a]))
    XCTAssertEqual(ARCEncoding.gridHash(Grid([[1]])), SHA256.hexDigest([1, 1, 1]))
    // One colour on a 1x1 grid: only 9 distinct images (colour choice), whatever the transform.
    let task = ARCTask(name: "dot", subset: "training", lists: [("train", [ARCPair(input: Grid([[5]]), output: Grid([[5]]))]), ("test", [])])
    var rng = HRMRandom(seed: 1)
    let augs = ARCDataset.augmentations(of: task, numAug: 50, using: &rng)
    XCTAssertEqual(augs.count, 9, "the original plus the 8 other colours")
    XCTAssertEqual(augs[0], .identity)
  }

  /// 5 real tasks (3 training, 2 evaluation) with 20 augmentations, built, loaded and checked.
  func testSmallRealBuildRoundTrips() throws {
    let source = try requireShared("data/arc/ARC-AGI/data", what: "shared ARC data")
    let tmp = try makeTempDir(self)
    let dirs = (tmp as NSString).appendingPathComponent("src")
    var originals: [String: ARCTask] = [:]
    for (sub, count) in [("training", 3), ("evaluation", 2)] {
      let from = (source as NSString).appendingPathComponent(sub)
      let to = (dirs as NSString).appendingPathComponent(sub)
      try FileManager.default.createDirectory(atPath: to, withIntermediateDirectories: true)
      for file in try FileManager.default.contentsOfDirectory(atPath: from).sorted().prefix(count) {
        try FileManager.default.copyItem(atPath: (from as NSString).appendingPathComponent(file), toPath: (to as NSString).appendingPathComponent(file))
        let t = try ARCTask.read(path: (to as NSString).appendingPathComponent(file), subset: sub)
        originals[t.name] = t
      }
    }
    let out = (tmp as NSString).appendingPathComponent("arc")
    let summary = try ARCDataset.build(datasetDirs: [dirs], outputDir: out, options: ARCBuildOptions(numAug: 20, seed: 42))
    let ds = try PuzzleDataset.load(from: out)  // validates every invariant
    let train = try XCTUnwrap(ds.splits["train"])
    let test = try XCTUnwrap(ds.splits["test"])
    XCTAssertEqual(summary.tasks, 5)
    XCTAssertEqual(train.groupCount, 5)
    XCTAssertEqual(test.groupCount, 2, "only evaluation tasks have test groups")
    XCTAssertEqual(train.puzzleCount, 5 * 21)
    XCTAssertEqual(ds.identifiers.count, 1 + 5 * 21)
    XCTAssertEqual(train.metadata.numPuzzleIdentifiers, test.metadata.numPuzzleIdentifiers)
    XCTAssertEqual(train.metadata.vocabSize, 12)
    XCTAssertEqual(train.metadata.meanPuzzleExamples, Double(train.exampleCount) / Double(train.puzzleCount))
    XCTAssertEqual(Set(ds.identifiers).count, ds.identifiers.count, "identifier names are unique")
    let set = train.sets[0]
    let testSet = test.sets[0]
    // Sorted enumeration: evaluation/ comes before training/; the first group's first puzzle is its original.
    let evalNames = originals.values.filter(\.isEvaluation).map(\.name).sorted()
    XCTAssertEqual(ds.identifiers[Int(set.puzzleIdentifiers[0])], evalNames[0])
    // Train: per puzzle, at least one pair anchored at the top-left (the kept one), and every
    // pair decodes (after undoing the translation and the augmentation) to an original pair.
    var translated = 0
    for p in 0..<set.puzzleCount {
      let name = ds.identifiers[Int(set.puzzleIdentifiers[p])]
      let (task, aug) = ARCAugmentation.parse(puzzleName: name) ?? (name, .identity)
      let original = try XCTUnwrap(originals[task])
      let rows = Int(set.puzzleIndices[p])..<Int(set.puzzleIndices[p + 1])
      XCTAssertEqual(rows.count, original.routed.train.count)
      var anchored = 0
      for (k, e) in rows.enumerated() {
        let input = (0..<900).map { UInt8(set.inputs[e, $0]) }
        let label = (0..<900).map { UInt8(set.labels[e, $0]) }
        if (2...11).contains(input[0]) { anchored += 1 }
        let (i, o) = (untranslate(input), untranslate(label))
        XCTAssertEqual(aug.inverse.apply(ARCEncoding.crop(i)), original.routed.train[k].input, "\(name) pair \(k)")
        XCTAssertEqual(aug.inverse.apply(ARCEncoding.crop(o)), original.routed.train[k].output, "\(name) pair \(k)")
      }
      XCTAssertGreaterThanOrEqual(anchored, 1, name)
      translated += rows.count - anchored
    }
    XCTAssertGreaterThan(translated, set.exampleCount / 4, "most non-kept train pairs move away from the corner")
    // Test: never translated; shares identifiers with train; decodes to test_puzzles.json grids.
    let stored = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/test_puzzles.json"))) as! [String: Any]
    XCTAssertEqual(Set(stored.keys), Set(evalNames))
    let trainIds = Set(set.puzzleIdentifiers)
    for p in 0..<testSet.puzzleCount {
      XCTAssertTrue(trainIds.contains(testSet.puzzleIdentifiers[p]))
      let name = ds.identifiers[Int(testSet.puzzleIdentifiers[p])]
      let (task, aug) = ARCAugmentation.parse(puzzleName: name) ?? (name, .identity)
      let json = try JSONSerialization.data(withJSONObject: stored[task]!)
      let original = try ARCTask.parse([UInt8](json), stem: task, subset: "evaluation", file: "test_puzzles.json")
      for (k, e) in (Int(testSet.puzzleIndices[p])..<Int(testSet.puzzleIndices[p + 1])).enumerated() {
        let input = Grid(rows: 1, columns: 900, cells: (0..<900).map { UInt8(testSet.inputs[e, $0]) })
        XCTAssertEqual(aug.inverse.apply(ARCEncoding.crop(input.cells)), original.test[k].input)
        let label = (0..<900).map { UInt8(testSet.labels[e, $0]) }
        XCTAssertEqual(aug.inverse.apply(ARCEncoding.crop(label)), original.test[k].output)
      }
    }
    // Deterministic: the same seed gives the same bytes; another seed does not.
    let again = (tmp as NSString).appendingPathComponent("again")
    try ARCDataset.build(datasetDirs: [dirs], outputDir: again, options: ARCBuildOptions(numAug: 20, seed: 42))
    XCTAssertEqual(try PuzzleDataset.load(from: again), ds)
    try ARCDataset.build(datasetDirs: [dirs], outputDir: again, options: ARCBuildOptions(numAug: 20, seed: 7))
    XCTAssertNotEqual(try PuzzleDataset.load(from: again).splits["train"], train)
  }

  /// Moves a translated canvas back to the top-left (the grid starts at its first colour row/column).
  func untranslate(_ c: [UInt8]) -> [UInt8] {
    let colour = { (t: UInt8) in (2...11).contains(t) }
    let r0 = (0..<30).first { r in (0..<30).contains { colour(c[r * 30 + $0]) } } ?? 0
    let c0 = (0..<30).first { col in (0..<30).contains { colour(c[$0 * 30 + col]) } } ?? 0
    var out = [UInt8](repeating: 0, count: 900)
    for r in r0..<30 { for k in c0..<30 { out[(r - r0) * 30 + k - c0] = c[r * 30 + k] } }
    return out
  }

  func testBadTaskFileStopsTheBuildAndWritesNothing() throws {
    let tmp = try makeTempDir(self)
    let sub = (tmp as NSString).appendingPathComponent("src/training")
    try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
    try #"{"train": [{"input": [[1]], "output": [[1]]}], "test": [{"input": [[1]], "output": [[1]]}]}"#.write(toFile: sub + "/a.json", atomically: true, encoding: .utf8)
    try #"{"train": [{"input": [[1, 12]], "output": [[1]]}], "test": []}"#.write(toFile: sub + "/b.json", atomically: true, encoding: .utf8)
    let out = (tmp as NSString).appendingPathComponent("out")
    assertHRMError(["b.json", "train pair 1 input row 1 column 2 is 12"]) {
      try ARCDataset.build(datasetDirs: [(tmp as NSString).appendingPathComponent("src")], outputDir: out, options: ARCBuildOptions(numAug: 2))
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    assertHRMError(["missing", "dataset folder not found"]) {
      try ARCDataset.build(datasetDirs: [tmp + "/missing"], outputDir: out, options: ARCBuildOptions(numAug: 2))
    }
    try FileManager.default.removeItem(atPath: sub + "/b.json")
    try ARCDataset.build(datasetDirs: [(tmp as NSString).appendingPathComponent("src")], outputDir: out, options: ARCBuildOptions(numAug: 2))
    XCTAssertEqual(try PuzzleDataset.load(from: out).splits["train"]?.puzzleCount, 3)
    XCTAssertEqual(try PuzzleDataset.load(from: out).splits["test"]?.groupCount, 0, "no evaluation tasks: an empty test split")
  }
}
