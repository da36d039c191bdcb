// SudokuDataset.swift: assembles Sudoku puzzles into an HRM dataset folder (spec data §2.4-2.6).
//
// train: rows filtered by min_difficulty, optionally subsampled, each a group of the original
// plus `numAug` shuffled copies (one example per puzzle, identifier 0). test: rows filtered by
// min_difficulty, never subsampled or augmented. Tokens = value + 1, vocab 11, seq_len 81.
//
// dtype choice: the reference writes augmented train inputs/labels as <i8 (a numpy promotion
// side effect) and everything else as |u1; we write |u1 everywhere (tokens are 0...10). The
// reader accepts both, so datasets built by either implementation load in both.

import Foundation
import HRMSupport

/// Options of the Sudoku dataset build.
public struct SudokuBuildOptions: Equatable, Sendable {
  /// Train only: keep a random subset of this many rows (nil = all).
  public var subsampleSize: Int?
  /// Train only: shuffled copies per puzzle.
  public var numAug: Int
  /// Keep rows with rating >= this, in both splits (nil = all).
  public var minDifficulty: Int?
  /// Seed of the subsample and augmentation draws.
  public var seed: UInt64

  /// Options; the defaults keep everything and add no augmentation.
  public init(subsampleSize: Int? = nil, numAug: Int = 0, minDifficulty: Int? = nil, seed: UInt64 = 0) {
    self.subsampleSize = subsampleSize
    self.numAug = numAug
    self.minDifficulty = minDifficulty
    self.seed = seed
  }
}

/// Builds Sudoku datasets.
public enum SudokuDataset {
  /// RNG stream of the train subsample.
  static let subsampleStream: UInt64 = 1
  /// RNG stream of the augmentation.
  static let augmentStream: UInt64 = 2

  /// Reads `<sourceDir>/train.csv` and `<sourceDir>/test.csv` and builds the dataset.
  public static func build(sourceDir: String, options: SudokuBuildOptions, progress: Bool = false) throws -> PuzzleDataset {
    let train = try SudokuCSV.read(path: (sourceDir as NSString).appendingPathComponent("train.csv"))
    let test = try SudokuCSV.read(path: (sourceDir as NSString).appendingPathComponent("test.csv"))
    return try build(train: train, test: test, options: options, progress: progress)
  }

  /// Builds the dataset from puzzle lists (filter, subsample and augment per `options`).
  public static func build(
    train: [SudokuPuzzle], test: [SudokuPuzzle], options: SudokuBuildOptions, progress: Bool = false
  ) throws -> PuzzleDataset {
    guard options.numAug >= 0 else { throw HRMError("--num-aug must not be negative, is \(options.numAug)") }
    if let k = options.subsampleSize, k < 1 { throw HRMError("--subsample-size must be at least 1, is \(k)") }
    func keep(_ p: SudokuPuzzle) -> Bool { options.minDifficulty.map { p.rating >= $0 } ?? true }
    var trainRows = train.filter(keep)
    let testRows = test.filter(keep)
    if let k = options.subsampleSize, k < trainRows.count {
      var rng = HRMRandom(seed: options.seed, stream: subsampleStream)
      trainRows = choose(k, from: trainRows, using: &rng)
    }
    var rng = HRMRandom(seed: options.seed, stream: augmentStream)
    return PuzzleDataset(
      identifiers: ["<blank>"],
      splits: [
        "train": split(trainRows, numAug: options.numAug, rng: &rng, progress: progress ? "train" : nil),
        "test": split(testRows, numAug: 0, rng: &rng, progress: progress ? "test" : nil),
      ])
  }

  /// `k` distinct elements chosen uniformly, in the random order drawn (partial Fisher-Yates).
  static func choose<T>(_ k: Int, from items: [T], using rng: inout HRMRandom) -> [T] {
    var idx = Array(items.indices)
    for i in 0..<k {
      idx.swapAt(i, rng.int(i, idx.count - 1))
    }
    return idx.prefix(k).map { items[$0] }
  }

  /// One split: a group per row holding the original and `numAug` shuffled copies.
  static func split(_ rows: [SudokuPuzzle], numAug: Int, rng: inout HRMRandom, progress label: String?) -> DatasetSplit {
    let perGroup = 1 + numAug
    let examples = rows.count * perGroup
    var inputs = [UInt8]()
    var labels = [UInt8]()
    inputs.reserveCapacity(examples * 81)
    labels.reserveCapacity(examples * 81)
    let bar = label.map { ProgressBar(total: rows.count, label: $0) }
    for (g, row) in rows.enumerated() {
      inputs += row.question.map { $0 + 1 }
      labels += row.answer.map { $0 + 1 }
      for _ in 0..<numAug {
        let t = SudokuTransform.random(using: &rng)
        inputs += t.apply(row.question).map { $0 + 1 }
        labels += t.apply(row.answer).map { $0 + 1 }
      }
      if g % 64 == 0 { bar?.update(completed: g) }
    }
    bar?.finish(completed: rows.count)
    let set = PuzzleSet(
      inputs: TokenMatrix(rows: examples, columns: 81, uint8: inputs),
      labels: TokenMatrix(rows: examples, columns: 81, uint8: labels),
      puzzleIdentifiers: [Int32](repeating: 0, count: examples),
      puzzleIndices: (0...examples).map { Int32($0) },
      groupIndices: (0...rows.count).map { Int32($0 * perGroup) })
    let metadata = DatasetMetadata(
      vocabSize: Sudoku.vocabSize, seqLen: Sudoku.seqLen, numPuzzleIdentifiers: 1,
      totalGroups: rows.count, meanPuzzleExamples: 1.0)
    return DatasetSplit(metadata: metadata, sets: [set])
  }
}
