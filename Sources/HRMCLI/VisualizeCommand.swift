// VisualizeCommand.swift: `hrm visualize`, writes the self-contained HTML puzzle browser
// (HRMData.PuzzleVisualizer) for a dataset folder and/or a predictions folder.

import ArgumentParser
import Foundation
import HRMData
import HRMSupport

/// `hrm visualize PATH`: one HTML page for browsing a dataset (and predictions).
public struct VisualizeCommand: ParsableCommand {
  /// Command name and help text.
  public static let configuration = CommandConfiguration(
    commandName: "visualize",
    abstract: "Write one self-contained HTML page for browsing a dataset folder (and model predictions).",
    discussion: """
      PATH is a dataset folder (identifiers.json, train/, test/) or a predictions
      folder as `hrm evaluate` writes it (inputs.npy, labels.npy, predictions.npy,
      puzzle_identifiers.npy, optional q_halt_logits.npy, segments.npy and
      step_predictions.npy [K,N,S]; docs/predictions.md), or a predictions.json
      with the same arrays under the same names. Predictions are shown beside
      the labels with wrong cells outlined, and a slider over the ACT steps.

      Open the page in any browser; it needs no network. Large datasets are cut to
      the first --max-groups groups per set and --max-puzzles puzzles per group.

      Examples:
        hrm visualize data/arc-aug-1000 --output arc.html
        hrm visualize data/maze-30x30-hard-1k --predictions runs/maze/preds
      """)

  @Argument(help: ArgumentHelp("Dataset folder or predictions folder.", valueName: "path"))
  var path: String

  @Option(help: ArgumentHelp("Predictions folder to show beside the dataset.", valueName: "dir"))
  var predictions: String?

  @Option(help: ArgumentHelp("HTML file to write (default: ./<name of path>.html).", valueName: "file"))
  var output: String?

  @Option(name: .customLong("max-groups"), help: ArgumentHelp("Groups embedded per set.", valueName: "n"))
  var maxGroups: Int = 30

  @Option(name: .customLong("max-puzzles"), help: ArgumentHelp("Puzzles embedded per group.", valueName: "n"))
  var maxPuzzles: Int = 8

  @Option(help: ArgumentHelp("How to draw grids: arc, sudoku, maze or generic (default: guessed from the data).", valueName: "kind"))
  var kind: String?

  /// Creates the command (ArgumentParser fills it in).
  public init() {}

  /// Checks the limits.
  public func validate() throws {
    guard maxGroups >= 1, maxPuzzles >= 1 else { throw ValidationError("--max-groups and --max-puzzles must be at least 1") }
    if let k = kind, PuzzleKind(rawValue: k) == nil { throw ValidationError("--kind must be one of arc, sudoku, maze, generic; is '\(k)'") }
  }

  /// Writes the page and prints its path.
  public func run() throws {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
      throw HRMError(file: path, "folder not found")
    }
    let pathIsPredictions = PuzzleVisualizer.isPredictionsFolder(path)
    let dataset = pathIsPredictions ? nil : path
    let preds = pathIsPredictions ? path : predictions
    let base = URL(fileURLWithPath: path).standardizedFileURL.lastPathComponent
    let file = output ?? "\(base.isEmpty ? "visualize" : base).html"
    try PuzzleVisualizer.write(
      datasetPath: dataset, predictionsPath: preds, output: file,
      options: VisualizerOptions(maxGroups: maxGroups, maxPuzzles: maxPuzzles, kind: kind.flatMap(PuzzleKind.init(rawValue:))))
    let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
    print("wrote \(file) (\(size / 1024) KB)")
  }
}
