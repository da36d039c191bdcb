// SolveCommand.swift: `hrm solve checkpoint=PATH [puzzle=...]`: one puzzle in, the model's
// answer out, with the segments used and the Q-halt confidence. The checkpoint's shape picks
// the kind: Sudoku (81 tokens, vocab 11), maze (900, vocab 6) or ARC (900, vocab 12).
// Sudoku and maze answers are checked (constraints; a shortest S-to-G path); an ARC task is
// answered by voting over its augmented puzzle embeddings, as ARC scoring does.

import ArgumentParser
import Foundation
import HRMData
import HRMModel
import HRMSupport
import HRMTensor
import HRMTrain

struct SolveCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "solve",
    abstract: "Solve one puzzle with a trained checkpoint.",
    discussion: """
      Keys (key=value):
        checkpoint=PATH      a step_N.safetensors written by `hrm train` (required)
        puzzle=TEXT          the puzzle; read from stdin when absent.
                             Sudoku: 81 characters, row by row, 1-9 for givens and . or 0 for blanks
                             (spaces, '|' and line breaks are ignored)
                             maze: 30 lines of 30 characters '#' wall, ' ' free, 'S' start, 'G' goal
                             ARC: a task JSON file path (or the JSON text); its task must be in the
                             checkpoint's dataset (identifiers.json), whose puzzle embeddings it uses
        data_path=DIR        ARC: dataset with identifiers.json (default: the checkpoint's)
        max_augmentations=N  ARC: vote over at most N augmented copies (default: all)
        adaptive_halt=true   stop when the Q head says halt (default: run halt_max_steps segments,
                             as the reference evaluates)
        device=cpu|cuda      default: the GPU when usable, else the CPU
      """)

  @Argument(help: "key=value settings (see above).")
  var settings: [String] = []

  func run() throws {
    let kv = try KeyValues(settings, allowed: ["checkpoint", "puzzle", "adaptive_halt", "device", "data_path",
                                               "max_augmentations"])
    let checkpoint = try kv.required("checkpoint")
    let backend = try DeviceChoice.backend(for: kv["device"])
    let (model, config) = try Checkpoint.loadModel(path: checkpoint, backend: backend)
    let text = kv["puzzle"] ?? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
    var evaluator = Evaluator(model: model, globalBatchSize: 1)
    evaluator.adaptiveHalting = try kv.bool("adaptive_halt") ?? false
    switch (config.arch.seqLen, config.arch.vocabSize) {
    case (81, 11): try solveSudoku(text, evaluator: evaluator, maxSteps: config.arch.haltMaxSteps)
    case (900, Maze.vocabSize): try solveMaze(text, evaluator: evaluator, maxSteps: config.arch.haltMaxSteps)
    case (900, ARCEncoding.vocabSize):
      try solveARC(text, evaluator: evaluator, dataPath: kv["data_path"] ?? config.dataPath,
                   maxAugmentations: try kv.int("max_augmentations"))
    default:
      throw HRMError(file: checkpoint, "this checkpoint has seq_len \(config.arch.seqLen), vocab_size \(config.arch.vocabSize): not a Sudoku (81, 11), maze (900, 6) or ARC (900, 12) model")
    }
  }

  /// Runs rows through the model; returns their predictions, Q-halt logits and segments.
  func predict(_ inputs: [[Int32]], ids: [Int32], evaluator: Evaluator) -> EvaluationOutputs {
    let s = inputs[0].count
    var all = EvaluationOutputs(seqLen: s)
    let chunk = 32
    for start in stride(from: 0, to: inputs.count, by: chunk) {
      let rows = min(chunk, inputs.count - start)
      let batch = Batch(setName: "all", inputs: inputs[start..<(start + rows)].flatMap { $0 },
                        labels: [Int32](repeating: Batch.ignoreLabel, count: rows * s),
                        puzzleIdentifiers: Array(ids[start..<(start + rows)]), batchSize: rows, seqLen: s, effectiveSize: rows)
      var o: EvaluationOutputs? = EvaluationOutputs(seqLen: s)
      var e = Evaluator(model: evaluator.model, globalBatchSize: rows)
      e.adaptiveHalting = evaluator.adaptiveHalting
      _ = e.run(batch, into: &o)
      if let o = o {
        all.predictions += o.predictions
        all.qHaltLogits += o.qHaltLogits
        all.segments += o.segments
        all.inputs += o.inputs
        all.puzzleIdentifiers += o.puzzleIdentifiers
      }
    }
    return all
  }

  func confidenceLine(_ o: EvaluationOutputs, row: Int, maxSteps: Int) -> String {
    let confidence = 1 / (1 + exp(-Double(o.qHaltLogits[row])))
    return String(format: "segments: %d of %d   Q-halt confidence: %.3f", o.segments[row], maxSteps, confidence)
  }

  func solveMaze(_ text: String, evaluator: Evaluator, maxSteps: Int) throws {
    let cells = text.filter { $0 != "\n" && $0 != "\r" }
    guard cells.count == Maze.side * Maze.side else {
      throw HRMError("a maze has \(Maze.side)x\(Maze.side) = 900 cells; got \(cells.count) characters ('#', ' ', 'S', 'G')")
    }
    let tokens = try Maze.tokens(cells).get()
    let question = Grid(rows: Maze.side, columns: Maze.side, cells: tokens)
    let o = predict([tokens.map { Int32($0) }], ids: [0], evaluator: evaluator)
    let answer = Grid(rows: Maze.side, columns: Maze.side, cells: o.predictions.map { UInt8(max(0, min(5, $0))) })
    let textAnswer = Maze.text(answer)
    for r in 0..<Maze.side {
      let start = textAnswer.index(textAnswer.startIndex, offsetBy: r * Maze.side)
      print(String(textAnswer[start..<textAnswer.index(start, offsetBy: Maze.side)]))
    }
    print(confidenceLine(o, row: 0, maxSteps: maxSteps))
    switch Maze.checkSolution(question: question, answer: answer) {
    case .success(let moves): print("valid: a shortest path from S to G (\(moves) moves)")
    case .failure(let e):
      print("invalid: \(e.message)")
      throw ExitCode(2)
    }
  }

  func solveARC(_ text: String, evaluator: Evaluator, dataPath: String, maxAugmentations: Int?) throws {
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    let task: ARCTask
    if trimmed.hasPrefix("{") {
      task = try ARCTask.parse(Array(trimmed.utf8), stem: "task", subset: "solve", file: "<puzzle>")
    } else {
      task = try ARCTask.read(path: trimmed, subset: "solve")
    }
    let names = try PuzzleDataset.readIdentifiers(datasetPath: dataPath)
    var members: [(id: Int32, aug: ARCAugmentation)] = []
    for (i, name) in names.enumerated() where i > 0 {
      if name == task.name { members.append((Int32(i), .identity)) } else if let (t, aug) = ARCAugmentation.parse(puzzleName: name), t == task.name {
        members.append((Int32(i), aug))
      }
    }
    guard !members.isEmpty else {
      throw HRMError(file: dataPath + "/identifiers.json", "task '\(task.name)' has no puzzle embedding in this dataset: the model can only answer tasks it was trained with")
    }
    if let n = maxAugmentations { members = Array(members.prefix(n)) }
    let tests = task.lists.first { $0.key == "test" }?.pairs ?? []
    guard !tests.isEmpty else { throw HRMError("task '\(task.name)' has no test inputs") }
    var solvedAll = true
    for (k, pair) in tests.enumerated() {
      let inputs = members.map { ARCEncoding.canvas($0.aug.apply(pair.input)).map { Int32($0) } }
      let o = predict(inputs, ids: members.map { $0.id }, evaluator: evaluator)
      var rows: [ARCScoring.Row] = []
      for (i, m) in members.enumerated() {
        let name = m.aug.puzzleName(task: task.name)
        rows.append(ARCScoring.Row(puzzleName: name, input: inputs[i].map { UInt8($0) },
                                   label: ARCEncoding.canvas(m.aug.apply(pair.output)),
                                   prediction: o.row(o.predictions, i).map { UInt8(max(0, min(11, $0))) }, qHaltLogit: o.qHaltLogits[i]))
      }
      let ranked = ARCScoring.rankedCandidates(rows, task: task.name, input: pair.input)
      print("test input \(k + 1): \(members.count) votes, \(ranked.count) distinct answers")
      for (a, c) in ranked.prefix(2).enumerated() {
        let right = c.grid == pair.output
        print("attempt \(a + 1) (\(c.votes) vote\(c.votes == 1 ? "" : "s"), mean Q-halt confidence \(String(format: "%.3f", c.confidence))):\(right ? " correct" : "")")
        if c.grid.rows == 0 || c.grid.columns == 0 { print("  (empty: no grid could be cropped from the canvas)") }
        for line in c.grid.rowList { print("  " + line.map(String.init).joined(separator: " ")) }
      }
      if !ranked.prefix(2).contains(where: { $0.grid == pair.output }) { solvedAll = false }
    }
    print(solvedAll ? "solved: every test output is among the two attempts" : "not solved (pass@2)")
  }

  func solveSudoku(_ text: String, evaluator: Evaluator, maxSteps: Int) throws {
    let grid = try parseSudoku(text)
    let o = predict([grid.map { Int32($0) + 1 }], ids: [0], evaluator: evaluator)
    guard o.count == 1 else { throw HRMError("the model produced no answer") }
    let answer = o.predictions.map { UInt8(max(0, min(9, $0 - 1))) }
    for line in SudokuPretty.lines(answer) { print(line) }
    print(confidenceLine(o, row: 0, maxSteps: maxSteps))
    let keepsGivens = Sudoku.firstDisagreement(question: grid, answer: answer) == nil
    if Sudoku.isSolved(answer) && keepsGivens {
      print("valid: the answer satisfies every Sudoku constraint and keeps every given")
    } else {
      print("invalid: " + (keepsGivens ? "a row, column or box repeats a digit" : "the answer changes a given digit"))
      throw ExitCode(2)
    }
  }

  func parseSudoku(_ text: String) throws -> [UInt8] {
    let cells = text.filter { !" \t\r\n|-+".contains($0) }
    guard cells.count == 81 else {
      throw HRMError("a Sudoku puzzle has 81 cells; got \(cells.count) characters (use 1-9 for givens, . or 0 for blanks)")
    }
    return try cells.map { c -> UInt8 in
      if c == "." || c == "0" { return 0 }
      guard let d = c.wholeNumberValue, (1...9).contains(d) else {
        throw HRMError("'\(c)' is not a Sudoku cell (use 1-9 for givens, . or 0 for blanks)")
      }
      return UInt8(d)
    }
  }
}
