// MazeDatasetCommand.swift: `hrm dataset maze`, the Maze-Hard dataset builder and generator.
//
// Reads maze-30x30-hard-1k style CSVs (`--source-dir`) or generates hard mazes offline
// (`--generate N`); the work lives in HRMData (MazeCSV, MazeGenerator, MazeDataset).

import ArgumentParser
import Dispatch
import Foundation
import HRMData
import HRMSupport

/// `hrm dataset maze`: builds a maze dataset from CSVs or from generated mazes.
public struct MazeDatasetCommand: ParsableCommand {
  /// Command name and help text.
  public static let configuration = CommandConfiguration(
    commandName: "maze",
    abstract: "Build a maze dataset (30x30, seq_len 900, vocab 6) from CSV files or generated mazes.",
    discussion: """
      Exactly one source:
        --source-dir DIR  DIR/train.csv and DIR/test.csv with the columns
                          source,question,answer,rating, grids as 900
                          characters of '# SGo' (the sapientinc/maze-30x30-
                          hard-1k layout). Every answer must be a shortest
                          path. Without DIR/test.csv pass
                          --test-from-generator M to generate the test split.
        --generate N      N new train mazes plus --test-size test mazes:
                          random 30-50 % wall layouts, start and goal at least
                          --min-moves moves apart (default 109, the public
                          data's minimum), labelled with the A* shortest path.

      --reference-weighting favours layouts with many long pairs as the
      reference's procedure does (mean path 112.9 instead of 110.7 moves).
      --aug turns each train maze into 8 puzzles (the dihedral transforms).
      The same --seed gives the same dataset.

      Examples:
        hrm dataset maze --source-dir maze-30x30-hard-1k --output-dir data/maze-30x30-hard-1k
        hrm dataset maze --generate 1000 --test-size 1000 --output-dir data/maze-gen \\
          --save-csv data/maze-gen-csv
      """)

  @Option(name: .customLong("source-dir"), help: ArgumentHelp("Folder with train.csv (and test.csv).", valueName: "dir"))
  var sourceDir: String?

  @Option(help: ArgumentHelp("Generate this many train mazes instead of reading CSVs.", valueName: "n"))
  var generate: Int?

  @Option(name: .customLong("output-dir"), help: ArgumentHelp("Dataset folder to write (replaced if it exists).", valueName: "dir"))
  var outputDir: String

  @Option(name: .customLong("subsample-size"), help: ArgumentHelp("Keep a random subset of this many train mazes (CSV only).", valueName: "n"))
  var subsampleSize: Int?

  @Flag(help: "Eight dihedral copies of every train maze (one group each).")
  var aug = false

  @Option(name: .customLong("test-size"), help: ArgumentHelp("Generated test mazes (default: same as --generate).", valueName: "m"))
  var testSize: Int?

  @Option(
    name: .customLong("test-from-generator"),
    help: ArgumentHelp("With --source-dir: generate M test mazes when DIR/test.csv is absent.", valueName: "m"))
  var testFromGenerator: Int?

  @Option(name: .customLong("min-moves"), help: ArgumentHelp("Generated mazes: fewest moves on the shortest path.", valueName: "k"))
  var minMoves: Int = Maze.hardMinMoves

  @Flag(
    name: .customLong("reference-weighting"),
    help: "Generated mazes: keep each wall layout with the chance the reference's 100 random start/goal draws would succeed (longer paths on average, about 6x slower; docs/datasets.md).")
  var referenceWeighting = false

  @Option(
    name: .customLong("save-csv"),
    help: ArgumentHelp("Also write the train and test mazes as DIR/train.csv and DIR/test.csv (same layout as --source-dir).", valueName: "dir"))
  var saveCSV: String?

  @Option(help: ArgumentHelp("Seed of every random draw (subsample, generation).", valueName: "s"))
  var seed: UInt64 = 0

  /// Creates the command (ArgumentParser fills it in).
  public init() {}

  /// Checks option combinations before anything runs.
  public func validate() throws {
    try requireOneSource(sourceDir, generate)
    switch (sourceDir, generate) {
    case (nil, nil), (.some, .some): break
    case (.some, nil):
      if testSize != nil { throw ValidationError("--test-size only applies to --generate (use --test-from-generator)") }
      if referenceWeighting && testFromGenerator == nil {
        throw ValidationError("--reference-weighting only applies to generated mazes (--generate or --test-from-generator)")
      }
      if let m = testFromGenerator, m < 1 { throw ValidationError("--test-from-generator must be at least 1, is \(m)") }
    case (nil, .some(let n)):
      guard n >= 1 else { throw ValidationError("--generate must be at least 1, is \(n)") }
      if subsampleSize != nil { throw ValidationError("--subsample-size only applies to --source-dir") }
      if testFromGenerator != nil { throw ValidationError("--test-from-generator only applies to --source-dir") }
      if let m = testSize, m < 1 { throw ValidationError("--test-size must be at least 1, is \(m)") }
    }
    if let k = subsampleSize, k < 1 { throw ValidationError("--subsample-size must be at least 1, is \(k)") }
    guard minMoves >= 1 else { throw ValidationError("--min-moves must be at least 1, is \(minMoves)") }
  }

  /// Builds and writes the dataset, then prints a summary.
  public func run() throws {
    let start = DispatchTime.now().uptimeNanoseconds
    let options = MazeGeneratorOptions(minMoves: minMoves, seed: seed, referenceWeighting: referenceWeighting)
    func generated(_ count: Int, firstItem: Int, label: String) throws -> [MazePuzzle] {
      let bar = ProgressBar(total: count, label: label)
      let mazes = try MazeGenerator.generate(count: count, options: options, firstItem: firstItem, progress: bar)
      bar.finish()
      return mazes
    }
    let train: [MazePuzzle]
    let test: [MazePuzzle]
    if let n = generate {
      train = try generated(n, firstItem: 0, label: "generate train")
      // Test items come from a disjoint range of per-item streams, so their layouts are new.
      test = try generated(testSize ?? n, firstItem: 1 << 30, label: "generate test")
    } else if let dir = sourceDir {
      let source = try MazeDataset.readSource(sourceDir: dir)
      train = source.train
      if let t = source.test {
        if testFromGenerator != nil {
          throw HRMError(file: (dir as NSString).appendingPathComponent("test.csv"), "exists; drop --test-from-generator or the file")
        }
        test = t
      } else if let m = testFromGenerator {
        let trainLayouts = Set(train.map(\.question))
        test = try generated(m, firstItem: 1 << 30, label: "generate test").filter { !trainLayouts.contains($0.question) }
      } else {
        throw HRMError(
          file: (dir as NSString).appendingPathComponent("test.csv"),
          "not found; add the test split or pass --test-from-generator M to generate M test mazes")
      }
    } else {
      throw HRMError("give exactly one of --source-dir and --generate")  // validate() prevents this
    }
    let dataset = try MazeDataset.build(
      train: train, test: test, options: MazeBuildOptions(subsampleSize: subsampleSize, augment: aug, seed: seed))
    try dataset.write(to: outputDir)
    if let dir = saveCSV {
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      try AtomicFile.write(text: MazeCSV.text(for: train), to: (dir as NSString).appendingPathComponent("train.csv"))
      try AtomicFile.write(text: MazeCSV.text(for: test), to: (dir as NSString).appendingPathComponent("test.csv"))
      print("wrote \(dir)/train.csv and test.csv")
    }
    printDatasetSummary(dataset, outputDir: outputDir, since: start)
  }
}
