// MazeDataset.swift: assembles mazes into an HRM dataset folder (spec data §3.1-3.2).
//
// train: optionally subsampled; each maze is a group of 1 puzzle, or of 8 puzzles (the
// dihedral transforms 0...7 in order, applied to question and answer alike) with `aug`.
// test: every maze, never augmented. One example per puzzle, identifiers all 0,
// tokens `# SGo` = 1...5, vocab 6, seq_len n² (900), arrays written as |u1.

import Foundation
import HRMSupport

/// Options of the maze dataset build.
public struct MazeBuildOptions: Equatable, Sendable {
  /// Train only: keep a random subset of this many mazes (nil = all).
  public var subsampleSize: Int?
  /// Train only: 8 dihedral copies per maze.
  public var augment: Bool
  /// Seed of the subsample draw.
  public var seed: UInt64

  /// Options; the defaults keep everything and do not augment.
  public init(subsampleSize: Int? = nil, augment: Bool = false, seed: UInt64 = 0) {
    self.subsampleSize = subsampleSize
    self.augment = augment
    self.seed = seed
  }
}

/// Builds maze datasets.
public enum MazeDataset {
  /// RNG stream of the train subsample.
  static let subsampleStream: UInt64 = 1

  /// Reads `<sourceDir>/train.csv` and, when present, `<sourceDir>/test.csv`.
  ///
  /// Returns nil for the test list when `test.csv` does not exist (the caller decides whether
  /// that is an error or generates a test split).
  public static func readSource(sourceDir: String) throws -> (train: [MazePuzzle], test: [MazePuzzle]?) {
    let trainPath = (sourceDir as NSString).appendingPathComponent("train.csv")
    let testPath = (sourceDir as NSString).appendingPathComponent("test.csv")
    let train = try MazeCSV.read(path: trainPath)
    let test = FileManager.default.fileExists(atPath: testPath) ? try MazeCSV.read(path: testPath) : nil
    return (train, test)
  }

  /// Builds the dataset from maze lists; all mazes must have one size.
  public static func build(train: [MazePuzzle], test: [MazePuzzle], options: MazeBuildOptions) throws -> PuzzleDataset {
    if let k = options.subsampleSize, k < 1 { throw HRMError("--subsample-size must be at least 1, is \(k)") }
    guard let first = train.first ?? test.first else { throw HRMError("no mazes to build a dataset from") }
    let side = first.question.rows
    for (name, list) in [("train", train), ("test", test)] {
      if let i = list.firstIndex(where: { $0.question.rows != side || $0.question.columns != side }) {
        throw HRMError("\(name) maze \(i + 1) is \(list[i].question.rows)x\(list[i].question.columns), expected \(side)x\(side)")
      }
    }
    var trainRows = train
    if let k = options.subsampleSize, k < trainRows.count {
      var rng = HRMRandom(seed: options.seed, stream: subsampleStream)
      trainRows = SudokuDataset.choose(k, from: trainRows, using: &rng)
    }
    return PuzzleDataset(
      identifiers: ["<blank>"],
      splits: [
        "train": split(trainRows, transforms: options.augment ? Array(0..<8) : [0], side: side),
        "test": split(test, transforms: [0], side: side),
      ])
  }

  /// One split: a group per maze holding one puzzle per transform.
  static func split(_ mazes: [MazePuzzle], transforms: [Int], side: Int) -> DatasetSplit {
    let seqLen = side * side
    let examples = mazes.count * transforms.count
    var inputs = [UInt8]()
    var labels = [UInt8]()
    inputs.reserveCapacity(examples * seqLen)
    labels.reserveCapacity(examples * seqLen)
    for m in mazes {
      for t in transforms {
        inputs += Dihedral.apply(t, to: m.question).cells
        labels += Dihedral.apply(t, to: m.answer).cells
      }
    }
    let set = PuzzleSet(
      inputs: TokenMatrix(rows: examples, columns: seqLen, uint8: inputs),
      labels: TokenMatrix(rows: examples, columns: seqLen, uint8: labels),
      puzzleIdentifiers: [Int32](repeating: 0, count: examples),
      puzzleIndices: (0...examples).map { Int32($0) },
      groupIndices: (0...mazes.count).map { Int32($0 * transforms.count) })
    let metadata = DatasetMetadata(
      vocabSize: Maze.vocabSize, seqLen: seqLen, numPuzzleIdentifiers: 1, totalGroups: mazes.count, meanPuzzleExamples: 1.0)
    return DatasetSplit(metadata: metadata, sets: [set])
  }
}
