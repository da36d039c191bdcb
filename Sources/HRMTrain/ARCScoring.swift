// ARCScoring.swift: ARC pass@K from saved predictions (replaces the reference's arc_eval
// notebook). Every prediction is cropped from its 30x30 canvas, its augmentation is undone
// (geometry, then colours), and the votes of all augmented copies of a task's test input are
// pooled. Candidates rank by (vote count, mean sigmoid(q_halt)), descending; ties keep the
// order in which candidates were first seen. A task counts at K when every one of its test
// inputs has the right grid among the first K candidates (the reference notebook's binary
// score); the fraction of test inputs solved (TRM's partial credit) is reported beside it.

import Foundation
import HRMData
import HRMSupport

public struct ARCScore: Codable, Sendable {
  /// The Ks scored, e.g. [1, 2, 10, 100, 1000].
  public var ks: [Int]
  /// pass@K over tasks (binary per task), in percent, keyed by "pass@K".
  public var overall: [String: Double]
  /// pass@K with partial credit per task, in percent.
  public var overallPartial: [String: Double]
  /// Per task: K -> solved (all test inputs hit), and the rank of each test input's answer
  /// (nil when the answer got no vote).
  public var tasks: [String: TaskScore]
  public var taskCount: Int

  public struct TaskScore: Codable, Sendable {
    public var answerRanks: [Int?]
    public var votes: Int
  }
}

public enum ARCScoring {
  /// One prediction row.
  public struct Row {
    public var puzzleName: String
    public var input: [UInt8]       // 900 tokens
    public var label: [UInt8]       // 900 tokens (ignored cells as PAD)
    public var prediction: [UInt8]  // 900 tokens
    public var qHaltLogit: Float
    public init(puzzleName: String, input: [UInt8], label: [UInt8], prediction: [UInt8], qHaltLogit: Float) {
      self.puzzleName = puzzleName
      self.input = input
      self.label = label
      self.prediction = prediction
      self.qHaltLogit = qHaltLogit
    }
  }

  /// A distinct answer grid with its votes; `confidence` is the mean sigmoid(q_halt) once ranked.
  public struct Candidate {
    public var grid: Grid
    public var votes = 0
    public var confidence = 0.0
    var order: Int
  }

  /// The candidates for one test input of `task`, best first (count, then mean confidence,
  /// then first appearance); `confidence` is the mean.
  public static func rankedCandidates(_ rows: [Row], task: String, input: Grid) -> [Candidate] {
    let votes = collectVotes(rows)
    return rank(Array((votes[task]?[input] ?? [:]).values)).map { c in
      var m = c
      m.confidence = c.confidence / Double(max(c.votes, 1))
      return m
    }
  }

  static func rank(_ candidates: [Candidate]) -> [Candidate] {
    candidates.sorted { a, b in
      if a.votes != b.votes { return a.votes > b.votes }
      let qa = a.confidence / Double(a.votes), qb = b.confidence / Double(b.votes)
      if qa != qb { return qa > qb }
      return a.order < b.order
    }
  }

  /// task -> de-augmented input -> candidates.
  static func collectVotes(_ rows: [Row]) -> [String: [Grid: [Grid: Candidate]]] {
    var votes: [String: [Grid: [Grid: Candidate]]] = [:]
    var seen = 0
    for row in rows {
      let (task, aug) = ARCAugmentation.parse(puzzleName: row.puzzleName) ?? (row.puzzleName, .identity)
      let undo = aug.inverse
      let input = undo.apply(ARCEncoding.crop(row.input))
      let predicted = undo.apply(ARCEncoding.crop(row.prediction))
      let q = 1 / (1 + exp(-Double(row.qHaltLogit)))
      var c = votes[task, default: [:]][input, default: [:]][predicted] ?? Candidate(grid: predicted, order: seen)
      seen += 1
      c.votes += 1
      c.confidence += q
      votes[task, default: [:]][input, default: [:]][predicted] = c
    }
    return votes
  }

  /// Scores `rows`: truth from the un-augmented rows' labels, votes from every row.
  public static func score(_ rows: [Row], ks: [Int] = [1, 2, 10, 100, 1000]) throws -> ARCScore {
    // task -> input grid -> answer grid (from the original, un-augmented puzzles)
    var truth: [String: [(input: Grid, answer: Grid)]] = [:]
    for row in rows where ARCAugmentation.parse(puzzleName: row.puzzleName) == nil {
      let input = ARCEncoding.crop(row.input)
      if truth[row.puzzleName, default: []].contains(where: { $0.input == input }) { continue }
      truth[row.puzzleName, default: []].append((input, ARCEncoding.crop(row.label)))
    }
    let votes = collectVotes(rows)
    var tasks: [String: ARCScore.TaskScore] = [:]
    var solved = [Int: Double](), partial = [Int: Double]()
    for (task, pairs) in truth {
      var ranks: [Int?] = []
      var count = 0
      for (input, answer) in pairs {
        let candidates = rank(Array((votes[task]?[input] ?? [:]).values))
        count += candidates.reduce(0) { $0 + $1.votes }
        ranks.append(candidates.firstIndex { $0.grid == answer }.map { $0 + 1 })
      }
      tasks[task] = ARCScore.TaskScore(answerRanks: ranks, votes: count)
      for k in ks {
        let hits = ranks.filter { ($0 ?? Int.max) <= k }.count
        solved[k, default: 0] += hits == ranks.count ? 1 : 0
        partial[k, default: 0] += Double(hits) / Double(max(ranks.count, 1))
      }
    }
    let n = Double(max(truth.count, 1))
    var overall: [String: Double] = [:], overallPartial: [String: Double] = [:]
    for k in ks {
      overall["pass@\(k)"] = 100 * (solved[k] ?? 0) / n
      overallPartial["pass@\(k)"] = 100 * (partial[k] ?? 0) / n
    }
    return ARCScore(ks: ks, overall: overall, overallPartial: overallPartial, tasks: tasks, taskCount: truth.count)
  }

  /// Reads an `hrm evaluate` predictions folder and the dataset's identifiers.json.
  public static func load(predictions dir: String, datasetPath: String) throws -> [Row] {
    let names = try PuzzleDataset.readIdentifiers(datasetPath: datasetPath)
    func ints(_ f: String) throws -> [Int32] { try NPY.read(path: dir + "/" + f).int32Values(file: dir + "/" + f) }
    let inputs = try ints("inputs.npy"), labels = try ints("labels.npy"), preds = try ints("predictions.npy")
    let ids = try ints("puzzle_identifiers.npy")
    guard let q = try NPY.read(path: dir + "/q_halt_logits.npy").float32Values() else {
      throw HRMError(file: dir + "/q_halt_logits.npy", "expected float32 values")
    }
    let s = ARCEncoding.seqLen
    guard inputs.count == ids.count * s, labels.count == inputs.count, preds.count == inputs.count, q.count == ids.count else {
      throw HRMError(file: dir, "predictions are not ARC canvases of \(s) tokens (sizes disagree)")
    }
    func bytes(_ v: ArraySlice<Int32>) -> [UInt8] { v.map { $0 < 0 || $0 > 255 ? 0 : UInt8($0) } }
    var rows: [Row] = []
    for i in 0..<ids.count where ids[i] != 0 {
      guard Int(ids[i]) < names.count else {
        throw HRMError(file: dir + "/puzzle_identifiers.npy", "identifier \(ids[i]) is not in \(datasetPath)/identifiers.json (\(names.count) names)")
      }
      let r = (i * s)..<((i + 1) * s)
      rows.append(Row(puzzleName: names[Int(ids[i])], input: bytes(inputs[r]), label: bytes(labels[r]),
                      prediction: bytes(preds[r]), qHaltLogit: q[i]))
    }
    return rows
  }
}
