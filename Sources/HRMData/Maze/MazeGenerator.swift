// MazeGenerator.swift: makes Maze-Hard style instances offline (spec data §3.3, §9).
//
// Per instance (the procedure of Lehnert et al. 2024 with the hardness filter of HRM):
//   1. A random wall layout: shuffle the n² cells, draw k uniformly in [3·⌊n²/10⌋, 5·⌊n²/10⌋]
//      (30-50 % walls for 30x30) and make the first k shuffled cells walls. No border.
//   2. Start and goal: a pair of free cells drawn uniformly among all pairs whose shortest
//      path has at least `minMoves` moves (default 109, the public train split's minimum),
//      in random order. When the layout has no such pair, a new layout is drawn.
//   3. The label is the A* path of `Maze.aStarPath` (Manhattan heuristic, the reference
//      tie-break), checked to have the BFS length.
// One instance per wall layout, so train and test never share a layout.
//
// Step 2 differs from the reference's "up to 100 random start/goal draws per layout": pairs
// that far apart are so rare (well under 1 in 10,000 random pairs) that rejection sampling
// is very slow. Computing every pair's distance (one BFS per free cell, about 1 ms) and
// drawing uniformly among the qualifying pairs gives, for a given layout, exactly the
// distribution of a random pair conditioned on the length filter. The layout distribution
// is still "random layouts that admit a long enough path"; layouts with many qualifying
// pairs are not favoured as they would be by per-layout retries.
//
// `referenceWeighting` restores that bias exactly: a layout whose fraction of qualifying
// ordered pairs is q is kept with probability 1 - (1 - q)^100, the chance that 100 random
// draws hit one. Measured on 400 layouts with pairs (docs/datasets.md): mean shortest path
// 110.7 moves without, 112.9 with it (the public train split: 114.1); about 6x slower.
//
// Deterministic: item i draws only from its own HRMRandom stream; items run in parallel with
// DispatchQueue.concurrentPerform and are assembled in item order.

import Dispatch
import Foundation
import HRMSupport

/// Options of `MazeGenerator.generate`.
public struct MazeGeneratorOptions: Equatable, Sendable {
  /// Grid side n (mazes are n×n).
  public var side: Int
  /// Fewest moves on the shortest path from S to G.
  public var minMoves: Int
  /// Wall layouts tried per instance before giving up with an error.
  public var maxLayouts: Int
  /// Base seed; instance i uses its own stream of it.
  public var seed: UInt64
  /// Keep a layout with the probability that the reference's 100 random start/goal draws
  /// would find a qualifying pair in it (favours layouts with many long pairs, as the
  /// reference's procedure does; see the file comment).
  public var referenceWeighting: Bool

  /// Defaults: 30x30, paths of at least 109 moves.
  public init(side: Int = Maze.side, minMoves: Int = Maze.hardMinMoves, maxLayouts: Int = 100_000, seed: UInt64 = 0,
              referenceWeighting: Bool = false) {
    self.side = side
    self.minMoves = minMoves
    self.maxLayouts = maxLayouts
    self.seed = seed
    self.referenceWeighting = referenceWeighting
  }
}

/// Generates hard mazes with verified shortest-path labels.
public enum MazeGenerator {
  /// Source name written for generated mazes.
  public static let sourceName = "generated"
  /// Item i draws from stream `streamBase + i`.
  static let streamBase: UInt64 = 1 << 41

  /// Makes `count` distinct mazes using every core; `progress` advances once per maze.
  public static func generate(count: Int, options: MazeGeneratorOptions, firstItem: Int = 0, progress: ProgressBar? = nil) throws -> [MazePuzzle] {
    guard count >= 0 else { throw HRMError("maze count must not be negative, is \(count)") }
    guard options.side >= 2 else { throw HRMError("maze side must be at least 2, is \(options.side)") }
    guard options.minMoves >= 1 else { throw HRMError("minimum path length must be at least 1 move, is \(options.minMoves)") }
    var result: [MazePuzzle] = []
    var seen = Set<Grid>()
    var next = firstItem
    while result.count < count {
      let need = count - result.count
      let range = next..<next + need
      var slots = [Result<MazePuzzle, HRMError>?](repeating: nil, count: need)
      let lock = NSLock()
      slots.withUnsafeMutableBufferPointer { buffer in
        let out = buffer
        DispatchQueue.concurrentPerform(iterations: need) { k in
          let r = Result { try makeMaze(item: range.lowerBound + k, options: options) }
            .mapError { $0 as? HRMError ?? HRMError("\($0)") }
          lock.lock()
          out[k] = r
          lock.unlock()
          progress?.advance()
        }
      }
      next += need
      for slot in slots {
        guard let slot = slot else { throw HRMError("internal error: a maze generator item did not run") }
        let maze = try slot.get()
        if seen.insert(maze.question).inserted { result.append(maze) }
      }
    }
    return result
  }

  /// Makes maze number `item` (deterministic in `options.seed` and `item`).
  public static func makeMaze(item: Int, options: MazeGeneratorOptions) throws -> MazePuzzle {
    var rng = HRMRandom(seed: options.seed, stream: streamBase + UInt64(item))
    let n = options.side
    let cellCount = n * n
    let tenth = cellCount / 10
    var finder = PairFinder(side: n)
    for _ in 0..<max(1, options.maxLayouts) {
      let order = rng.permutation(cellCount)
      let walls = rng.int(3 * tenth, 5 * tenth)
      var cells = [UInt8](repeating: Maze.free, count: cellCount)
      for v in order.prefix(walls) { cells[v] = Maze.wall }
      let layout = Grid(rows: n, columns: n, cells: cells)
      let pairs = finder.farPairs(layout, minMoves: options.minMoves)
      guard !pairs.isEmpty else { continue }
      if options.referenceWeighting {
        let free = Double(cellCount - walls)
        if rng.uniform() >= referenceKeepProbability(qualifyingPairs: pairs.count, freeCells: free) { continue }
      }
      let (a, b) = pairs[rng.int(0, pairs.count - 1)]
      let (s, g) = rng.uniform() < 0.5 ? (Int(a), Int(b)) : (Int(b), Int(a))
      var question = layout
      question.cells[s] = Maze.start
      question.cells[g] = Maze.goal
      guard let path = Maze.aStarPath(in: question, from: s, to: g) else {
        throw HRMError("internal error: A* found no path for maze item \(item)")
      }
      let answer = Maze.drawPath(path, on: question)
      guard case .success(let moves) = Maze.checkSolution(question: question, answer: answer), moves >= options.minMoves else {
        throw HRMError("internal error: maze item \(item) failed its shortest-path check")
      }
      return MazePuzzle(source: sourceName, question: question, answer: answer, rating: moves)
    }
    throw HRMError(
      "could not find a \(n)x\(n) layout with a shortest path of at least \(options.minMoves) moves in \(options.maxLayouts) layouts (item \(item))")
  }

  /// The chance that 100 uniform draws of an ordered pair of distinct free cells hit one of
  /// `qualifyingPairs` unordered qualifying pairs: 1 - (1 - q)^100, q = 2 Q / (F (F - 1)).
  public static func referenceKeepProbability(qualifyingPairs: Int, freeCells: Double) -> Double {
    let q = min(1, 2 * Double(qualifyingPairs) / (freeCells * (freeCells - 1)))
    return 1 - pow(1 - q, 100)
  }

  /// All-pairs BFS over one layout with reused buffers.
  struct PairFinder {
    let side: Int
    var dist: [Int32]
    var queue: [Int32]
    var component: [Int32]

    init(side: Int) {
      self.side = side
      dist = [Int32](repeating: -1, count: side * side)
      queue = [Int32](repeating: 0, count: side * side)
      component = [Int32](repeating: -1, count: side * side)
    }

    /// BFS from `source`; fills `dist` for the cells it reaches, returns them in visit order
    /// (in `queue[0..<count]`) and the count. Cells it does not reach keep their old values.
    mutating func bfs(_ cells: UnsafeBufferPointer<UInt8>, from source: Int) -> Int {
      let n = side
      var count = 0
      dist.withUnsafeMutableBufferPointer { d in
        queue.withUnsafeMutableBufferPointer { q in
          d[source] = 0
          q[0] = Int32(source)
          var head = 0
          var tail = 1
          while head < tail {
            let v = Int(q[head])
            head += 1
            let (r, c) = (v / n, v % n)
            let next = d[v] + 1
            @inline(__always) func visit(_ u: Int) {
              if d[u] < 0 && cells[u] != Maze.wall {
                d[u] = next
                q[tail] = Int32(u)
                tail += 1
              }
            }
            if c + 1 < n { visit(v + 1) }
            if c > 0 { visit(v - 1) }
            if r + 1 < n { visit(v + n) }
            if r > 0 { visit(v - n) }
          }
          count = tail
        }
      }
      return count
    }

    /// Every unordered pair (a < b) of free cells at least `minMoves` apart.
    ///
    /// Exact, but pruned with three landmarks per component (its first cell, the cell farthest
    /// from it, and the cell farthest from that one): by the triangle inequality a cell v can
    /// only be in a qualifying pair when d(v, L) + ecc(L) >= minMoves for every landmark L,
    /// and no pair qualifies when 2·ecc(L) < minMoves. Only the surviving cells get a BFS.
    mutating func farPairs(_ g: Grid, minMoves: Int) -> [(Int32, Int32)] {
      let total = g.cells.count
      var pairs: [(Int32, Int32)] = []
      for i in 0..<total { component[i] = -1 }
      g.cells.withUnsafeBufferPointer { cells in
        for root in 0..<total where cells[root] != Maze.wall && component[root] < 0 {
          for i in 0..<total { dist[i] = -1 }
          let size = bfs(cells, from: root)
          let members = Array(queue[0..<size])
          for v in members { component[Int(v)] = Int32(root) }
          guard size > minMoves else { continue }
          var candidate = [Bool](repeating: true, count: size)
          var landmark = root
          var hopeless = false
          for _ in 0..<3 {
            for u in members { dist[Int(u)] = -1 }
            let n = bfs(cells, from: landmark)
            let far = queue[n - 1]
            let ecc = Int(dist[Int(far)])
            if 2 * ecc < minMoves { hopeless = true; break }
            for (k, u) in members.enumerated() where Int(dist[Int(u)]) + ecc < minMoves { candidate[k] = false }
            landmark = Int(far)
          }
          if hopeless { continue }
          let kept = members.indices.filter { candidate[$0] }.map { members[$0] }
          guard kept.count >= 2 else { continue }
          for v in kept {
            for u in members { dist[Int(u)] = -1 }
            _ = bfs(cells, from: Int(v))
            for u in kept where u > v && Int(dist[Int(u)]) >= minMoves { pairs.append((v, u)) }
          }
        }
      }
      return pairs
    }
  }
}
