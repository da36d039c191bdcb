// SudokuGenerator.swift: makes unique-solution Sudoku puzzles offline (no downloads).
//
// Per puzzle: a random complete grid (shuffled search of the empty grid), then cells are
// blanked in random order, each kept blank only if the solution stays unique, until the
// target number of blanks is reached or no further cell can go (a minimal puzzle). Without
// a maximum the target is 81 (minimal puzzles); with one it is drawn uniformly from
// [minBlanks, maxBlanks], which makes easy puzzles of varied size for demos. The
// result is rated by SudokuSolver (guesses over the full search tree) and rejected, and a new
// grid tried, when it misses the blank range or the minimum rating.
//
// Deterministic: item i draws only from its own HRMRandom stream, items run in parallel
// with DispatchQueue.concurrentPerform, and results are assembled in item order, so output
// does not depend on thread timing. Exact duplicates are replaced by further items.
// Not done: canonicalisation under the Sudoku symmetry group (spec data §9); random grids
// make equivalent puzzles vanishingly unlikely but not impossible.

import Dispatch
import Foundation
import HRMSupport

/// Options for `SudokuGenerator.generate`.
public struct SudokuGeneratorOptions: Equatable, Sendable {
  /// Keep only puzzles whose rating is at least this (nil = any).
  public var minDifficulty: Int?
  /// Fewest blank cells a puzzle may have.
  public var minBlanks: Int
  /// Most blank cells a puzzle may have; nil = blank as many as uniqueness allows (minimal puzzles).
  public var maxBlanks: Int?
  /// Fresh grids tried per puzzle before giving up with an error.
  public var maxAttempts: Int
  /// Base seed; puzzle i uses its own stream of it.
  public var seed: UInt64

  /// Options; the defaults make minimal puzzles of any difficulty.
  public init(minDifficulty: Int? = nil, minBlanks: Int = 0, maxBlanks: Int? = nil, maxAttempts: Int = 2000, seed: UInt64 = 0) {
    self.minDifficulty = minDifficulty
    self.minBlanks = minBlanks
    self.maxBlanks = maxBlanks
    self.maxAttempts = maxAttempts
    self.seed = seed
  }
}

/// Generates unique-solution Sudoku puzzles.
public enum SudokuGenerator {
  /// Source name written for generated puzzles.
  public static let sourceName = "generated"
  /// Item i draws from stream `streamBase + i`, apart from the dataset builder's small stream numbers.
  static let streamBase: UInt64 = 1 << 40

  /// Makes `count` distinct puzzles satisfying `options`, using every core.
  ///
  /// - Parameter progress: advanced by one per finished puzzle (nil: silent).
  public static func generate(count: Int, options: SudokuGeneratorOptions, progress: ProgressBar? = nil) throws -> [SudokuPuzzle] {
    guard count >= 0 else { throw HRMError("puzzle count must not be negative, is \(count)") }
    let maxBlanks = options.maxBlanks ?? 81
    guard 0 <= options.minBlanks, options.minBlanks <= maxBlanks, maxBlanks <= 81 else {
      throw HRMError("blank range \(options.minBlanks)...\(maxBlanks) must satisfy 0 <= min <= max <= 81")
    }
    var result: [SudokuPuzzle] = []
    var seen = Set<[UInt8]>()
    var next = 0  // next item index
    while result.count < count {
      let need = count - result.count
      let batch = try generateItems(next..<next + need, options: options, progress: progress)
      next += need
      for p in batch where seen.insert(p.question).inserted { result.append(p) }
    }
    return result
  }

  /// Generates items `range` in parallel; element k is item `range.lowerBound + k`.
  static func generateItems(_ range: Range<Int>, options: SudokuGeneratorOptions, progress: ProgressBar?) throws -> [SudokuPuzzle] {
    let n = range.count
    var slots = [Result<SudokuPuzzle, HRMError>?](repeating: nil, count: n)
    let lock = NSLock()
    slots.withUnsafeMutableBufferPointer { buffer in
      let out = buffer  // each iteration writes only its own slot
      DispatchQueue.concurrentPerform(iterations: n) { k in
        let item = range.lowerBound + k
        let r = Result { try makePuzzle(item: item, options: options) }.mapError { $0 as? HRMError ?? HRMError("\($0)") }
        lock.lock()
        out[k] = r
        lock.unlock()
        progress?.advance()
      }
    }
    return try slots.map { slot in
      guard let slot = slot else { throw HRMError("internal error: a generator item did not run") }
      return try slot.get()
    }
  }

  /// Makes puzzle number `item` (deterministic in `options.seed` and `item`).
  public static func makePuzzle(item: Int, options: SudokuGeneratorOptions) throws -> SudokuPuzzle {
    var rng = HRMRandom(seed: options.seed, stream: streamBase + UInt64(item))
    let solver = SudokuSolver()
    for _ in 0..<max(1, options.maxAttempts) {
      let full = solver.randomCompleteGrid(using: &rng)
      let target = options.maxBlanks.map { rng.int(options.minBlanks, $0) } ?? 81
      var puzzle = full
      var blanks = 0
      for cell in rng.permutation(81) where blanks < target {
        let value = puzzle[cell]
        puzzle[cell] = 0
        if solver.hasSolution(puzzle, avoiding: value, at: cell) {
          puzzle[cell] = value  // blanking it would allow a second solution
        } else {
          blanks += 1
        }
      }
      guard blanks >= options.minBlanks else { continue }
      guard let rating = solver.rating(puzzle) else { continue }  // unreachable: uniqueness kept
      if let min = options.minDifficulty, rating < min { continue }
      return SudokuPuzzle(source: sourceName, question: puzzle, answer: full, rating: rating)
    }
    var wanted = options.maxBlanks.map { "\(options.minBlanks)...\($0) blanks" } ?? "at least \(options.minBlanks) blanks"
    if let min = options.minDifficulty { wanted += " and rating >= \(min)" }
    throw HRMError(
      "could not generate a puzzle with \(wanted) in \(options.maxAttempts) attempts (item \(item)); "
        + "lower --min-difficulty or --min-blanks")
  }
}
