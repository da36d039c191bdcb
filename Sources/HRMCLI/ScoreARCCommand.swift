// ScoreARCCommand.swift: `hrm score-arc predictions=DIR`: ARC pass@K from the predictions
// `hrm evaluate` saved, as a table and as JSON.

import ArgumentParser
import Foundation
import HRMData
import HRMSupport
import HRMTrain

struct ScoreARCCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "score-arc",
    abstract: "Score ARC predictions: undo augmentations, vote, report pass@K per task and overall.",
    discussion: """
      Keys (key=value):
        predictions=DIR   a folder written by `hrm evaluate` on an ARC dataset (required)
        data_path=DIR     the dataset (for identifiers.json); default: the one in DIR/metrics.json
        ks=1,2,10,100,1000  the Ks to report
        output=FILE       JSON report (default: DIR/arc_score.json)
      pass@2 is the ARC metric: a task counts when every one of its test inputs has the right
      grid among the two most voted candidates (ties: higher mean Q-halt confidence first).
      """)

  @Argument(help: "key=value settings (see above).")
  var settings: [String] = []

  func run() throws {
    let kv = try KeyValues(settings, allowed: ["predictions", "data_path", "ks", "output"])
    let dir = try kv.required("predictions")
    var dataPath = kv["data_path"]
    if dataPath == nil, let data = FileManager.default.contents(atPath: dir + "/metrics.json"),
       let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
      dataPath = json["data_path"] as? String
    }
    guard let datasetPath = dataPath else { throw HRMError("data_path=... is required (no metrics.json in \(dir))") }
    var ks = [1, 2, 10, 100, 1000]
    if let text = kv["ks"] {
      ks = try text.split(separator: ",").map { s in
        guard let k = Int(s.trimmingCharacters(in: .whitespaces)), k > 0 else { throw HRMError("ks=\(text): expected positive integers") }
        return k
      }
    }
    let rows = try ARCScoring.load(predictions: dir, datasetPath: datasetPath)
    let score = try ARCScoring.score(rows, ks: ks)
    print("tasks: \(score.taskCount), rows: \(rows.count)")
    print("task                 votes  rank of each test answer  " + ks.map { "@\($0) " }.joined())
    for (task, t) in score.tasks.sorted(by: { $0.key < $1.key }) {
      let ranks = t.answerRanks.map { $0.map(String.init) ?? "-" }.joined(separator: ",")
      let hits = ks.map { k -> String in
        let mark = t.answerRanks.allSatisfy { ($0 ?? Int.max) <= k } ? "1" : "0"
        return mark.padding(toLength: "@\(k)".count + 1, withPad: " ", startingAt: 0)
      }
      print(task.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: " %5d  ", t.votes)
            + ranks.padding(toLength: 26, withPad: " ", startingAt: 0) + hits.joined())
    }
    print("K        pass@K (all test inputs)   partial credit")
    for k in ks {
      print(String(format: "%-8d %6.2f %%                   %6.2f %%", k, score.overall["pass@\(k)"] ?? 0,
                   score.overallPartial["pass@\(k)"] ?? 0))
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let out = kv["output"] ?? dir + "/arc_score.json"
    try AtomicFile.write(try encoder.encode(score), to: out)
    print("wrote \(out)")
  }
}
