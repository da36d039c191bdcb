// SudokuTransform.swift: the validity-preserving Sudoku shuffle (spec data §2.5).
//
// One transform = digit relabelling, optional transpose, a permutation of the three bands and
// of the rows inside each band, and the same for stacks and columns. Each step maps valid
// solutions to valid solutions and unique puzzles to unique puzzles. Draw order follows the
// reference (digits, transpose, bands+rows, stacks+columns) but from HRMRandom, not numpy.

import HRMSupport

/// One element of the Sudoku symmetry group used for augmentation.
public struct SudokuTransform: Equatable, Sendable {
  /// `digitMap[v]` replaces value v; `digitMap[0] == 0` keeps blanks blank. 10 entries.
  public var digitMap: [UInt8]
  /// Whether the grid is transposed before the row/column permutation.
  public var transpose: Bool
  /// Output row r takes (transposed) input row `rowPerm[r]`; band-structured.
  public var rowPerm: [Int]
  /// Output column c takes (transposed) input column `colPerm[c]`; stack-structured.
  public var colPerm: [Int]

  /// The identity transform.
  public static let identity = SudokuTransform(
    digitMap: (0...9).map { UInt8($0) }, transpose: false, rowPerm: Array(0..<9), colPerm: Array(0..<9))

  /// Creates a transform from its parts (`rowPerm` and `colPerm` must keep bands/stacks intact).
  public init(digitMap: [UInt8], transpose: Bool, rowPerm: [Int], colPerm: [Int]) {
    precondition(digitMap.count == 10 && digitMap[0] == 0 && Set(digitMap) == Set(0...9), "bad digit map")
    precondition(SudokuTransform.isBandPermutation(rowPerm) && SudokuTransform.isBandPermutation(colPerm), "bad line permutation")
    self.digitMap = digitMap
    self.transpose = transpose
    self.rowPerm = rowPerm
    self.colPerm = colPerm
  }

  /// Draws a transform: digits, transpose flag, bands then rows per band, stacks then columns per stack.
  public static func random(using rng: inout HRMRandom) -> SudokuTransform {
    let digits = rng.permutation(9).map { UInt8($0 + 1) }
    let transpose = rng.uniform() < 0.5
    func lines() -> [Int] {
      rng.permutation(3).flatMap { block in rng.permutation(3).map { block * 3 + $0 } }
    }
    let rows = lines()
    let cols = lines()
    return SudokuTransform(digitMap: [0] + digits, transpose: transpose, rowPerm: rows, colPerm: cols)
  }

  /// Whether `p` permutes 0..<9 by moving whole blocks of three and permuting within each.
  public static func isBandPermutation(_ p: [Int]) -> Bool {
    guard p.count == 9, Set(p) == Set(0..<9) else { return false }
    return (0..<3).allSatisfy { b in Set(p[b * 3..<b * 3 + 3].map { $0 / 3 }).count == 1 }
  }

  /// Applies the transform to an 81-cell grid (values 0...9).
  public func apply(_ grid: [UInt8]) -> [UInt8] {
    precondition(grid.count == 81, "Sudoku grids have 81 cells")
    var out = [UInt8](repeating: 0, count: 81)
    for r in 0..<9 {
      for c in 0..<9 {
        let (sr, sc) = (rowPerm[r], colPerm[c])
        out[r * 9 + c] = digitMap[Int(transpose ? grid[sc * 9 + sr] : grid[sr * 9 + sc])]
      }
    }
    return out
  }

  /// The transform that undoes this one: `inverse.apply(apply(g)) == g`.
  ///
  /// Undoing "transpose, then permute" is "transpose, then permute with the row and column
  /// inverses swapped", so the inverse has the same form.
  public var inverse: SudokuTransform {
    func invert(_ p: [Int]) -> [Int] {
      var q = [Int](repeating: 0, count: p.count)
      for (i, v) in p.enumerated() { q[v] = i }
      return q
    }
    var digits = [UInt8](repeating: 0, count: 10)
    for (v, m) in digitMap.enumerated() { digits[Int(m)] = UInt8(v) }
    let (ri, ci) = (invert(rowPerm), invert(colPerm))
    return SudokuTransform(digitMap: digits, transpose: transpose, rowPerm: transpose ? ci : ri, colPerm: transpose ? ri : ci)
  }
}
