// DatasetCommand.swift: `hrm dataset ...`, the dataset builders.
//
// `hrm dataset sudoku` builds a Sudoku dataset folder either from sudoku-extreme style CSVs
// (`--source-dir` with train.csv and test.csv) or from freshly generated puzzles
// (`--generate N`). The heavy lifting lives in HRMData; this file only parses options,
// shows progress and prints a summary.

import ArgumentParser
import Dispatch
import Foundation
import HRMData
import HRMSupport

/// `hrm dataset`: groups the dataset builders.
public struct DatasetCommand: ParsableCommand {
  /// Command name, help text and subcommands.
  public static let configuration = CommandConfiguration(
    commandName: "dataset",
    abstract: "Build puzzle datasets in the HRM on-disk format (train/ and test/ with .npy arrays).",
    subcommands: [SudokuDatasetCommand.self, MazeDatasetCommand.self, ARCDatasetCommand.self])

  /// Creates the command (ArgumentParser fills it in).
  public init() {}
}

/// `hrm dataset sudoku`: builds a Sudoku dataset from CSVs or from generated puzzles.
public struct SudokuDatasetCommand: ParsableCommand {
  /// Command name and help text.
  public static let configuration = CommandConfiguration(
    commandName: "sudoku",
    abstract: "Build a Sudoku dataset (seq_len 81, vocab 11) from CSV files or generated puzzles.",
    discussion: """
      Exactly one source:
        --source-dir DIR  DIR/train.csv and DIR/test.csv with the columns
                          source,question,answer,rating ('.' = blank), the
                          layout of sapientinc/sudoku-extreme.
        --generate N      N new unique-solution train puzzles plus
                          --test-size test puzzles, rated by the number of
                          guesses our solver needs.

      Train rows become groups: the original plus --num-aug shuffled copies.
      Test rows are never augmented. The same --seed gives the same dataset.

      Examples:
        hrm dataset sudoku --source-dir csv --output-dir data/sudoku-1k \\
          --subsample-size 1000 --num-aug 1000
        hrm dataset sudoku --generate 1000 --test-size 200 --num-aug 100 \\
          --output-dir data/sudoku-gen
        hrm dataset sudoku --generate 200 --min-blanks 5 --max-blanks 15 \\
          --output-dir data/sudoku-easy
      """)

  @Option(name: .customLong("source-dir"), help: ArgumentHelp("Folder with train.csv and test.csv.", valueName: "dir"))
  var sourceDir: String?

  @Option(help: ArgumentHelp("Generate this many train puzzles instead of reading CSVs.", valueName: "n"))
  var generate: Int?

  @Option(name: .customLong("output-dir"), help: ArgumentHelp("Dataset folder to write (replaced if it exists).", valueName: "dir"))
  var outputDir: String

  @Option(name: .customLong("subsample-size"), help: ArgumentHelp("Keep a random subset of this many train rows (CSV only).", valueName: "n"))
  var subsampleSize: Int?

  @Option(name: .customLong("num-aug"), help: ArgumentHelp("Shuffled copies per train puzzle.", valueName: "n"))
  var numAug: Int = 0

  @Option(
    name: .customLong("min-difficulty"),
    help: ArgumentHelp("Keep puzzles with rating >= this (CSV: both splits; generated: every puzzle).", valueName: "r"))
  var minDifficulty: Int?

  @Option(name: .customLong("test-size"), help: ArgumentHelp("Generated test puzzles (default: same as --generate).", valueName: "m"))
  var testSize: Int?

  @Option(name: .customLong("min-blanks"), help: ArgumentHelp("Generated puzzles have at least this many blanks.", valueName: "a"))
  var minBlanks: Int?

  @Option(
    name: .customLong("max-blanks"),
    help: ArgumentHelp("Generated puzzles have at most this many blanks (default: as many as uniqueness allows).", valueName: "b"))
  var maxBlanks: Int?

  @Option(help: ArgumentHelp("Seed of every random draw (subsample, augmentation, generation).", valueName: "s"))
  var seed: UInt64 = 0

  /// Creates the command (ArgumentParser fills it in).
  public init() {}

  /// Checks option combinations before anything runs.
  public func validate() throws {
    try requireOneSource(sourceDir, generate)
    switch (sourceDir, generate) {
    case (nil, nil), (.some, .some): break
    case (.some, nil):
      for (name, value) in [("--test-size", testSize), ("--min-blanks", minBlanks), ("--max-blanks", maxBlanks)] where value != nil {
        throw ValidationError("\(name) only applies to --generate")
      }
    case (nil, .some(let n)):
      guard n >= 1 else { throw ValidationError("--generate must be at least 1, is \(n)") }
      if subsampleSize != nil { throw ValidationError("--subsample-size only applies to --source-dir") }
      if let m = testSize, m < 1 { throw ValidationError("--test-size must be at least 1, is \(m)") }
      let lo = minBlanks ?? 0
      let hi = maxBlanks ?? 81
      guard (0...81).contains(lo), (0...81).contains(hi), lo <= hi else {
        throw ValidationError("blank range \(lo)...\(hi) must satisfy 0 <= --min-blanks <= --max-blanks <= 81")
      }
    }
    if let k = subsampleSize, k < 1 { throw ValidationError("--subsample-size must be at least 1, is \(k)") }
    guard numAug >= 0 else { throw ValidationError("--num-aug must not be negative, is \(numAug)") }
  }

  /// Builds and writes the dataset, then prints a summary.
  public func run() throws {
    do {
      let start = DispatchTime.now().uptimeNanoseconds
      let dataset: PuzzleDataset
      if let n = generate {
        let m = testSize ?? n
        let options = SudokuGeneratorOptions(
          minDifficulty: minDifficulty, minBlanks: minBlanks ?? 0, maxBlanks: maxBlanks, seed: seed)
        let bar = ProgressBar(total: n + m, label: "generate")
        let puzzles = try SudokuGenerator.generate(count: n + m, options: options, progress: bar)
        bar.finish()
        dataset = try SudokuDataset.build(
          train: Array(puzzles.prefix(n)), test: Array(puzzles.dropFirst(n)),
          options: SudokuBuildOptions(numAug: numAug, seed: seed), progress: true)
      } else if let dir = sourceDir {
        dataset = try SudokuDataset.build(
          sourceDir: dir,
          options: SudokuBuildOptions(subsampleSize: subsampleSize, numAug: numAug, minDifficulty: minDifficulty, seed: seed),
          progress: true)
      } else {
        throw HRMError("give exactly one of --source-dir and --generate")  // validate() prevents this
      }
      try dataset.write(to: outputDir)
      printDatasetSummary(dataset, outputDir: outputDir, since: start)
    }
  }
}

/// Dataset builders read either `--source-dir` or `--generate`, never both or neither.
func requireOneSource(_ sourceDir: String?, _ generate: Int?) throws {
  switch (sourceDir, generate) {
  case (nil, nil): throw ValidationError("give exactly one of --source-dir and --generate")
  case (.some, .some): throw ValidationError("--source-dir and --generate cannot be combined; give exactly one")
  default: break
  }
}

/// The closing lines of a dataset build: where, how long, and the size of each split.
func printDatasetSummary(_ dataset: PuzzleDataset, outputDir: String, since start: UInt64) {
  let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
  print("wrote \(outputDir) in \(String(format: "%.1f", seconds)) s")
  for name in PuzzleDataset.splitNames {
    guard let split = dataset.splits[name] else { continue }
    print("  \(name): \(split.groupCount) groups, \(split.puzzleCount) puzzles, \(split.exampleCount) examples")
  }
}
