// ARCDatasetCommand.swift: `hrm dataset arc`, the ARC-AGI dataset builder (HRMData.ARCDataset).

import ArgumentParser
import Dispatch
import Foundation
import HRMData
import HRMSupport

/// `hrm dataset arc`: builds an ARC dataset from folders of task JSON files.
public struct ARCDatasetCommand: ParsableCommand {
  /// Command name and help text.
  public static let configuration = CommandConfiguration(
    commandName: "arc",
    abstract: "Build an ARC dataset (30x30 canvas, seq_len 900, vocab 12) from task JSON folders.",
    discussion: """
      Each --dataset-dirs folder holds subfolders of task files
      ({"train": [...], "test": [...]}), as in the public repositories. Queries of
      tasks in a subfolder named 'evaluation' form the test split; everything else
      (their demonstrations included) is train data. Every task becomes a group of
      the original plus up to --num-aug augmented puzzles (dihedral transform and
      colour permutation), deduplicated by puzzle hash. test_puzzles.json keeps the
      original grids of every test task.

      Examples:
        ARC-1:  hrm dataset arc --dataset-dirs ARC-AGI/data ConceptARC/corpus \\
                  --output-dir data/arc-aug-1000
        ARC-2:  hrm dataset arc --dataset-dirs ARC-AGI-2/data --output-dir data/arc-2-aug-1000
      """)

  @Option(
    name: .customLong("dataset-dirs"), parsing: .upToNextOption,
    help: ArgumentHelp("Folders whose subfolders hold task JSON files.", valueName: "dir"))
  var datasetDirs: [String]

  @Option(name: .customLong("output-dir"), help: ArgumentHelp("Dataset folder to write (replaced if it exists).", valueName: "dir"))
  var outputDir: String

  @Option(name: .customLong("num-aug"), help: ArgumentHelp("Augmented puzzles per task.", valueName: "n"))
  var numAug: Int = 1000

  @Option(help: ArgumentHelp("Seed of the augmentation and translation draws.", valueName: "s"))
  var seed: UInt64 = 42

  /// Creates the command (ArgumentParser fills it in).
  public init() {}

  /// Checks the options before anything runs.
  public func validate() throws {
    guard !datasetDirs.isEmpty else { throw ValidationError("give at least one folder after --dataset-dirs") }
    guard numAug >= 0 else { throw ValidationError("--num-aug must not be negative, is \(numAug)") }
  }

  /// Builds and writes the dataset, then prints a summary.
  public func run() throws {
    let start = DispatchTime.now().uptimeNanoseconds
    let tasks = try ARCDataset.readTasks(datasetDirs: datasetDirs)
    let bar = ProgressBar(total: tasks.count, label: "arc")
    let summary = try ARCDataset.build(
      tasks: tasks, outputDir: outputDir, options: ARCBuildOptions(numAug: numAug, seed: seed), progress: bar)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    print("wrote \(outputDir) in \(String(format: "%.1f", seconds)) s: \(summary.tasks) tasks, \(summary.identifiers) identifiers")
    for name in PuzzleDataset.splitNames {
      guard let s = summary.splits[name] else { continue }
      print("  \(name): \(s.groups) groups, \(s.puzzles) puzzles, \(s.examples) examples")
    }
    if summary.shortGroups > 0 {
      print("  \(summary.shortGroups) tasks have fewer than \(numAug) distinct augmentations (their groups are smaller)")
    }
  }
}
