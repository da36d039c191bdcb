// SudokuCSV.swift: reader for the sudoku-extreme CSV layout (spec data §2.1).
//
// One header row (skipped, whatever it says), then `source,question,answer,rating` per line:
// question = 81 characters with `.` (or `0`) for blanks, answer = the 81-digit solution,
// rating = an integer. Every line is checked (column count, grid characters, a valid solved
// answer that agrees with the clues, an integer rating); the first problem becomes the error
// `<file>:<line>: <what is wrong>`. Blank lines are skipped. Quoted fields are not supported
// (the source names never need them).

import Foundation
import HRMSupport

/// Reading Sudoku CSV files.
public enum SudokuCSV {
  /// The header line written by `text(for:)` and used by the shared CSVs.
  public static let header = "source,question,answer,rating"

  /// Reads and checks every row of the CSV at `path`.
  public static func read(path: String) throws -> [SudokuPuzzle] {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw HRMError(file: path, "file not found or unreadable")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw HRMError(file: path, "is not UTF-8 text")
    }
    return try parse(text, file: path)
  }

  /// Parses CSV text; `file` is only used in error messages.
  public static func parse(_ text: String, file: String) throws -> [SudokuPuzzle] {
    var puzzles: [SudokuPuzzle] = []
    var lineNumber = 0
    // "\r\n" is one Character in Swift, so split on both forms.
    for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
      lineNumber += 1
      if lineNumber == 1 { continue }  // header
      if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
      puzzles.append(try parseRow(line, file: file, line: lineNumber))
    }
    return puzzles
  }

  /// Parses one data row.
  static func parseRow(_ line: Substring, file: String, line number: Int) throws -> SudokuPuzzle {
    func fail(_ message: String) -> HRMError { HRMError(file: file, line: number, message) }
    let fields = line.split(separator: ",", omittingEmptySubsequences: false)
    guard fields.count == 4 else {
      throw fail("expected 4 comma-separated columns (source,question,answer,rating), found \(fields.count)")
    }
    let (source, q, a, r) = (fields[0], fields[1], fields[2], fields[3])
    if let problem = Sudoku.describeProblem(q, allowBlanks: true) { throw fail("question \(problem)") }
    if let problem = Sudoku.describeProblem(a, allowBlanks: false) { throw fail("answer \(problem)") }
    guard let rating = Int(r.trimmingCharacters(in: .whitespaces)) else {
      throw fail("rating '\(r)' is not an integer")
    }
    guard let question = Sudoku.parse(q, allowBlanks: true), let answer = Sudoku.parse(a, allowBlanks: false) else {
      throw fail("unreadable grid")  // unreachable: describeProblem accepted both
    }
    guard Sudoku.isSolved(answer) else { throw fail("answer is not a valid Sudoku solution") }
    if let cell = Sudoku.firstDisagreement(question: question, answer: answer) {
      throw fail("answer disagrees with the question's clue at row \(cell / 9 + 1), column \(cell % 9 + 1)")
    }
    return SudokuPuzzle(source: String(source), question: question, answer: answer, rating: rating)
  }

  /// CSV text (header + one line per puzzle) in the same layout.
  public static func text(for puzzles: [SudokuPuzzle]) -> String {
    var out = header + "\n"
    for p in puzzles {
      out += "\(p.source),\(Sudoku.format(p.question)),\(Sudoku.format(p.answer)),\(p.rating)\n"
    }
    return out
  }
}
