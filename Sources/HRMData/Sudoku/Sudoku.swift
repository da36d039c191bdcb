// Sudoku.swift: the Sudoku record type, grid encoding and validity checks shared by the CSV
// reader, the augmentation, the solver, the generator and the dataset builder.
//
// A grid is 81 values in row-major order (index 9·r + c), 0 = blank, 1...9 = digits. Dataset
// tokens are value + 1 (spec data §2.3): 1 = blank, 2...10 = digits, 0 = padding.

/// One Sudoku: the puzzle, its unique solution, and a difficulty rating.
public struct SudokuPuzzle: Equatable, Hashable, Sendable {
  /// Where it came from (the CSV `source` column, or "generated").
  public var source: String
  /// The puzzle, 81 values, 0 = blank.
  public var question: [UInt8]
  /// The solution, 81 values 1...9.
  public var answer: [UInt8]
  /// Difficulty: tdoku backtracks in the HF CSVs, our solver's guess count for generated puzzles.
  public var rating: Int

  /// Creates a record; grids must have 81 cells.
  public init(source: String, question: [UInt8], answer: [UInt8], rating: Int) {
    precondition(question.count == 81 && answer.count == 81, "Sudoku grids have 81 cells")
    self.source = source
    self.question = question
    self.answer = answer
    self.rating = rating
  }

  /// Number of blank cells in the question.
  public var blanks: Int { question.reduce(0) { $0 + ($1 == 0 ? 1 : 0) } }
}

/// Grid helpers: parsing, formatting, validity.
public enum Sudoku {
  /// Tokens per example.
  public static let seqLen = 81
  /// Token ids: 0 PAD, 1 blank, 2...10 digits.
  public static let vocabSize = 11

  /// The 27 units (9 rows, 9 columns, 9 boxes), each 9 cell indices.
  public static let units: [[Int]] = {
    var u: [[Int]] = []
    for r in 0..<9 { u.append((0..<9).map { r * 9 + $0 }) }
    for c in 0..<9 { u.append((0..<9).map { $0 * 9 + c }) }
    for b in 0..<9 {
      let (r0, c0) = (b / 3 * 3, b % 3 * 3)
      u.append((0..<9).map { (r0 + $0 / 3) * 9 + c0 + $0 % 3 })
    }
    return u
  }()

  /// The 20 peers of each cell (cells sharing a row, column or box), sorted.
  public static let peers: [[Int]] = (0..<81).map { cell in
    Set(units.filter { $0.contains(cell) }.flatMap { $0 }).subtracting([cell]).sorted()
  }

  /// Parses 81 characters: `1`-`9` are digits, `.` and `0` blanks (only when `allowBlanks`).
  ///
  /// Returns nil on a wrong length or character; `describeProblem` says what is wrong.
  public static func parse<S: StringProtocol>(_ text: S, allowBlanks: Bool) -> [UInt8]? {
    describeProblem(text, allowBlanks: allowBlanks) == nil
      ? text.utf8.map { $0 == UInt8(ascii: ".") ? 0 : $0 - UInt8(ascii: "0") } : nil
  }

  /// Why `text` is not a valid 81-cell grid string, or nil when it is.
  public static func describeProblem<S: StringProtocol>(_ text: S, allowBlanks: Bool) -> String? {
    let bytes = Array(text.utf8)
    guard bytes.count == 81 else { return "must have 81 characters, has \(bytes.count)" }
    for (i, b) in bytes.enumerated() {
      let digit = b >= UInt8(ascii: "1") && b <= UInt8(ascii: "9")
      let blank = b == UInt8(ascii: ".") || b == UInt8(ascii: "0")
      if !(digit || (allowBlanks && blank)) {
        let what = allowBlanks ? "1-9, '.' or '0'" : "1-9"
        return "character \(i + 1) is '\(Character(Unicode.Scalar(b)))', expected \(what)"
      }
    }
    return nil
  }

  /// The 81-character form, `.` for blanks.
  public static func format(_ grid: [UInt8]) -> String {
    String(decoding: grid.map { $0 == 0 ? UInt8(ascii: ".") : UInt8(ascii: "0") + $0 }, as: UTF8.self)
  }

  /// Whether `grid` is a complete valid solution: every unit holds 1...9 once.
  public static func isSolved(_ grid: [UInt8]) -> Bool {
    guard grid.count == 81, grid.allSatisfy({ (1...9).contains($0) }) else { return false }
    return units.allSatisfy { unit in unit.reduce(0) { $0 | (1 << Int(grid[$1])) } == 0b11_1111_1110 }
  }

  /// Whether the givens of `question` do not repeat a digit within any unit.
  public static func givensAreConsistent(_ question: [UInt8]) -> Bool {
    guard question.count == 81, question.allSatisfy({ $0 <= 9 }) else { return false }
    return units.allSatisfy { unit in
      var seen = 0
      for cell in unit where question[cell] != 0 {
        let bit = 1 << Int(question[cell])
        if seen & bit != 0 { return false }
        seen |= bit
      }
      return true
    }
  }

  /// Index of the first given of `question` that `answer` contradicts, or nil when all agree.
  public static func firstDisagreement(question: [UInt8], answer: [UInt8]) -> Int? {
    (0..<81).first { question[$0] != 0 && question[$0] != answer[$0] }
  }
}
