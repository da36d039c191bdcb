// PuzzleVisualizer.swift: `hrm visualize`, one self-contained HTML page for browsing a dataset
// folder (and, optionally, model predictions) in a browser (spec data §7, redesigned).
//
// The page has inline CSS and JavaScript and the data embedded as JSON: no network, no build
// step, no folder picker. It lists sets (train, test, predictions), the groups of a set, the
// puzzles of a group and every example of a puzzle, with input, label (and prediction, cells
// that differ from the label outlined in red) side by side. Grids are drawn as HTML cells:
// ARC canvases with the ARC palette (spec §6.3; PAD white, EOS light grey), Sudoku as a 9x9
// board with digits, mazes as walls/free/S/G/path. With per-step predictions a slider picks
// the ACT segment shown.
//
// To keep the page small for datasets of millions of examples, only the first `maxGroups`
// groups of each set, the first `maxPuzzles` puzzles of each group and the first
// `maxExamples` examples of each puzzle are embedded; the page says so where it cuts.
//
// Predictions folder: the one `hrm evaluate` writes (docs/predictions.md): inputs.npy and
// labels.npy and predictions.npy [N, S], puzzle_identifiers.npy [N], optional
// q_halt_logits.npy [N] (f4), segments.npy [N] and step_predictions.npy [K, N, S]; or, for
// hand-made or small sets, one predictions.json holding the same arrays under the same names
// ({"inputs": [[tok, ...], ...], "labels": ..., "predictions": ..., "puzzle_identifiers": [...],
// "step_predictions": [[[tok, ...] per row] per step]}; all but the first three optional).
// Labels may hold -100 (ignored cells), drawn as padding. Rows are grouped by identifier.
// When metrics.json names the dataset (`data_path`) and it exists, its identifiers.json gives
// the puzzle names. When every identifier is 0 (Sudoku, mazes) each row is its own group.

import Foundation
import HRMSupport

/// Limits and inputs of the visualiser page.
public struct VisualizerOptions: Equatable, Sendable {
  /// Groups embedded per set.
  public var maxGroups: Int
  /// Puzzles embedded per group.
  public var maxPuzzles: Int
  /// Examples embedded per puzzle.
  public var maxExamples: Int
  /// Prediction rows embedded.
  public var maxPredictionRows: Int
  /// How to draw grids; nil = guess from the data (`PuzzleKind.guess`).
  public var kind: PuzzleKind?

  /// Defaults that keep an ARC page at a few MB.
  public init(maxGroups: Int = 30, maxPuzzles: Int = 8, maxExamples: Int = 10, maxPredictionRows: Int = 200, kind: PuzzleKind? = nil) {
    self.kind = kind
    self.maxGroups = maxGroups
    self.maxPuzzles = maxPuzzles
    self.maxExamples = maxExamples
    self.maxPredictionRows = maxPredictionRows
  }
}

/// How grids are drawn.
public enum PuzzleKind: String, CaseIterable, Sendable {
  /// ARC canvases in the ARC palette.
  case arc
  /// A 9x9 board with digits.
  case sudoku
  /// Walls, free cells, S, G and the path.
  case maze
  /// One colour per token id.
  case generic

  /// Guesses the kind from the sequence length and the vocabulary size (for predictions
  /// without a dataset: the largest token + 1): 81 tokens of at most 11 ids are Sudoku, at
  /// most 6 ids a maze, 900 tokens of at most 12 ids ARC.
  public static func guess(seqLen: Int, vocabSize: Int) -> PuzzleKind {
    if seqLen == 81 && vocabSize <= 11 { return .sudoku }
    if vocabSize <= 6 { return .maze }
    if seqLen == 900 && vocabSize <= 12 { return .arc }
    return .generic
  }
}

/// Builds the visualiser page.
public enum PuzzleVisualizer {
  /// Token characters in the embedded strings: token t is `alphabet[t]`; negative = ".".
  static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

  /// Whether `path` holds a predictions folder (predictions.json or predictions.npy).
  public static func isPredictionsFolder(_ path: String) -> Bool {
    ["predictions.json", "predictions.npy"].contains { FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent($0)) }
  }

  /// The HTML page for the dataset at `datasetPath` and/or the predictions folder `predictionsPath`.
  public static func html(datasetPath: String?, predictionsPath: String?, options: VisualizerOptions = VisualizerOptions()) throws -> String {
    guard datasetPath != nil || predictionsPath != nil else { throw HRMError("nothing to show: give a dataset folder or a predictions folder") }
    var sets: [String] = []
    var identifiers: [String] = []
    var kind: PuzzleKind? = nil
    var side = 0
    if let predictionsPath = predictionsPath {
      if let d = datasetPath ?? dataPath(fromMetricsIn: predictionsPath) { identifiers = (try? PuzzleDataset.readIdentifiers(datasetPath: d)) ?? [] }
      let (json, seqLen, vocab) = try predictionsSet(path: predictionsPath, identifiers: identifiers, options: options)
      sets.append(json)
      side = Int(Double(seqLen).squareRoot())
      kind = PuzzleKind.guess(seqLen: seqLen, vocabSize: vocab)
    }
    if let d = datasetPath {
      identifiers = try PuzzleDataset.readIdentifiers(datasetPath: d)
      var found = false
      for split in PuzzleDataset.splitNames {
        let folder = (d as NSString).appendingPathComponent(split)
        guard FileManager.default.fileExists(atPath: folder) else { continue }
        found = true
        let meta = try DatasetMetadata.read(path: (folder as NSString).appendingPathComponent("dataset.json"))
        if kind == nil {
          kind = PuzzleKind.guess(seqLen: meta.seqLen, vocabSize: meta.vocabSize)
          side = Int(Double(meta.seqLen).squareRoot())
        }
        for set in meta.sets {
          sets.append(try datasetSet(folder: folder, split: split, set: set, multipleSets: meta.sets.count > 1, identifiers: identifiers, options: options))
        }
      }
      guard found else { throw HRMError(file: d, "no train/ or test/ folder; is this a dataset folder?") }
    }
    if let k = options.kind { kind = k }
    let title = (datasetPath ?? predictionsPath!).split(separator: "/").last.map(String.init) ?? "dataset"
    var data = "{\"title\": " + PythonJSON.string(title) + ", \"kind\": \"\((kind ?? .generic).rawValue)\", \"side\": \(side), \"sets\": ["
    data += sets.joined(separator: ", ") + "]}"
    // Inside <script>, "</" would end the element early.
    data = data.replacingOccurrences(of: "</", with: "<\\/")
    return pageTemplate.replacingOccurrences(of: "__TITLE__", with: escapeHTML(title)).replacingOccurrences(of: "__DATA__", with: data)
  }

  /// Writes the page to `output` atomically.
  public static func write(datasetPath: String?, predictionsPath: String?, output: String, options: VisualizerOptions = VisualizerOptions()) throws {
    try AtomicFile.write(text: try html(datasetPath: datasetPath, predictionsPath: predictionsPath, options: options), to: output)
  }

  /// The `data_path` recorded in `<folder>/metrics.json` by `hrm evaluate`, when that folder exists.
  static func dataPath(fromMetricsIn folder: String) -> String? {
    guard let data = FileManager.default.contents(atPath: (folder as NSString).appendingPathComponent("metrics.json")),
      let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let p = root["data_path"] as? String,
      FileManager.default.fileExists(atPath: (p as NSString).appendingPathComponent("identifiers.json"))
    else { return nil }
    return p
  }

  static func escapeHTML(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
  }

  /// One row of tokens as a JSON string literal (token t is `alphabet[t]`, negative tokens ".").
  public static func tokenString(_ row: [Int32]) -> String {
    var s = "\""
    for t in row { s.append(t < 0 ? "." : t < alphabet.count ? alphabet[Int(t)] : "?") }
    return s + "\""
  }

  static func name(_ id: Int32, _ identifiers: [String]) -> String {
    id >= 0 && Int(id) < identifiers.count ? identifiers[Int(id)] : "<unknown>"
  }

  /// The JSON of one dataset subset: the first groups, puzzles and examples.
  static func datasetSet(folder: String, split: String, set: String, multipleSets: Bool, identifiers: [String], options: VisualizerOptions) throws -> String {
    func vector(_ array: String) throws -> [Int32] {
      let file = PuzzleSet.path(of: array, set: set, in: folder)
      return try NPY.read(path: file).int32Values(file: file)
    }
    let groupIndices = try vector("group_indices")
    let puzzleIndices = try vector("puzzle_indices")
    let puzzleIds = try vector("puzzle_identifiers")
    let inputs = try NPYRows(path: PuzzleSet.path(of: "inputs", set: set, in: folder))
    let labels = try NPYRows(path: PuzzleSet.path(of: "labels", set: set, in: folder))
    let groupCount = max(0, groupIndices.count - 1)
    let shownGroups = min(groupCount, options.maxGroups)
    var groups: [String] = []
    for g in 0..<shownGroups {
      let (p0, p1) = (Int(groupIndices[g]), Int(groupIndices[g + 1]))
      guard p0 >= 0, p1 <= puzzleIds.count, p0 <= p1 else { throw HRMError(file: PuzzleSet.path(of: "group_indices", set: set, in: folder), "group \(g) points outside the puzzles") }
      var puzzles: [String] = []
      for p in p0..<min(p1, p0 + options.maxPuzzles) {
        let (e0, e1) = (Int(puzzleIndices[p]), Int(puzzleIndices[p + 1]))
        guard e0 >= 0, e1 <= inputs.rows, e0 <= e1 else { throw HRMError(file: PuzzleSet.path(of: "puzzle_indices", set: set, in: folder), "puzzle \(p) points outside the examples") }
        var examples: [String] = []
        for e in e0..<min(e1, e0 + options.maxExamples) {
          examples.append("{\"index\": \(e), \"input\": \(tokenString(inputs.row(e))), \"label\": \(tokenString(labels.row(e)))}")
        }
        puzzles.append(
          "{\"index\": \(p), \"id\": \(puzzleIds[p]), \"name\": \(PythonJSON.string(name(puzzleIds[p], identifiers))), \"total\": \(e1 - e0), \"examples\": [" + examples.joined(separator: ", ") + "]}")
      }
      groups.append("{\"index\": \(g), \"total\": \(p1 - p0), \"puzzles\": [" + puzzles.joined(separator: ", ") + "]}")
    }
    let label = multipleSets ? "\(split)/\(set)" : split
    return "{\"name\": \(PythonJSON.string(label)), \"total\": \(groupCount), \"predictions\": false, \"groups\": [" + groups.joined(separator: ", ") + "]}"
  }

  /// The JSON of a predictions folder, rows grouped by puzzle identifier; plus seq_len and a vocabulary guess.
  static func predictionsSet(path: String, identifiers: [String], options: VisualizerOptions) throws -> (String, Int, Int) {
    var inputs: [[Int32]] = []
    var labels: [[Int32]] = []
    var preds: [[Int32]] = []
    var ids: [Int32]? = nil
    var steps: [[[Int32]]]? = nil  // [K][n][S]
    var halt: [Float]? = nil
    var segments: [Int32]? = nil
    let jsonPath = (path as NSString).appendingPathComponent("predictions.json")
    var total = 0
    var n = 0
    if FileManager.default.fileExists(atPath: jsonPath) {
      guard let data = FileManager.default.contents(atPath: jsonPath),
        let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
      else { throw HRMError(file: jsonPath, "expected a JSON object with \"inputs\", \"labels\" and \"predictions\"") }
      func matrix(_ key: String) throws -> [[Int32]] {
        guard let rows = root[key] as? [[NSNumber]] else { throw HRMError(file: jsonPath, "key \"\(key)\" must be a list of token lists") }
        return rows.map { $0.map { Int32(truncating: $0) } }
      }
      inputs = try matrix("inputs")
      labels = try matrix("labels")
      preds = try matrix("predictions")
      total = inputs.count
      n = min(total, options.maxPredictionRows)
      if root["puzzle_identifiers"] != nil {
        guard let v = root["puzzle_identifiers"] as? [NSNumber] else { throw HRMError(file: jsonPath, "key \"puzzle_identifiers\" must be a list of integers") }
        ids = v.map { Int32(truncating: $0) }
      }
      if root["step_predictions"] != nil {
        guard let v = root["step_predictions"] as? [[[NSNumber]]] else {
          throw HRMError(file: jsonPath, "key \"step_predictions\" must be a list (steps) of lists (rows) of token lists")
        }
        steps = v.map { $0.prefix(n).map { $0.map { Int32(truncating: $0) } } }
      }
      (inputs, labels, preds) = (Array(inputs.prefix(n)), Array(labels.prefix(n)), Array(preds.prefix(n)))
    } else {
      func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name + ".npy") }
      func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: file(name)) }
      let i = try NPYRows(path: file("inputs"))
      let l = try NPYRows(path: file("labels"))
      let p = try NPYRows(path: file("predictions"))
      total = i.rows
      n = min(total, options.maxPredictionRows)
      for (name, rows) in [("inputs", i), ("labels", l), ("predictions", p)] {
        guard rows.rows == total, rows.shape.count == 2, rows.shape[1] == i.shape.last! else {
          throw HRMError(file: file(name), "must be an [N, S] array matching inputs.npy \(NPY.shapeText(i.shape))")
        }
      }
      inputs = (0..<n).map { i.row($0) }
      labels = (0..<n).map { l.row($0) }
      preds = (0..<n).map { p.row($0) }
      if exists("puzzle_identifiers") { ids = try NPY.read(path: file("puzzle_identifiers")).int32Values(file: file("puzzle_identifiers")) }
      if exists("segments") { segments = try NPY.read(path: file("segments")).int32Values(file: file("segments")) }
      if exists("q_halt_logits") { halt = try NPY.read(path: file("q_halt_logits")).float32Values() }
      if exists("step_predictions") {
        let s = try NPYRows(path: file("step_predictions"))
        let seq = i.shape.last!
        guard s.shape.count == 3, s.shape[1] == total, s.shape[2] == seq else {
          throw HRMError(file: file("step_predictions"), "must be a [K, N, S] array with N = \(total), S = \(seq); found \(NPY.shapeText(s.shape))")
        }
        steps = (0..<s.shape[0]).map { k in (0..<n).map { r in s.values(at: (k * total + r) * seq, count: seq) } }
      }
    }
    guard let seqLen = inputs.first?.count else { throw HRMError(file: path, "the predictions hold no rows") }
    for (what, m) in [("labels", labels), ("predictions", preds)] where m.count != inputs.count || m.contains(where: { $0.count != seqLen }) {
      throw HRMError(file: path, "\(what) must have as many rows as inputs, each of \(seqLen) tokens")
    }
    if let s = steps, s.contains(where: { $0.count != n || $0.contains { $0.count != seqLen } }) {
      throw HRMError(file: path, "step_predictions must hold, for every step, one \(seqLen)-token row per input row")
    }
    if let v = ids, v.count < n { throw HRMError(file: path, "puzzle_identifiers has \(v.count) entries for \(total) rows") }
    let vocab = Int(([inputs, labels, preds].flatMap { $0.flatMap { $0 } }.max() ?? 0)) + 1
    // Group rows by identifier, in order of first appearance.
    var order: [Int32] = []
    var rowsOf: [Int32: [Int]] = [:]
    // Sudoku and maze rows all carry identifier 0: then every row is its own group.
    let byIdentifier = ids.map { v in v.prefix(n).contains { $0 != 0 } } ?? false
    for r in 0..<n {
      let id = byIdentifier ? ids![r] : Int32(r)
      if rowsOf[id] == nil { order.append(id) }
      rowsOf[id, default: []].append(r)
    }
    var groups: [String] = []
    for (g, id) in order.enumerated() {
      let examples = rowsOf[id]!.map { r -> String in
        var e = "{\"index\": \(r), \"input\": \(tokenString(inputs[r])), \"label\": \(tokenString(labels[r])), \"prediction\": \(tokenString(preds[r]))"
        if let s = steps { e += ", \"steps\": [" + s.map { tokenString($0[r]) }.joined(separator: ", ") + "]" }
        if let h = halt, r < h.count, h[r].isFinite { e += ", \"halt\": \(String(format: "%.4f", 1 / (1 + exp(-Double(h[r])))))" }
        if let s = segments, r < s.count { e += ", \"segments\": \(s[r])" }
        return e + "}"
      }
      let name = byIdentifier ? name(id, identifiers) : "row \(id)"
      groups.append(
        "{\"index\": \(g), \"total\": 1, \"puzzles\": [{\"index\": \(g), \"id\": \(id), \"name\": \(PythonJSON.string(name)), \"total\": \(examples.count), \"examples\": [" + examples.joined(separator: ", ") + "]}]}")
    }
    let exact = (0..<n).filter { r in zip(preds[r], labels[r]).allSatisfy { $1 < 0 || $0 == $1 } }.count
    var note = "\(exact) of \(n) rows predicted exactly"
    if total > n { note += "; showing the first \(n) of \(total) prediction rows" }
    return ("{\"name\": \"predictions\", \"total\": \(groups.count), \"predictions\": true, \"note\": \(PythonJSON.string(note)), \"groups\": [" + groups.joined(separator: ", ") + "]}", seqLen, vocab)
  }
}
