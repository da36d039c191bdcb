// DemoCommand.swift: `hrm demo`, the README's first command. With no data and no network it
// generates a small Sudoku set, trains a scaled-down HRM on the CPU, shows exact accuracy
// rising at each evaluation, and prints one test puzzle solved by the model.

import ArgumentParser
import Foundation
import HRMData
import HRMModel
import HRMSupport
import HRMTensor
import HRMTrain

struct DemoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo",
    abstract: "Generate a small Sudoku set, train a small HRM on it and solve a puzzle (about 5 minutes on 2 CPU cores).")

  @Option(help: "Training puzzles to generate.")
  var trainSize = 2000
  @Option(help: "Test puzzles to generate.")
  var testSize = 256
  @Option(help: "Fewest blank cells per puzzle.")
  var minBlanks = 1
  @Option(help: "Most blank cells per puzzle.")
  var maxBlanks = 4
  @Option(help: "Epochs to train.")
  var epochs = 10
  @Option(help: "Epochs between evaluations.")
  var evalInterval = 2
  @Option(help: "Where to write the generated dataset (default: a temporary folder, removed afterwards).")
  var outputDir: String?
  @Option(help: "Random seed.")
  var seed = 0
  @Argument(help: "Extra training overrides (key=value, as for `hrm train`), e.g. device=cuda.")
  var overrides: [String] = []

  func run() throws {
    let start = Date()
    let folder = outputDir ?? NSTemporaryDirectory() + "hrm-demo-\(getpid())"
    defer { if outputDir == nil { try? FileManager.default.removeItem(atPath: folder) } }
    print("1/3 generating \(trainSize) + \(testSize) Sudoku puzzles with \(minBlanks)-\(maxBlanks) blanks...")
    let options = SudokuGeneratorOptions(minBlanks: minBlanks, maxBlanks: maxBlanks, seed: UInt64(seed))
    let puzzles = try SudokuGenerator.generate(count: trainSize + testSize, options: options)
    let dataset = try SudokuDataset.build(train: Array(puzzles.prefix(trainSize)), test: Array(puzzles.suffix(testSize)),
                                          options: SudokuBuildOptions(seed: UInt64(seed)))
    try dataset.write(to: folder)

    print("2/3 training a small HRM (hidden 128, 2+2 layers, 4 ACT segments)...")
    var config = TrainConfig()
    try config.apply(overrides: [
      "data_path=\(folder)", "arch=hrm_tiny", "epochs=\(epochs)", "eval_interval=\(evalInterval)",
      "global_batch_size=64", "lr=1e-3", "lr_warmup_steps=50", "puzzle_emb_lr=1e-3",
      "weight_decay=0.1", "puzzle_emb_weight_decay=0.1", "checkpoint_every_eval=false", "seed=\(seed)",
      "arch.halt_exploration_prob=0.1", "device=cpu",
    ] + overrides)
    try config.validate()
    let backend = try DeviceChoice.backend(for: config.device)
    let trainer = try Trainer(config: config, backend: backend)
    var runner = TrainRunner(trainer: trainer)
    runner.saveCheckpoints = false
    try runner.run()

    print("3/3 one test puzzle, solved by the model:")
    try showSolvedPuzzle(trainer)
    print(String(format: "demo finished in %.0f s", Date().timeIntervalSince(start)))
  }

  func showSolvedPuzzle(_ trainer: Trainer) throws {
    guard let test = trainer.testSet else { return }
    var batches = TestBatches(split: test, sharding: try BatchSharding(globalBatchSize: trainer.config.globalBatchSize))
    guard let batch = batches.next() else { return }
    var outputs: EvaluationOutputs? = EvaluationOutputs(seqLen: batch.seqLen)
    _ = Evaluator(model: trainer.model, globalBatchSize: trainer.config.globalBatchSize).run(batch, into: &outputs)
    guard let result = outputs, result.count > 0 else { return }
    // Prefer a puzzle the model solved, else show the first one.
    // Show the solved puzzle with the most blanks (else the first puzzle).
    let solved = (0..<result.count).filter { r in result.row(result.predictions, r) == result.row(result.labels, r) }
    let blanks = { (r: Int) in result.row(result.inputs, r).filter { $0 == 1 }.count }
    let row = solved.max { blanks($0) < blanks($1) } ?? 0
    let question: [UInt8] = result.row(result.inputs, row).map { UInt8(max(0, $0 - 1)) }
    let answer: [UInt8] = result.row(result.predictions, row).map { UInt8(max(0, $0 - 1)) }
    let grids = zip(SudokuPretty.lines(question), SudokuPretty.lines(answer)).map { "  \($0)    \($1)" }
    print("  puzzle                   model's answer (\(result.segments[row]) segments)")
    print(grids.joined(separator: "\n"))
    print("  " + (Sudoku.isSolved(answer) && Sudoku.firstDisagreement(question: question, answer: answer) == nil
      ? "the answer satisfies every Sudoku constraint and keeps every given digit"
      : "the answer breaks a Sudoku constraint"))
  }
}

/// Text rendering of a 9x9 grid (0 = blank, shown as '.').
enum SudokuPretty {
  static func lines(_ grid: [UInt8]) -> [String] {
    (0..<9).map { r in
      (0..<9).map { c in
        let v = grid[r * 9 + c]
        return (v == 0 ? "." : String(v)) + (c % 3 == 2 && c < 8 ? " |" : "")
      }.joined(separator: " ")
    }
  }
}
