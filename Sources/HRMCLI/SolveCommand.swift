// SolveCommand.swift: `hrm solve checkpoint=PATH [puzzle=...]`: one puzzle in, the model's
// answer out, with the segments used and the Q-halt confidence. Sudoku puzzles are 81
// characters (digits, '.' or '0' for blanks) from the argument or stdin; the answer is
// checked against every Sudoku constraint.

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
        adaptive_halt=true   stop when the Q head says halt (default: run halt_max_steps segments,
                             as the reference evaluates)
        device=cpu|cuda      default: the GPU when usable, else the CPU
      """)

  @Argument(help: "key=value settings (see above).")
  var settings: [String] = []

  func run() throws {
    let kv = try KeyValues(settings, allowed: ["checkpoint", "puzzle", "adaptive_halt", "device"])
    let checkpoint = try kv.required("checkpoint")
    let backend = try DeviceChoice.backend(for: kv["device"])
    let (model, config) = try Checkpoint.loadModel(path: checkpoint, backend: backend)
    let text = kv["puzzle"] ?? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
    guard config.arch.seqLen == 81 && config.arch.vocabSize == 11 else {
      throw HRMError(file: checkpoint, "this checkpoint has seq_len \(config.arch.seqLen), vocab_size \(config.arch.vocabSize); `hrm solve` reads Sudoku (81, 11) puzzles")
    }
    let grid = try parseSudoku(text)
    let inputs = grid.map { Int32($0) + 1 }
    let batch = Batch(setName: "all", inputs: inputs, labels: [Int32](repeating: Batch.ignoreLabel, count: 81),
                      puzzleIdentifiers: [0], batchSize: 1, seqLen: 81, effectiveSize: 1)
    var evaluator = Evaluator(model: model, globalBatchSize: 1)
    evaluator.adaptiveHalting = try kv.bool("adaptive_halt") ?? false
    var outputs: EvaluationOutputs? = EvaluationOutputs(seqLen: 81)
    _ = evaluator.run(batch, into: &outputs)
    guard let o = outputs, o.count == 1 else { throw HRMError("the model produced no answer") }
    let answer = o.predictions.map { UInt8(max(0, min(9, $0 - 1))) }
    for line in SudokuPretty.lines(answer) { print(line) }
    let confidence = 1 / (1 + exp(-Double(o.qHaltLogits[0])))
    print(String(format: "segments: %d of %d   Q-halt confidence: %.3f", o.segments[0], config.arch.haltMaxSteps, confidence))
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
