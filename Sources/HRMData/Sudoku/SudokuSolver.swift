// SudokuSolver.swift: a bitmask Sudoku solver that counts solutions and rates difficulty.
//
// Each cell holds a 9-bit candidate mask. Propagation runs naked singles (a cell with one
// candidate removes it from its 20 peers) and hidden singles (a digit with one place in a
// unit goes there) to a fixpoint; a cell with no candidates or a unit missing a digit is a
// contradiction. Search branches on the unsolved cell with the fewest candidates (ties: the
// lowest index) and tries its digits in increasing order.
//
// Rating = guesses (one per trial placement at a branching cell) over the complete search
// tree, which is searched in full when proving a puzzle unique; 0 = singles alone solve it.
// This is the rule of shared/data/sudoku/README.md, so the ratings of those CSVs are ours too.
// It is not the tdoku backtrack count of the HF sudoku-extreme CSVs (the scales differ).

import HRMSupport

/// Outcome of a search.
public struct SudokuSolveResult: Equatable, Sendable {
  /// Solutions found, capped at the search's limit.
  public var solutionCount: Int
  /// The first solution found (nil when none).
  public var solution: [UInt8]?
  /// Trial placements made at branching cells.
  public var guesses: Int
}

/// A reusable solver; one instance per thread (it owns scratch memory and is not thread-safe).
public final class SudokuSolver {
  private static let all: UInt16 = 0x1FF  // bits 0...8 = digits 1...9
  private let depthCapacity = 82
  /// Candidate masks, one block of 81 per search depth.
  private let cand: UnsafeMutablePointer<UInt16>
  private let peers: UnsafeMutablePointer<Int32>  // [81][20]
  private let units: UnsafeMutablePointer<Int32>  // [27][9]
  private var guesses = 0
  private var found = 0
  private var limit = 2
  private var firstSolution: [UInt8]?
  private var rng: HRMRandom?

  /// Creates a solver with its scratch memory.
  public init() {
    cand = .allocate(capacity: 81 * depthCapacity)
    peers = .allocate(capacity: 81 * 20)
    units = .allocate(capacity: 27 * 9)
    for c in 0..<81 { for k in 0..<20 { peers[c * 20 + k] = Int32(Sudoku.peers[c][k]) } }
    for u in 0..<27 { for k in 0..<9 { units[u * 9 + k] = Int32(Sudoku.units[u][k]) } }
  }

  deinit {
    cand.deallocate()
    peers.deallocate()
    units.deallocate()
  }

  /// Searches `grid` (81 values, 0 = blank), stopping once `limit` solutions are found.
  ///
  /// With the default limit 2, a unique puzzle's whole tree is searched, so `guesses` is its rating.
  public func solve(_ grid: [UInt8], limit: Int = 2) -> SudokuSolveResult {
    run(grid, excluding: nil, limit: limit, random: nil)
  }

  /// Whether `grid` has exactly one solution.
  public func isUnique(_ grid: [UInt8]) -> Bool { solve(grid).solutionCount == 1 }

  /// The rating (full-tree guess count) of a puzzle with a unique solution; nil otherwise.
  public func rating(_ grid: [UInt8]) -> Int? {
    let r = solve(grid)
    return r.solutionCount == 1 ? r.guesses : nil
  }

  /// Whether `grid` has a solution whose cell `cell` is not `value`.
  ///
  /// When `grid` with `value` at `cell` has a unique solution, this says whether blanking
  /// that cell makes the puzzle ambiguous — much cheaper than counting solutions again.
  public func hasSolution(_ grid: [UInt8], avoiding value: UInt8, at cell: Int) -> Bool {
    run(grid, excluding: (cell, value), limit: 1, random: nil).solutionCount > 0
  }

  /// A uniformly shuffled search's first solution of the empty grid: a random complete grid.
  public func randomCompleteGrid(using generator: inout HRMRandom) -> [UInt8] {
    let r = run([UInt8](repeating: 0, count: 81), excluding: nil, limit: 1, random: generator)
    if let g = rng { generator = g }
    guard let solution = r.solution else { preconditionFailure("the empty grid always has a solution") }
    return solution
  }

  // MARK: - Search

  private func run(_ grid: [UInt8], excluding: (Int, UInt8)?, limit: Int, random: HRMRandom?) -> SudokuSolveResult {
    precondition(grid.count == 81, "Sudoku grids have 81 cells")
    guesses = 0
    found = 0
    self.limit = max(1, limit)
    firstSolution = nil
    rng = random
    let c = cand
    for i in 0..<81 { c[i] = SudokuSolver.all }
    var ok = true
    for i in 0..<81 where grid[i] != 0 {
      guard grid[i] <= 9 else { ok = false; break }
      if !assign(c, i, UInt16(1) << (grid[i] - 1)) { ok = false; break }
    }
    if ok, let (cell, value) = excluding.map({ ($0.0, $0.1) }), (1...9).contains(value) {
      ok = eliminate(c, cell, UInt16(1) << (value - 1))
    }
    if ok && propagate(c) { search(depth: 0) }
    return SudokuSolveResult(solutionCount: found, solution: firstSolution, guesses: guesses)
  }

  private func search(depth: Int) {
    let c = cand + depth * 81
    // Most constrained unsolved cell; ties go to the lowest index.
    var best = -1
    var bestCount = 10
    for i in 0..<81 {
      let n = c[i].nonzeroBitCount
      if n > 1 && n < bestCount {
        best = i
        bestCount = n
        if n == 2 { break }
      }
    }
    if best < 0 {
      found += 1
      if firstSolution == nil {
        firstSolution = (0..<81).map { UInt8(c[$0].trailingZeroBitCount + 1) }
      }
      return
    }
    var digits: [UInt16] = []
    var m = c[best]
    while m != 0 {
      let bit = m & (~m &+ 1)
      digits.append(bit)
      m &= m - 1
    }
    if rng != nil { rng?.shuffle(&digits) }
    let next = c + 81
    for bit in digits {
      guesses += 1
      next.update(from: c, count: 81)
      if assign(next, best, bit) && propagate(next) { search(depth: depth + 1) }
      if found >= limit { return }
    }
  }

  /// Sets `cell` to the single candidate `bit`; false on contradiction.
  private func assign(_ c: UnsafeMutablePointer<UInt16>, _ cell: Int, _ bit: UInt16) -> Bool {
    var others = c[cell] & ~bit
    if c[cell] & bit == 0 { return false }
    while others != 0 {
      let b = others & (~others &+ 1)
      if !eliminate(c, cell, b) { return false }
      others &= others - 1
    }
    return true
  }

  /// Removes candidate `bit` from `cell`; a cell left with one candidate removes it from its peers.
  private func eliminate(_ c: UnsafeMutablePointer<UInt16>, _ cell: Int, _ bit: UInt16) -> Bool {
    if c[cell] & bit == 0 { return true }
    c[cell] &= ~bit
    let left = c[cell]
    if left == 0 { return false }
    if left & (left - 1) == 0 {
      let p = peers + cell * 20
      for k in 0..<20 where !eliminate(c, Int(p[k]), left) { return false }
    }
    return true
  }

  /// Applies hidden singles until none is left (naked singles propagate inside `eliminate`).
  private func propagate(_ c: UnsafeMutablePointer<UInt16>) -> Bool {
    var changed = true
    while changed {
      changed = false
      for u in 0..<27 {
        let cells = units + u * 9
        var once: UInt16 = 0
        var twice: UInt16 = 0
        for k in 0..<9 {
          let m = c[Int(cells[k])]
          twice |= once & m
          once |= m
        }
        if once != SudokuSolver.all { return false }  // some digit has no place in this unit
        var hidden = once & ~twice
        while hidden != 0 {
          let bit = hidden & (~hidden &+ 1)
          hidden &= hidden - 1
          for k in 0..<9 {
            let cell = Int(cells[k])
            if c[cell] & bit != 0 {
              if c[cell] != bit {
                if !assign(c, cell, bit) { return false }
                changed = true
              }
              break
            }
          }
        }
      }
    }
    return true
  }
}
