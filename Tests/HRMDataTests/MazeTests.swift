// MazeTests.swift: the maze encoding, CSV reader, label checks, dihedral transforms, the
// generator's hardness filter and the maze dataset builder, on the public train split and
// on generated mazes.

import Foundation
import HRMData
import HRMSupport
import TestSupport
import XCTest


final class MazeTests: XCTestCase {
  /// A 4x4 maze: S top-left, G bottom-right, a wall column with a gap at the bottom.
  let smallQuestion = "S#  " + " #  " + " #  " + "   G"
  let smallAnswer = "S#  " + "o#  " + "o#  " + "oooG"

  func grid(_ s: String, _ n: Int) throws -> Grid {
    Grid(rows: n, columns: n, cells: try Maze.tokens(s).get())
  }

  func testTokensAndText() throws {
    XCTAssertEqual(try Maze.tokens("# SGo").get(), [1, 2, 3, 4, 5])
    XCTAssertEqual(Maze.text(try grid(smallAnswer, 4)), smallAnswer)
    XCTAssertThrowsError(try Maze.tokens("# x").get()) { e in
      XCTAssertTrue("\(e)".contains("character 3 is 'x'"), "\(e)")
    }
  }

  func testCheckSolutionAcceptsShortestAndRejectsOthers() throws {
    let q = try grid(smallQuestion, 4)
    XCTAssertEqual(try Maze.checkSolution(question: q, answer: try grid(smallAnswer, 4)).get(), 6)
    // A detour (longer than the shortest path): goes right along the bottom then... not shortest.
    let detourQ = "S   " + "    " + "    " + "   G"
    let detourA = "Sooo" + "   o" + "   o" + "   G"
    XCTAssertEqual(try Maze.checkSolution(question: try grid(detourQ, 4), answer: try grid(detourA, 4)).get(), 6)
    let longer = "Soo " + " oo " + "  oo" + "   G"  // 7 moves? actually a staircase with a bump
    XCTAssertThrowsError(try Maze.checkSolution(question: try grid(detourQ, 4), answer: try grid(longer, 4)).get())
    let broken = "S#  " + "o#  " + " #  " + "oooG"
    XCTAssertThrowsError(try Maze.checkSolution(question: q, answer: try grid(broken, 4)).get()) { e in
      XCTAssertTrue("\(e)".contains("breaks off"), "\(e)")
    }
    let throughWall = "So  " + " #  " + " #  " + "   G"
    XCTAssertThrowsError(try Maze.checkSolution(question: q, answer: try grid(throughWall, 4)).get()) { e in
      XCTAssertTrue("\(e)".contains("became"), "\(e)")
    }
    let stray = "S#  " + "o#o " + "o#  " + "oooG"
    XCTAssertThrowsError(try Maze.checkSolution(question: q, answer: try grid(stray, 4)).get()) { e in
      XCTAssertTrue("\(e)".contains("not on the path"), "\(e)")
    }
  }

  func testAStarFindsShortestPathsAndBreaksTiesByKey() throws {
    var q = try grid("S   " + "    " + "    " + "   G", 4)
    let path = try XCTUnwrap(Maze.aStarPath(in: q, from: 0, to: 15))
    XCTAssertEqual(path.count - 1, 6)
    XCTAssertEqual(Int(Maze.distances(from: 0, in: q)[15]), 6)
    // The tie-break prefers smaller keys (x + 100000·y): the path runs along the top row first.
    XCTAssertEqual(Array(path.prefix(4)), [0, 1, 2, 3])
    q.cells[5] = Maze.wall
    XCTAssertNil(Maze.aStarPath(in: try grid("S#  " + "##  " + "    " + "   G", 4), from: 0, to: 15))
  }

  func testDihedralTransformsAreInvertible() {
    var rng = HRMRandom(seed: 5)
    let a = Grid(rows: 3, columns: 5, cells: (0..<15).map { _ in UInt8(rng.int(0, 9)) })
    var images = Set<Grid>()
    for t in 0..<8 {
      let b = Dihedral.apply(t, to: a)
      XCTAssertEqual(Dihedral.apply(Dihedral.inverse[t], to: b), a, "transform \(t)")
      images.insert(b)
    }
    XCTAssertEqual(images.count, 8, "the eight transforms of an asymmetric grid differ")
    // Spot-check the table: t=1 is a counter-clockwise rotation, o[i][j] = a[j][W-1-i].
    let r = Dihedral.apply(1, to: Grid([[1, 2], [3, 4]]))
    XCTAssertEqual(r.rowList, [[2, 4], [1, 3]])
    XCTAssertEqual(Dihedral.apply(7, to: Grid([[1, 2], [3, 4]])).rowList, [[4, 2], [3, 1]])
  }

  func testPublicTrainSplitPassesTheChecks() throws {
    let path = try requireShared("data/maze/maze-30x30-hard-1k/train.csv", what: "shared maze data")
    let mazes = try MazeCSV.read(path: path)  // read() runs checkSolution on every row
    XCTAssertEqual(mazes.count, 1000)
    var moves: [Int] = []
    for m in mazes.prefix(1000) {
      moves.append(try Maze.checkSolution(question: m.question, answer: m.answer).get())
    }
    XCTAssertEqual(moves.min(), Maze.hardMinMoves)
    XCTAssertEqual(moves.max(), 146)
  }

  func testGeneratorMakesHardVerifiedMazesDeterministically() throws {
    let options = MazeGeneratorOptions(seed: 7)
    let start = Date()
    let mazes = try MazeGenerator.generate(count: 6, options: options)
    let seconds = Date().timeIntervalSince(start)
    print("generated 6 hard mazes in \(String(format: "%.2f", seconds)) s; fingerprint \(SHA256.hexDigest(mazes.flatMap { $0.answer.cells }).prefix(16))")
    XCTAssertEqual(mazes.count, 6)
    for m in mazes {
      let moves = try Maze.checkSolution(question: m.question, answer: m.answer).get()
      XCTAssertGreaterThanOrEqual(moves, Maze.hardMinMoves, "hardness filter")
      XCTAssertEqual(m.rating, moves)
      let walls = m.question.cells.filter { $0 == Maze.wall }.count
      XCTAssertTrue((270...450).contains(walls), "\(walls) walls")
    }
    XCTAssertEqual(Set(mazes.map(\.question)).count, 6)
    XCTAssertEqual(try MazeGenerator.makeMaze(item: 3, options: options), mazes[3], "per-item seeds")
    // A lower threshold is honoured too, and a small grid works.
    let small = try MazeGenerator.generate(count: 3, options: MazeGeneratorOptions(side: 8, minMoves: 12, seed: 1))
    for m in small { XCTAssertGreaterThanOrEqual(try Maze.checkSolution(question: m.question, answer: m.answer).get(), 12) }
    // An impossible threshold fails with a clear error.
    XCTAssertThrowsError(try MazeGenerator.makeMaze(item: 0, options: MazeGeneratorOptions(side: 4, minMoves: 20, maxLayouts: 50)))
  }

  func testReferenceWeightingKeepsLayoutsAsOftenAsHundredDraws() throws {
    // 1 - (1 - q)^100 with q = 2 Q / (F (F - 1)), worked by hand.
    XCTAssertEqual(MazeGenerator.referenceKeepProbability(qualifyingPairs: 0, freeCells: 500), 0)
    XCTAssertEqual(MazeGenerator.referenceKeepProbability(qualifyingPairs: 45, freeCells: 10), 1)   // every pair
    // F = 100, Q = 1: q = 2/9900 = 2.0202e-4; x = -100 ln(1 - q) = 0.0202041, 1 - e^-x = 0.0200013
    XCTAssertEqual(MazeGenerator.referenceKeepProbability(qualifyingPairs: 1, freeCells: 100), 0.0200013, accuracy: 1e-6)
    // Q = 4950 of 4950 unordered pairs with F = 100 again: certain.
    XCTAssertEqual(MazeGenerator.referenceKeepProbability(qualifyingPairs: 4950, freeCells: 100), 1, accuracy: 1e-12)

    // The option changes which layouts are kept, stays deterministic and keeps every check.
    let plain = MazeGeneratorOptions(side: 12, minMoves: 24, seed: 3)
    var weighted = plain
    weighted.referenceWeighting = true
    let a = try MazeGenerator.generate(count: 8, options: weighted)
    XCTAssertEqual(try MazeGenerator.generate(count: 8, options: weighted), a, "same seed, same mazes")
    XCTAssertNotEqual(try MazeGenerator.generate(count: 8, options: plain).map(\.question), a.map(\.question))
    for m in a { XCTAssertGreaterThanOrEqual(try Maze.checkSolution(question: m.question, answer: m.answer).get(), 24) }
  }

  func testCSVErrorsNameFileAndLine() throws {
    let q = String(repeating: " ", count: 8) + "S" + String(repeating: " ", count: 6) + "G"  // 4x4
    let a = String(repeating: " ", count: 8) + "Sooo" + "   G"
    XCTAssertEqual(a.count, 16)
    let header = "source,question,answer,rating\n"
    XCTAssertEqual(try MazeCSV.parse(header + ",\(q),\(a),7\n", file: "m.csv").first?.rating, 7)
    let cases: [(String, [String])] = [
      (",\(q),\(a)\n", ["m.csv:2:", "4 comma-separated columns"]),
      (",\(q),\(a),\n,\(q.dropLast()),\(a),\n", ["m.csv:3:", "question has 15 characters, expected 16"]),
      (",\(q),\(a.replacingOccurrences(of: "G", with: "x")),\n", ["m.csv:2:", "answer character 16 is 'x'"]),
      (",\(q),\(a),abc\n", ["m.csv:2:", "rating 'abc'"]),
      (",\(q),\(q),\n", ["m.csv:2:", "breaks off"]),
    ]
    for (body, parts) in cases { assertHRMError(parts) { _ = try MazeCSV.parse(header + body, file: "m.csv") } }
    // A build from a folder with a bad row writes nothing.
    let tmp = try makeTempDir(self)
    try (header + ",\(q),\(a),\n,\(q),\(a)x,\n").write(toFile: tmp + "/train.csv", atomically: true, encoding: .utf8)
    assertHRMError(["train.csv:3:", "answer has 17 characters"]) { _ = try MazeDataset.readSource(sourceDir: tmp) }
    // CSV text round trip.
    let mazes = try MazeCSV.parse(header + ",\(q),\(a),\n", file: "m.csv")
    XCTAssertEqual(try MazeCSV.parse(MazeCSV.text(for: mazes), file: "again"), mazes)
  }

  func testBuilderAugmentsTrainWithTheEightTransforms() throws {
    let mazes = try MazeGenerator.generate(count: 5, options: MazeGeneratorOptions(side: 7, minMoves: 8, seed: 4))
    let tmp = try makeTempDir(self)
    let ds = try MazeDataset.build(train: mazes, test: Array(mazes.prefix(2)), options: MazeBuildOptions(subsampleSize: 3, augment: true, seed: 1))
    try ds.write(to: tmp + "/maze")
    let loaded = try PuzzleDataset.load(from: tmp + "/maze")
    XCTAssertEqual(loaded, ds)
    let train = try XCTUnwrap(loaded.splits["train"])
    XCTAssertEqual(train.groupCount, 3)
    XCTAssertEqual(train.puzzleCount, 24)
    XCTAssertEqual(train.metadata.vocabSize, 6)
    XCTAssertEqual(train.metadata.seqLen, 49)
    XCTAssertEqual(loaded.splits["test"]?.puzzleCount, 2, "test is not augmented")
    let set = train.sets[0]
    func grid(_ m: TokenMatrix, _ row: Int) -> Grid { Grid(rows: 7, columns: 7, cells: (0..<49).map { UInt8(m[row, $0]) }) }
    for g in 0..<3 {
      let q0 = grid(set.inputs, g * 8)
      let a0 = grid(set.labels, g * 8)
      XCTAssertTrue(mazes.contains { $0.question == q0 && $0.answer == a0 }, "puzzle 0 of a group is the original")
      for t in 0..<8 {
        let (q, a) = (grid(set.inputs, g * 8 + t), grid(set.labels, g * 8 + t))
        XCTAssertEqual(Dihedral.apply(Dihedral.inverse[t], to: q), q0, "inverse of transform \(t) restores the question")
        XCTAssertEqual(Dihedral.apply(t, to: a0), a)
        XCTAssertNoThrow(try Maze.checkSolution(question: q, answer: a).get(), "transformed labels are still shortest paths")
      }
    }
  }
}
