// SudokuTests.swift: CSV reading, solver, augmentation, generator and the dataset builder.

import Foundation
import HRMSupport
import TestSupport
import XCTest

@testable import HRMData

/// The shared norvig_top95.csv.
private let top95Path = "data/sudoku/norvig_top95.csv"

/// Its 95 puzzles (read once; nil when the shared data is absent).
private let top95Cache: [SudokuPuzzle]? = { try? SudokuCSV.read(path: sharedPath(top95Path)) }()

/// The shared top-95 puzzles, or a skip (with the path) where ../shared/data is not checked out.
private func sharedTop95() throws -> [SudokuPuzzle] {
  _ = try requireShared(top95Path, what: "shared Sudoku data")
  guard let puzzles = top95Cache else { throw HRMError(file: sharedPath(top95Path), "could not be read") }
  return puzzles
}

final class SudokuCSVTests: XCTestCase {
  private let q = "4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......"
  private let a = "417369825632158947958724316825437169791586432346912758289643571573291684164875293"

  func testReadsSharedCSV() throws {
    let top95 = try sharedTop95()
    XCTAssertEqual(top95.count, 95)
    let first = try XCTUnwrap(top95.first)
    XCTAssertEqual(first.source, "norvig_top95")
    XCTAssertEqual(Sudoku.format(first.question), q)
    XCTAssertEqual(Sudoku.format(first.answer), a)
    XCTAssertEqual(first.rating, 100)
    XCTAssertEqual(first.blanks, 64)
  }

  func testParsesCRLFZeroBlanksAndSkipsBlankLines() throws {
    let text = "h1,h2,h3,h4\r\nx,\(q.replacingOccurrences(of: ".", with: "0")),\(a),7\r\n\r\ny,\(q),\(a), 3\r\n"
    let rows = try SudokuCSV.parse(text, file: "t.csv")
    XCTAssertEqual(rows.map(\.source), ["x", "y"])
    XCTAssertEqual(rows.map(\.rating), [7, 3])
    XCTAssertEqual(rows[0].question, rows[1].question)
    XCTAssertEqual(try SudokuCSV.parse(SudokuCSV.text(for: rows), file: "again"), rows)
  }

  func testMalformedLinesNameFileAndLine() {
    let good = "s,\(q),\(a),1\n"
    func check(_ bad: String, _ parts: [String], line: UInt = #line) {
      assertHRMError(["my.csv:3: "] + parts, line: line) {
        _ = try SudokuCSV.parse("source,question,answer,rating\n" + good + bad + "\n" + good, file: "my.csv")
      }
    }
    check("s,\(q),\(a)", ["expected 4 comma-separated columns", "found 3"])
    check("s,\(q.dropLast()),\(a),1", ["question must have 81 characters, has 80"])
    check("s,\(q.replacingOccurrences(of: "4.", with: "x.")),\(a),1", ["question character 1 is 'x'"])
    check("s,\(q),\(a.replacingOccurrences(of: "417", with: "4.7")),1", ["answer character 2 is '.'"])
    check("s,\(q),\(a),hard", ["rating 'hard' is not an integer"])
    check("s,\(q),\(String(a.reversed().dropFirst()) + "1"),1", ["answer is not a valid Sudoku solution"])
    // A valid solution that contradicts the first clue (relabel digits 4 <-> 1).
    let swapped = String(a.map { $0 == "4" ? "1" : $0 == "1" ? "4" : $0 })
    check("s,\(q),\(swapped),1", ["disagrees with the question's clue at row 1, column 1"])
    assertHRMError(["/no/such/train.csv", "not found"]) { _ = try SudokuCSV.read(path: "/no/such/train.csv") }
  }
}

final class SudokuSolverTests: XCTestCase {
  /// Solutions and ratings agree with the CSV, whose rating column was made with the same rule.
  func testSolvesTop95UniquelyWithTheRecordedRatings() throws {
    let top95 = try sharedTop95()
    let solver = SudokuSolver()
    var sameRating = 0
    for p in top95 {
      let r = solver.solve(p.question)
      XCTAssertEqual(r.solutionCount, 1)
      XCTAssertEqual(r.solution, p.answer)
      if r.guesses == p.rating { sameRating += 1 }
    }
    XCTAssertEqual(sameRating, top95.count, "ratings follow shared/data/sudoku/README.md's rule")
  }

  func testCountsMultipleAndZeroSolutions() throws {
    let top95 = try sharedTop95()
    let solver = SudokuSolver()
    let p = try XCTUnwrap(top95.first)
    // The empty grid has many solutions; the search stops at the limit.
    XCTAssertEqual(solver.solve([UInt8](repeating: 0, count: 81)).solutionCount, 2)
    XCTAssertEqual(solver.solve([UInt8](repeating: 0, count: 81), limit: 5).solutionCount, 5)
    // Two equal givens in a row: no solution.
    var bad = p.question
    bad[1] = bad[0]
    XCTAssertFalse(Sudoku.givensAreConsistent(bad))
    XCTAssertEqual(solver.solve(bad).solutionCount, 0)
    // A unique puzzle has no solution avoiding its solution's value at a blank cell.
    let blank = try XCTUnwrap(p.question.firstIndex(of: 0))
    XCTAssertFalse(solver.hasSolution(p.question, avoiding: p.answer[blank], at: blank))
    XCTAssertTrue(solver.hasSolution(p.question, avoiding: p.answer[blank] % 9 + 1, at: blank))
    // A solved grid with an "unavoidable rectangle" blanked has exactly two solutions.
    let grid = p.answer
    var found = false
    search: for r1 in 0..<9 {
      for r2 in (r1 + 1)..<9 where r1 / 3 == r2 / 3 {
        for c1 in 0..<9 {
          for c2 in (c1 + 1)..<9 where grid[r1 * 9 + c1] == grid[r2 * 9 + c2] && grid[r1 * 9 + c2] == grid[r2 * 9 + c1] {
            var holes = grid
            for cell in [r1 * 9 + c1, r1 * 9 + c2, r2 * 9 + c1, r2 * 9 + c2] { holes[cell] = 0 }
            XCTAssertEqual(solver.solve(holes, limit: 10).solutionCount, 2)
            XCTAssertNil(solver.rating(holes))
            XCTAssertTrue(solver.hasSolution(holes, avoiding: grid[r1 * 9 + c1], at: r1 * 9 + c1))
            found = true
            break search
          }
        }
      }
    }
    XCTAssertTrue(found, "the first top95 solution has an unavoidable rectangle")
  }

  func testRandomCompleteGridsAreValidAndSeedDependent() {
    let solver = SudokuSolver()
    var rng = HRMRandom(seed: 4)
    let a = solver.randomCompleteGrid(using: &rng)
    let b = solver.randomCompleteGrid(using: &rng)
    XCTAssertTrue(Sudoku.isSolved(a))
    XCTAssertTrue(Sudoku.isSolved(b))
    XCTAssertNotEqual(a, b)
    var again = HRMRandom(seed: 4)
    XCTAssertEqual(solver.randomCompleteGrid(using: &again), a)
  }
}

final class SudokuTransformTests: XCTestCase {
  /// Checks that `t` maps the puzzle to a valid, consistent puzzle with a unique, mapped solution.
  private func assertPreservesValidity(_ t: SudokuTransform, _ p: SudokuPuzzle, _ solver: SudokuSolver, line: UInt = #line) {
    let q = t.apply(p.question)
    let a = t.apply(p.answer)
    XCTAssertTrue(Sudoku.isSolved(a), "solution stays valid", line: line)
    XCTAssertTrue(Sudoku.givensAreConsistent(q), line: line)
    XCTAssertNil(Sudoku.firstDisagreement(question: q, answer: a), "givens agree with the solution", line: line)
    XCTAssertEqual(q.filter { $0 == 0 }.count, p.blanks, "blanks stay blanks", line: line)
    let r = solver.solve(q)
    XCTAssertEqual(r.solutionCount, 1, "uniqueness kept", line: line)
    XCTAssertEqual(r.solution, a, line: line)
  }

  func testEachComponentAndRandomTransformsPreserveValidity() throws {
    let top95 = try sharedTop95()
    let solver = SudokuSolver()
    let p = try XCTUnwrap(top95.dropFirst(7).first)
    let id = SudokuTransform.identity
    XCTAssertEqual(id.apply(p.answer), p.answer)
    var digits = id
    digits.digitMap = [0, 5, 3, 9, 1, 2, 8, 4, 7, 6]
    var transpose = id
    transpose.transpose = true
    var rows = id
    rows.rowPerm = [6, 8, 7, 0, 1, 2, 4, 3, 5]
    var cols = id
    cols.colPerm = [1, 0, 2, 8, 6, 7, 3, 5, 4]
    for t in [digits, transpose, rows, cols] {
      XCTAssertNotEqual(t.apply(p.answer), p.answer)
      assertPreservesValidity(t, p, solver)
    }
    // Transposition really transposes; the row permutation really moves rows.
    XCTAssertEqual(transpose.apply(p.answer)[1], p.answer[9])
    XCTAssertEqual(Array(rows.apply(p.answer)[0..<9]), Array(p.answer[54..<63]))
    var rng = HRMRandom(seed: 77)
    for p in top95.prefix(10) {
      let t = SudokuTransform.random(using: &rng)
      XCTAssertTrue(SudokuTransform.isBandPermutation(t.rowPerm) && SudokuTransform.isBandPermutation(t.colPerm))
      assertPreservesValidity(t, p, solver)
    }
  }

  func testInverseUndoesTheTransform() throws {
    let top95 = try sharedTop95()
    var rng = HRMRandom(seed: 3)
    var sawTranspose = [false, false]
    for p in top95.prefix(20) {
      let t = SudokuTransform.random(using: &rng)
      sawTranspose[t.transpose ? 1 : 0] = true
      XCTAssertEqual(t.inverse.apply(t.apply(p.question)), p.question)
      XCTAssertEqual(t.apply(t.inverse.apply(p.answer)), p.answer)
    }
    XCTAssertEqual(sawTranspose, [true, true], "both transpose branches exercised")
  }

  func testRandomTransformsAreSeeded() {
    var a = HRMRandom(seed: 12)
    var b = HRMRandom(seed: 12)
    let ta = (0..<5).map { _ in SudokuTransform.random(using: &a) }
    XCTAssertEqual(ta, (0..<5).map { _ in SudokuTransform.random(using: &b) })
    XCTAssertEqual(Set(ta.map(\.digitMap)).count, 5)
  }
}

final class SudokuGeneratorTests: XCTestCase {
  func testGeneratedPuzzlesAreUniqueRatedAndDeterministic() throws {
    let options = SudokuGeneratorOptions(seed: 42)
    let puzzles = try SudokuGenerator.generate(count: 6, options: options)
    XCTAssertEqual(puzzles.count, 6)
    XCTAssertEqual(Set(puzzles.map(\.question)).count, 6)
    let solver = SudokuSolver()
    for p in puzzles {
      XCTAssertTrue(Sudoku.isSolved(p.answer))
      let r = solver.solve(p.question)
      XCTAssertEqual(r.solutionCount, 1)
      XCTAssertEqual(r.solution, p.answer)
      XCTAssertEqual(r.guesses, p.rating)
      // Minimal: putting back nothing, every remaining clue is needed.
      let clue = try XCTUnwrap((0..<81).first { p.question[$0] != 0 })
      var fewer = p.question
      fewer[clue] = 0
      XCTAssertEqual(solver.solve(fewer).solutionCount, 2, "default puzzles are minimal")
    }
    XCTAssertEqual(try SudokuGenerator.generate(count: 6, options: options), puzzles)
    XCTAssertNotEqual(try SudokuGenerator.generate(count: 6, options: SudokuGeneratorOptions(seed: 43)), puzzles)
    // Item i does not depend on how many items are generated.
    XCTAssertEqual(try SudokuGenerator.generate(count: 3, options: options), Array(puzzles.prefix(3)))
  }

  func testMinDifficultyAndBlankRange() throws {
    let hard = try SudokuGenerator.generate(count: 3, options: SudokuGeneratorOptions(minDifficulty: 4, seed: 1))
    XCTAssertTrue(hard.allSatisfy { $0.rating >= 4 }, "\(hard.map(\.rating))")
    let easy = try SudokuGenerator.generate(count: 5, options: SudokuGeneratorOptions(minBlanks: 5, maxBlanks: 12, seed: 1))
    XCTAssertTrue(easy.allSatisfy { (5...12).contains($0.blanks) }, "\(easy.map(\.blanks))")
    XCTAssertTrue(easy.allSatisfy { $0.rating == 0 }, "so few blanks need no guessing")
    assertHRMError(["could not generate", "at least 70 blanks", "--min-blanks"]) {
      _ = try SudokuGenerator.generate(count: 1, options: SudokuGeneratorOptions(minBlanks: 70, maxAttempts: 2, seed: 1))
    }
    assertHRMError(["blank range"]) { _ = try SudokuGenerator.generate(count: 1, options: SudokuGeneratorOptions(minBlanks: 9, maxBlanks: 8)) }
  }
}

final class SudokuDatasetTests: XCTestCase {
  /// A folder holding norvig_top95.csv as both train.csv and test.csv.
  private func sourceDir() throws -> String {
    _ = try sharedTop95()   // skips where the shared data is absent
    let dir = try makeTempDir(self)
    let csv = sharedPath(top95Path)
    for name in ["train.csv", "test.csv"] {
      try FileManager.default.copyItem(atPath: csv, toPath: (dir as NSString).appendingPathComponent(name))
    }
    return dir
  }

  func testBuildFromTop95HasTheRightCountsAndLayout() throws {
    let top95 = try sharedTop95()
    let src = try sourceDir()
    let options = SudokuBuildOptions(subsampleSize: 30, numAug: 2, seed: 5)
    let ds = try SudokuDataset.build(sourceDir: src, options: options)
    let train = try XCTUnwrap(ds.splits["train"])
    let test = try XCTUnwrap(ds.splits["test"])
    XCTAssertEqual(ds.identifiers, ["<blank>"])
    XCTAssertEqual([train.groupCount, train.puzzleCount, train.exampleCount], [30, 90, 90])
    XCTAssertEqual([test.groupCount, test.puzzleCount, test.exampleCount], [95, 95, 95])
    XCTAssertEqual(train.metadata.jsonText(), DatasetMetadata(vocabSize: 11, seqLen: 81, numPuzzleIdentifiers: 1, totalGroups: 30, meanPuzzleExamples: 1).jsonText())
    let set = train.sets[0]
    XCTAssertEqual(set.groupIndices, (0...30).map { Int32($0 * 3) })
    XCTAssertEqual(set.puzzleIndices, (0...90).map { Int32($0) })
    XCTAssertTrue(set.puzzleIdentifiers.allSatisfy { $0 == 0 })
    // Subsampled rows are distinct originals; each group starts with its original, followed by valid copies.
    let originals = Dictionary(uniqueKeysWithValues: top95.map { ($0.question.map { $0 + 1 }, $0) })
    var used = Set<[UInt8]>()
    for g in 0..<30 {
      let row = (0..<81).map { UInt8(set.inputs[g * 3, $0]) }
      let original = try XCTUnwrap(originals[row], "group \(g) starts with an original")
      XCTAssertEqual((0..<81).map { UInt8(set.labels[g * 3, $0]) }, original.answer.map { $0 + 1 })
      used.insert(row)
      for k in 1...2 {
        let q = (0..<81).map { UInt8(set.inputs[g * 3 + k, $0]) - 1 }
        let a = (0..<81).map { UInt8(set.labels[g * 3 + k, $0]) - 1 }
        XCTAssertTrue(Sudoku.isSolved(a))
        XCTAssertNil(Sudoku.firstDisagreement(question: q, answer: a))
        XCTAssertEqual(q.filter { $0 == 0 }.count, original.blanks)
      }
    }
    XCTAssertEqual(used.count, 30)
    // Test split = the whole CSV in order; deterministic for a seed.
    XCTAssertEqual((0..<81).map { UInt8(test.sets[0].inputs[94, $0]) }, top95[94].question.map { $0 + 1 })
    XCTAssertEqual(try SudokuDataset.build(sourceDir: src, options: options), ds)
    XCTAssertNotEqual(try SudokuDataset.build(sourceDir: src, options: SudokuBuildOptions(subsampleSize: 30, numAug: 2, seed: 6)), ds)

    // Written to disk: |u1 tokens, loads back identically.
    let out = (try makeTempDir(self) as NSString).appendingPathComponent("sudoku")
    try ds.write(to: out)
    XCTAssertEqual(try NPY.read(path: out + "/train/all__inputs.npy").dtype, .uint8)
    XCTAssertEqual(try PuzzleDataset.load(from: out), ds)
  }

  func testMinDifficultyFiltersBothSplitsAndSubsampleOnlyTrain() throws {
    let top95 = try sharedTop95()
    let src = try sourceDir()
    let expected = top95.filter { $0.rating >= 100 }.count
    XCTAssertGreaterThan(expected, 10)
    XCTAssertLessThan(expected, 95)
    let ds = try SudokuDataset.build(sourceDir: src, options: SudokuBuildOptions(subsampleSize: 10, minDifficulty: 100))
    XCTAssertEqual(ds.splits["train"]?.groupCount, 10)
    XCTAssertEqual(ds.splits["test"]?.groupCount, expected)
    let all = try SudokuDataset.build(sourceDir: src, options: SudokuBuildOptions(subsampleSize: 1000))
    XCTAssertEqual(all.splits["train"]?.groupCount, 95, "subsample larger than the data keeps everything")
    assertHRMError(["--num-aug"]) { _ = try SudokuDataset.build(sourceDir: src, options: SudokuBuildOptions(numAug: -1)) }
  }
}
