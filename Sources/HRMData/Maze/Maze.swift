// Maze.swift: the maze encoding (spec data §3.1), the maze CSV reader, shortest-path search
// (BFS distances and the reference generator's A*) and the label checks.
//
// Characters `# SGo` become tokens 1...5 (position + 1; 0 is padding): `#` wall, space free,
// `S` start, `G` goal, `o` a cell of the shortest path (answers only). A grid is stored as
// tokens in a `Grid`. Path length is counted in moves (steps between 4-neighbouring cells):
// a path that marks k cells `o` between S and G has k + 1 moves and k + 2 cells. The public
// maze-30x30-hard-1k train split has 109...146 moves per shortest path.

import Foundation
import HRMSupport

/// One maze: question grid, answer grid (question with the path drawn as `o`), and a rating.
public struct MazePuzzle: Equatable, Hashable, Sendable {
  /// The CSV `source` column ("generated" for our generator, often empty).
  public var source: String
  /// Question tokens (1...4), n×n.
  public var question: Grid
  /// Answer tokens (1...5), n×n.
  public var answer: Grid
  /// The CSV `rating` column; the generator stores the shortest path's moves. Nil when empty.
  public var rating: Int?

  /// Creates a record (grids must have the same shape).
  public init(source: String, question: Grid, answer: Grid, rating: Int?) {
    precondition(question.rows == answer.rows && question.columns == answer.columns, "maze grids differ in shape")
    self.source = source
    self.question = question
    self.answer = answer
    self.rating = rating
  }
}

/// Maze tokens, text form, shortest paths and label checks.
public enum Maze {
  /// The character of each token, token = index + 1.
  public static let charset: [Character] = ["#", " ", "S", "G", "o"]
  /// Token of a wall.
  public static let wall: UInt8 = 1
  /// Token of a free cell.
  public static let free: UInt8 = 2
  /// Token of the start.
  public static let start: UInt8 = 3
  /// Token of the goal.
  public static let goal: UInt8 = 4
  /// Token of a path cell.
  public static let path: UInt8 = 5
  /// Token ids 0 (PAD) ... 5.
  public static let vocabSize = 6
  /// Side of the Maze-Hard grids.
  public static let side = 30
  /// Fewest moves on the shortest path of a Maze-Hard instance (the public train split's minimum).
  public static let hardMinMoves = 109

  /// Tokens of a maze string, or a description of the first bad character.
  public static func tokens<S: StringProtocol>(_ text: S) -> Result<[UInt8], HRMError> {
    var out = [UInt8]()
    out.reserveCapacity(text.utf8.count)
    for (i, b) in text.utf8.enumerated() {
      switch b {
      case UInt8(ascii: "#"): out.append(wall)
      case UInt8(ascii: " "): out.append(free)
      case UInt8(ascii: "S"): out.append(start)
      case UInt8(ascii: "G"): out.append(goal)
      case UInt8(ascii: "o"): out.append(path)
      default:
        let shown = b < 0x80 && b >= 0x20 ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
        return .failure(HRMError("character \(i + 1) is \(shown), expected one of '# SGo'"))
      }
    }
    return .success(out)
  }

  /// The text form of a token grid (row-major, no separators).
  public static func text(_ g: Grid) -> String {
    String(g.cells.map { $0 >= 1 && $0 <= 5 ? charset[Int($0) - 1] : "?" })
  }

  // MARK: - Shortest paths

  /// BFS distances (moves) from `source` over non-wall cells; -1 = unreachable.
  public static func distances(from source: Int, in g: Grid) -> [Int32] {
    var dist = [Int32](repeating: -1, count: g.cells.count)
    var queue = [Int](repeating: 0, count: g.cells.count)
    let (h, w) = (g.rows, g.columns)
    g.cells.withUnsafeBufferPointer { cells in
      dist.withUnsafeMutableBufferPointer { d in
        guard cells[source] != wall else { return }
        d[source] = 0
        queue[0] = source
        var head = 0
        var tail = 1
        while head < tail {
          let v = queue[head]
          head += 1
          let (r, c) = (v / w, v % w)
          let next = d[v] + 1
          @inline(__always) func visit(_ u: Int) {
            if d[u] < 0 && cells[u] != wall {
              d[u] = next
              queue[tail] = u
              tail += 1
            }
          }
          if c + 1 < w { visit(v + 1) }
          if c > 0 { visit(v - 1) }
          if r + 1 < h { visit(v + w) }
          if r > 0 { visit(v - w) }
        }
      }
    }
    return dist
  }

  /// The A* path of the maze generator (spec data §3.3), as cell indices from `start` to `goal`.
  ///
  /// 4-neighbourhood, unit steps, Manhattan heuristic; the open cell with the smallest
  /// f = g + h is expanded next, ties going to the smaller key x + 100000·y (x = column,
  /// y = row). Neighbours are relaxed in the order right, left, down, up, and a cell's parent
  /// changes only on a strictly shorter g. The heuristic is consistent, so the path is a
  /// shortest one. Returns nil when the goal is unreachable.
  public static func aStarPath(in g: Grid, from start: Int, to goal: Int) -> [Int]? {
    let (h, w) = (g.rows, g.columns)
    let n = g.cells.count
    let (gr, gc) = (goal / w, goal % w)
    func heuristic(_ v: Int) -> Int { abs(v / w - gr) + abs(v % w - gc) }
    func key(_ v: Int) -> Int { v % w + 100_000 * (v / w) }
    var cost = [Int](repeating: Int.max, count: n)
    var parent = [Int](repeating: -1, count: n)
    var closed = [Bool](repeating: false, count: n)
    var heap = MinHeap()
    cost[start] = 0
    heap.push((heuristic(start), key(start), start))
    while let (_, _, v) = heap.pop() {
      if closed[v] { continue }
      closed[v] = true
      if v == goal { break }
      let (r, c) = (v / w, v % w)
      var neighbours: [Int] = []
      if c + 1 < w { neighbours.append(v + 1) }
      if c > 0 { neighbours.append(v - 1) }
      if r + 1 < h { neighbours.append(v + w) }
      if r > 0 { neighbours.append(v - w) }
      for u in neighbours where g.cells[u] != wall && !closed[u] && cost[v] + 1 < cost[u] {
        cost[u] = cost[v] + 1
        parent[u] = v
        heap.push((cost[u] + heuristic(u), key(u), u))
      }
    }
    guard closed[goal] else { return nil }
    var path = [goal]
    while path.last! != start { path.append(parent[path.last!]) }
    return path.reversed()
  }

  /// A binary min-heap of (f, key, cell) triples ordered lexicographically.
  struct MinHeap {
    private var items: [(Int, Int, Int)] = []
    private static func less(_ a: (Int, Int, Int), _ b: (Int, Int, Int)) -> Bool {
      a.0 != b.0 ? a.0 < b.0 : a.1 < b.1
    }
    mutating func push(_ x: (Int, Int, Int)) {
      items.append(x)
      var i = items.count - 1
      while i > 0 {
        let p = (i - 1) / 2
        if !MinHeap.less(items[i], items[p]) { break }
        items.swapAt(i, p)
        i = p
      }
    }
    mutating func pop() -> (Int, Int, Int)? {
      guard let top = items.first else { return nil }
      let last = items.removeLast()
      if !items.isEmpty {
        items[0] = last
        var i = 0
        while true {
          let (l, r) = (2 * i + 1, 2 * i + 2)
          var m = i
          if l < items.count && MinHeap.less(items[l], items[m]) { m = l }
          if r < items.count && MinHeap.less(items[r], items[m]) { m = r }
          if m == i { break }
          items.swapAt(i, m)
          i = m
        }
      }
      return top
    }
  }

  /// The answer grid: `question` with the inner cells of `path` (all but its ends) set to `o`.
  public static func drawPath(_ path: [Int], on question: Grid) -> Grid {
    var a = question
    for v in path.dropFirst().dropLast() { a.cells[v] = Maze.path }
    return a
  }

  // MARK: - Checks

  /// Number of moves of the answer's path when it is a valid shortest path; otherwise why not.
  ///
  /// Valid means: the question has exactly one S and one G and no `o`; the answer equals the
  /// question except free cells turned `o`; S, the `o` cells and G form one unbranched chain of
  /// 4-neighbours from S to G; and its number of moves equals the BFS distance from S to G.
  public static func checkSolution(question q: Grid, answer a: Grid) -> Result<Int, HRMError> {
    func fail(_ s: String) -> Result<Int, HRMError> { .failure(HRMError(s)) }
    guard q.rows == a.rows, q.columns == a.columns else { return fail("question and answer differ in size") }
    let starts = q.cells.indices.filter { q.cells[$0] == start }
    let goals = q.cells.indices.filter { q.cells[$0] == goal }
    guard starts.count == 1 else { return fail("question has \(starts.count) 'S' cells, expected 1") }
    guard goals.count == 1 else { return fail("question has \(goals.count) 'G' cells, expected 1") }
    if let i = q.cells.firstIndex(of: path) { return fail("question has an 'o' at cell \(i)") }
    for i in q.cells.indices where q.cells[i] != a.cells[i] && !(q.cells[i] == free && a.cells[i] == path) {
      return fail(
        "answer differs from the question at row \(i / q.columns + 1), column \(i % q.columns + 1) "
          + "('\(charset[Int(q.cells[i]) - 1])' became '\(a.cells[i] >= 1 && a.cells[i] <= 5 ? String(charset[Int(a.cells[i]) - 1]) : "?")')")
    }
    let (s, g, w) = (starts[0], goals[0], q.columns)
    let onPath = a.cells.indices.filter { a.cells[$0] == path }
    var remaining = Set(onPath)
    var v = s
    var moves = 0
    while v != g {
      let (r, c) = (v / w, v % w)
      var next: [Int] = []
      for (dr, dc) in [(0, 1), (0, -1), (1, 0), (-1, 0)] {
        let (nr, nc) = (r + dr, c + dc)
        guard nr >= 0, nr < q.rows, nc >= 0, nc < w else { continue }
        let u = nr * w + nc
        if remaining.contains(u) || (u == g) { next.append(u) }
      }
      if next.contains(g) { next = [g] }
      guard next.count == 1 else {
        return fail(next.isEmpty ? "the path breaks off at row \(r + 1), column \(c + 1) before reaching G" : "the path branches at row \(r + 1), column \(c + 1)")
      }
      v = next[0]
      remaining.remove(v)
      moves += 1
    }
    guard remaining.isEmpty else { return fail("\(remaining.count) 'o' cells are not on the path from S to G") }
    let best = distances(from: s, in: q)[g]
    guard Int(best) == moves else { return fail("the path has \(moves) moves but the shortest has \(best)") }
    return .success(moves)
  }
}

/// Reading maze CSV files (`source,question,answer,rating`, the maze-30x30-hard-1k layout).
public enum MazeCSV {
  /// The header line of the layout.
  public static let header = "source,question,answer,rating"

  /// Reads every row of the CSV at `path` and checks it (see `parse`).
  public static func read(path: String) throws -> [MazePuzzle] {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw HRMError(file: path, "file not found or unreadable")
    }
    guard let text = String(data: data, encoding: .utf8) else { throw HRMError(file: path, "is not UTF-8 text") }
    return try parse(text, file: path)
  }

  /// Parses CSV text; `file` is only used in errors.
  ///
  /// The header line is skipped. Every row needs 4 columns; question and answer must have
  /// n² characters from `# SGo`, where n = ⌊√(length of the first question)⌋, and the answer
  /// must be a shortest path (`Maze.checkSolution`). The rating may be empty.
  public static func parse(_ text: String, file: String) throws -> [MazePuzzle] {
    var out: [MazePuzzle] = []
    var side: Int? = nil
    var number = 0
    for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
      number += 1
      if number == 1 || line.isEmpty { continue }
      func fail(_ m: String) -> HRMError { HRMError(file: file, line: number, m) }
      let fields = line.split(separator: ",", omittingEmptySubsequences: false)
      guard fields.count == 4 else {
        throw fail("expected 4 comma-separated columns (source,question,answer,rating), found \(fields.count)")
      }
      let n = side ?? Int(Double(fields[1].utf8.count).squareRoot())
      side = n
      guard n > 0 else { throw fail("question is empty") }
      var grids: [Grid] = []
      for (name, field) in [("question", fields[1]), ("answer", fields[2])] {
        guard field.utf8.count == n * n else {
          throw fail("\(name) has \(field.utf8.count) characters, expected \(n * n) (\(n)x\(n) like the first row)")
        }
        switch Maze.tokens(field) {
        case .failure(let e): throw fail("\(name) \(e.message)")
        case .success(let t): grids.append(Grid(rows: n, columns: n, cells: t))
        }
      }
      let ratingText = fields[3].trimmingCharacters(in: .whitespaces)
      var rating: Int? = nil
      if !ratingText.isEmpty {
        guard let r = Int(ratingText) else { throw fail("rating '\(ratingText)' is not an integer") }
        rating = r
      }
      if case .failure(let e) = Maze.checkSolution(question: grids[0], answer: grids[1]) { throw fail(e.message) }
      out.append(MazePuzzle(source: String(fields[0]), question: grids[0], answer: grids[1], rating: rating))
    }
    return out
  }

  /// CSV text (header + one line per maze) in the same layout.
  public static func text(for mazes: [MazePuzzle]) -> String {
    var out = header + "\n"
    for m in mazes {
      out += "\(m.source),\(Maze.text(m.question)),\(Maze.text(m.answer)),\(m.rating.map(String.init) ?? "")\n"
    }
    return out
  }
}
