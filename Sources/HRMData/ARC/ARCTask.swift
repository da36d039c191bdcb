// ARCTask.swift: ARC tasks (spec data §4.1, §4.5, §4.7): reading a task file, the 30x30 canvas
// encoding with its EOS border, the colour-permutation + dihedral augmentation, and the
// SHA-256 puzzle hash the builder deduplicates with.

import Foundation
import HRMSupport

/// One input/output pair of grids (colours 0...9, at most 30x30).
public struct ARCPair: Equatable, Hashable, Sendable {
  /// The input grid.
  public var input: Grid
  /// The output grid.
  public var output: Grid

  /// Creates a pair.
  public init(input: Grid, output: Grid) {
    self.input = input
    self.output = output
  }
}

/// One ARC task as read from its JSON file.
public struct ARCTask: Equatable, Sendable {
  /// The JSON "name" key when present, else the file stem.
  public var name: String
  /// The immediate subfolder it was found in (`training`, `evaluation`, a concept, ...).
  public var subset: String
  /// The top-level lists in file order: ("train", pairs) and ("test", pairs).
  public var lists: [(key: String, pairs: [ARCPair])]

  /// Creates a task.
  public init(name: String, subset: String, lists: [(key: String, pairs: [ARCPair])]) {
    self.name = name
    self.subset = subset
    self.lists = lists
  }

  /// Equality compares names, subsets and lists in order.
  public static func == (a: ARCTask, b: ARCTask) -> Bool {
    a.name == b.name && a.subset == b.subset && a.lists.count == b.lists.count
      && zip(a.lists, b.lists).allSatisfy { $0.key == $1.key && $0.pairs == $1.pairs }
  }

  /// The demonstration pairs.
  public var train: [ARCPair] { lists.first { $0.key == "train" }?.pairs ?? [] }
  /// The query pairs.
  public var test: [ARCPair] { lists.first { $0.key == "test" }?.pairs ?? [] }

  /// Whether the task's queries go to the test split (spec data §4.2): its subfolder is `evaluation`.
  public var isEvaluation: Bool { subset == "evaluation" }

  /// The pairs routed to the train split and to the test split, in file order (spec data §4.2).
  ///
  /// Demonstrations always go to train; queries go to test for evaluation tasks, else to train.
  public var routed: (train: [ARCPair], test: [ARCPair]) {
    var train: [ARCPair] = []
    var test: [ARCPair] = []
    for list in lists {
      if list.key == "test" && isEvaluation { test += list.pairs } else { train += list.pairs }
    }
    return (train, test)
  }

  /// Largest grid side ARC allows.
  public static let maxSide = 30

  /// Reads and checks a task file; errors name the file and the offending pair/grid/cell.
  public static func read(path: String, subset: String) throws -> ARCTask {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw HRMError(file: path, "file not found or unreadable")
    }
    let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    return try parse([UInt8](data), stem: stem, subset: subset, file: path)
  }

  /// Parses task JSON bytes; `file` is only used in errors.
  public static func parse(_ bytes: [UInt8], stem: String, subset: String, file: String) throws -> ARCTask {
    func fail(_ m: String) -> HRMError { HRMError(file: file, m) }
    let root: ARCJSONValue
    do { root = try ARCJSONParser.parse(bytes) } catch let e as ARCJSONParser.Failure { throw fail(e.message) }
    guard case .object(let members) = root else { throw fail("expected a JSON object with \"train\" and \"test\", found \(root.typeName)") }
    var name = stem
    var lists: [(key: String, pairs: [ARCPair])] = []
    for (key, value) in members {
      switch key {
      case "name":
        guard case .string(let s) = value, !s.isEmpty else { throw fail("\"name\" must be a non-empty string") }
        name = s
      case "train", "test":
        guard case .array(let items) = value else { throw fail("\"\(key)\" must be a list of pairs, found \(value.typeName)") }
        var pairs: [ARCPair] = []
        for (k, item) in items.enumerated() {
          let at = "\(key) pair \(k + 1)"
          guard case .object(let fields) = item else { throw fail("\(at) must be an object with \"input\" and \"output\"") }
          func grid(_ field: String) throws -> Grid {
            guard let v = fields.first(where: { $0.0 == field })?.1 else { throw fail("\(at) has no \"\(field)\"") }
            return try parseGrid(v, where: "\(at) \(field)", fail: fail)
          }
          pairs.append(ARCPair(input: try grid("input"), output: try grid("output")))
        }
        if lists.contains(where: { $0.key == key }) { throw fail("key \"\(key)\" appears twice") }
        lists.append((key, pairs))
      default:
        throw fail("unexpected key \"\(key)\"; a task has \"train\", \"test\" and optionally \"name\"")
      }
    }
    for key in ["train", "test"] where !lists.contains(where: { $0.key == key }) {
      throw fail("missing key \"\(key)\"")
    }
    return ARCTask(name: name, subset: subset, lists: lists)
  }

  /// Checks and converts one grid: a rectangular list of 1...30 rows of 1...30 integers 0...9.
  static func parseGrid(_ v: ARCJSONValue, where at: String, fail: (String) -> HRMError) throws -> Grid {
    guard case .array(let rows) = v else { throw fail("\(at) must be a list of rows, found \(v.typeName)") }
    guard !rows.isEmpty else { throw fail("\(at) has no rows") }
    var cells: [UInt8] = []
    var width = -1
    for (r, row) in rows.enumerated() {
      guard case .array(let values) = row else { throw fail("\(at) row \(r + 1) must be a list of colours, found \(row.typeName)") }
      if width < 0 { width = values.count }
      guard values.count == width else { throw fail("\(at) row \(r + 1) has \(values.count) cells, row 1 has \(width); grids must be rectangular") }
      for (c, x) in values.enumerated() {
        guard case .number(let d) = x, d == d.rounded(), d >= 0, d <= 9 else {
          let shown: String
          if case .number(let d) = x { shown = d == d.rounded() ? String(Int(d)) : String(d) } else { shown = x.typeName }
          throw fail("\(at) row \(r + 1) column \(c + 1) is \(shown); colours must be integers 0-9")
        }
        cells.append(UInt8(d))
      }
    }
    guard width >= 1 else { throw fail("\(at) has empty rows") }
    guard rows.count <= maxSide, width <= maxSide else {
      throw fail("\(at) is \(rows.count)x\(width); ARC grids are at most \(maxSide)x\(maxSide)")
    }
    return Grid(rows: rows.count, columns: width, cells: cells)
  }

  /// The task as JSON text (`{"train": [...], "test": [...]}` in the original key order).
  public func jsonText() -> String {
    func grid(_ g: Grid) -> String { "[" + g.rowList.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" }.joined(separator: ", ") + "]" }
    let parts = lists.map { list in
      "\"\(list.key)\": [" + list.pairs.map { "{\"input\": \(grid($0.input)), \"output\": \(grid($0.output))}" }.joined(separator: ", ") + "]"
    }
    return "{" + parts.joined(separator: ", ") + "}"
  }
}

/// One augmentation of an ARC task: a dihedral transform and a permutation of colours 1...9.
public struct ARCAugmentation: Equatable, Hashable, Sendable {
  /// Dihedral transform 0...7 (spec data §4.4).
  public var transform: Int
  /// `colourMap[c]` replaces colour c; `colourMap[0] == 0`. 10 entries.
  public var colourMap: [UInt8]

  /// The identity (the original puzzle).
  public static let identity = ARCAugmentation(transform: 0, colourMap: (0...9).map { UInt8($0) })

  /// Creates an augmentation; the map must permute 0...9 and fix 0.
  public init(transform: Int, colourMap: [UInt8]) {
    precondition((0..<8).contains(transform), "dihedral transform must be 0...7")
    precondition(colourMap.count == 10 && colourMap[0] == 0 && Set(colourMap) == Set(0...9), "bad colour map")
    self.transform = transform
    self.colourMap = colourMap
  }

  /// Draws one: transform first, then the permutation of 1...9.
  public static func random(using rng: inout HRMRandom) -> ARCAugmentation {
    let t = rng.int(0, 7)
    let perm = rng.permutation(9).map { UInt8($0 + 1) }
    return ARCAugmentation(transform: t, colourMap: [0] + perm)
  }

  /// Applies the colour map to every cell, then the transform.
  public func apply(_ g: Grid) -> Grid { Dihedral.apply(transform, to: g.mapped(colourMap)) }

  /// The augmentation that undoes this one (spec data §6.3: undo the geometry, then the colours).
  ///
  /// Colour maps commute with geometry, so the inverse has the same form.
  public var inverse: ARCAugmentation {
    var inv = [UInt8](repeating: 0, count: 10)
    for (c, m) in colourMap.enumerated() { inv[Int(m)] = UInt8(c) }
    return ARCAugmentation(transform: Dihedral.inverse[transform], colourMap: inv)
  }

  /// The puzzle name of this augmentation of task `task`: `<task>_t<k>_<m0..m9>`, or `task` for the identity.
  public func puzzleName(task: String) -> String {
    self == .identity ? task : "\(task)_t\(transform)_" + colourMap.map(String.init).joined()
  }

  /// Parses the suffix of an augmented puzzle name; nil for un-augmented names.
  ///
  /// Returns the task name and the augmentation: the last two `_` fields are `t<k>` and ten digits.
  public static func parse(puzzleName: String) -> (task: String, augmentation: ARCAugmentation)? {
    let fields = puzzleName.split(separator: "_", omittingEmptySubsequences: false)
    guard fields.count >= 3 else { return nil }
    let (tf, mf) = (fields[fields.count - 2], fields[fields.count - 1])
    guard tf.first == "t", let t = Int(tf.dropFirst()), (0..<8).contains(t), mf.count == 10 else { return nil }
    let map = mf.compactMap { $0.wholeNumberValue.map(UInt8.init) }
    guard map.count == 10, map[0] == 0, Set(map) == Set(0...9) else { return nil }
    return (fields.dropLast(2).joined(separator: "_"), ARCAugmentation(transform: t, colourMap: map))
  }
}

/// The ARC token encoding and puzzle hash.
public enum ARCEncoding {
  /// Canvas side.
  public static let side = 30
  /// Tokens per example (30·30).
  public static let seqLen = 900
  /// Token ids: 0 PAD, 1 EOS, 2...11 colours 0...9.
  public static let vocabSize = 12
  /// Padding token.
  public static let pad: UInt8 = 0
  /// End-of-grid border token.
  public static let eos: UInt8 = 1

  /// Writes `g` into a 30x30 canvas at (`r0`, `c0`): colour + 2, EOS row below and EOS column
  /// to the right (when inside the canvas), PAD elsewhere (spec data §4.7).
  public static func canvas(_ g: Grid, rowOffset r0: Int = 0, columnOffset c0: Int = 0) -> [UInt8] {
    precondition(r0 >= 0 && c0 >= 0 && r0 + g.rows <= side && c0 + g.columns <= side, "grid does not fit the canvas")
    var out = [UInt8](repeating: pad, count: seqLen)
    for i in 0..<g.rows {
      for j in 0..<g.columns { out[(r0 + i) * side + c0 + j] = g[i, j] + 2 }
    }
    if r0 + g.rows < side {
      for j in 0..<g.columns { out[(r0 + g.rows) * side + c0 + j] = eos }
    }
    if c0 + g.columns < side {
      for i in 0..<g.rows { out[(r0 + i) * side + c0 + g.columns] = eos }
    }
    return out
  }

  /// The grid of a canvas anchored at the top-left: the largest rectangle of colour tokens
  /// at (0, 0) as the reference's crop computes it (spec data §6.3); may be 0x0.
  public static func crop(_ tokens: [UInt8]) -> Grid {
    precondition(tokens.count == seqLen, "a canvas has 900 tokens")
    var best = (rows: 0, columns: 0)
    var bestArea = 0
    var width = side
    for r in 1...side {
      var c = 0
      while c < width {
        if !(2...11).contains(tokens[(r - 1) * side + c]) {
          width = c
          break
        }
        c += 1
      }
      if r * width > bestArea {
        bestArea = r * width
        best = (r, width)
      }
    }
    var cells: [UInt8] = []
    for i in 0..<best.rows {
      for j in 0..<best.columns { cells.append(tokens[i * side + j] - 2) }
    }
    return Grid(rows: best.rows, columns: best.columns, cells: cells)
  }

  /// Hex SHA-256 of `[rows, columns] ++ cells` (the reference's grid hash).
  public static func gridHash(_ g: Grid) -> String {
    SHA256.hexDigest([UInt8(g.rows), UInt8(g.columns)] + g.cells)
  }

  /// The reference's puzzle hash over every pair of every split (order-independent).
  public static func puzzleHash(_ pairs: [ARCPair]) -> String {
    let strings = pairs.map { gridHash($0.input) + "|" + gridHash($0.output) }.sorted()
    return SHA256.hexDigest(Array(strings.joined(separator: "|").utf8))
  }
}
