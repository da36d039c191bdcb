// RunReport.swift: a self-contained HTML page (inline SVG, no scripts, no network) with a
// run's curves from metrics.jsonl: train loss terms, train accuracy, mean ACT steps, and the
// evaluation metrics, plus the run's config.json. `hrm report RUN_DIR` writes it.

import Foundation
import HRMSupport

/// Builds the HTML report of a run folder.
public enum RunReport {
  /// One chart: a title and named series of (step, value).
  struct Chart {
    var title: String
    var series: [(name: String, points: [(Double, Double)])]
  }

  static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]

  /// The page for the run folder `directory` (reads metrics.jsonl and, if present, config.json).
  public static func html(runDirectory directory: String) throws -> String {
    let metricsPath = (directory as NSString).appendingPathComponent("metrics.jsonl")
    guard FileManager.default.fileExists(atPath: metricsPath) else {
      throw HRMError(file: metricsPath, "no metrics.jsonl in the run folder (is it an hrm train checkpoint_path?)")
    }
    let records = try MetricsLog.read(path: metricsPath)
    guard !records.isEmpty else { throw HRMError(file: metricsPath, "no metric records yet") }
    func series(_ split: String, _ key: String) -> [(Double, Double)] {
      records.filter { $0.split == split }.compactMap { r in r.values[key].map { (Double(r.step), $0) } }
    }
    // Per-row training metrics average over the rows that halted in that step; a step where
    // none halted logs 0 for them (count 0), which is no measurement, so it is left out.
    func halting(_ key: String) -> [(Double, Double)] {
      records.filter { $0.split == "train" && ($0.values["count"] ?? 1) > 0 }
        .compactMap { r in r.values[key].map { (Double(r.step), $0) } }
    }
    let charts = [
      Chart(title: "Train loss", series: [("lm_loss", series("train", "lm_loss")), ("q_halt_loss", series("train", "q_halt_loss")),
                                          ("q_continue_loss", series("train", "q_continue_loss"))]),
      Chart(title: "Train accuracy (rows that halted)", series: [("accuracy", halting("accuracy")), ("exact_accuracy", halting("exact_accuracy")),
                                              ("q_halt_accuracy", halting("q_halt_accuracy"))]),
      Chart(title: "Train mean ACT steps (rows that halted)", series: [("steps", halting("steps"))]),
      Chart(title: "Evaluation accuracy", series: [("accuracy", series("eval", "accuracy")), ("exact_accuracy", series("eval", "exact_accuracy")),
                                                   ("q_halt_accuracy", series("eval", "q_halt_accuracy"))]),
      Chart(title: "Evaluation loss and steps", series: [("lm_loss", series("eval", "lm_loss")), ("steps", series("eval", "steps"))]),
    ]
    var body = ""
    let lastStep = records.map(\.step).max() ?? 0
    body += "<p>\(escape(directory)): \(records.filter { $0.split == "train" }.count) train records, "
      + "\(records.filter { $0.split == "eval" }.count) evaluations, last step \(lastStep).</p>\n"
    for chart in charts where chart.series.contains(where: { !$0.points.isEmpty }) { body += svg(chart) }
    let configPath = (directory as NSString).appendingPathComponent("config.json")
    if let config = FileManager.default.contents(atPath: configPath) {
      body += "<h2>config.json</h2>\n<pre>\(escape(String(decoding: config, as: UTF8.self)))</pre>\n"
    }
    return """
      <!DOCTYPE html>
      <html><head><meta charset="utf-8"><title>HRM run \(escape((directory as NSString).lastPathComponent))</title>
      <style>body{font-family:sans-serif;margin:2em;max-width:980px}svg{display:block;margin:1em 0}
      pre{background:#f6f6f6;padding:1em;overflow:auto}text{font-size:12px}</style></head>
      <body><h1>HRM run report</h1>
      \(body)</body></html>

      """
  }

  /// Averages `points` into at most `limit` buckets (long runs stay light).
  static func thin(_ points: [(Double, Double)], limit: Int = 1000) -> [(Double, Double)] {
    let finite = points.filter { $0.1.isFinite }
    guard finite.count > limit else { return finite }
    let per = (finite.count + limit - 1) / limit
    return stride(from: 0, to: finite.count, by: per).map { i in
      let chunk = finite[i..<min(i + per, finite.count)]
      return (chunk.map(\.0).reduce(0, +) / Double(chunk.count), chunk.map(\.1).reduce(0, +) / Double(chunk.count))
    }
  }

  static func svg(_ chart: Chart) -> String {
    let (w, h, left, right, top, bottom) = (900.0, 300.0, 60.0, 160.0, 30.0, 35.0)
    let series = chart.series.map { ($0.name, thin($0.points)) }
    let all = series.flatMap { $0.1 }
    guard let minX = all.map(\.0).min(), let maxX = all.map(\.0).max(),
          var minY = all.map(\.1).min(), var maxY = all.map(\.1).max() else { return "" }
    if maxY == minY { minY -= 0.5; maxY += 0.5 }
    let spanX = max(maxX - minX, 1)
    func px(_ x: Double) -> Double { left + (x - minX) / spanX * (w - left - right) }
    func py(_ y: Double) -> Double { h - bottom - (y - minY) / (maxY - minY) * (h - top - bottom) }
    var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\">\n"
    s += "<text x=\"\(left)\" y=\"18\" font-weight=\"bold\">\(escape(chart.title))</text>\n"
    s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(w - left - right)\" height=\"\(h - top - bottom)\" fill=\"none\" stroke=\"#999\"/>\n"
    for k in 0...4 {
      let y = minY + (maxY - minY) * Double(k) / 4
      s += "<line x1=\"\(left)\" x2=\"\(w - right)\" y1=\"\(fmt(py(y)))\" y2=\"\(fmt(py(y)))\" stroke=\"#eee\"/>"
      s += "<text x=\"\(left - 5)\" y=\"\(fmt(py(y) + 4))\" text-anchor=\"end\">\(label(y))</text>\n"
    }
    s += "<text x=\"\(left)\" y=\"\(h - 12)\">step \(Int(minX))</text>"
    s += "<text x=\"\(w - right)\" y=\"\(h - 12)\" text-anchor=\"end\">step \(Int(maxX))</text>\n"
    for (i, (name, points)) in series.enumerated() where !points.isEmpty {
      let color = colors[i % colors.count]
      let path = points.map { "\(fmt(px($0.0))),\(fmt(py($0.1)))" }.joined(separator: " ")
      if points.count == 1 {
        s += "<circle cx=\"\(fmt(px(points[0].0)))\" cy=\"\(fmt(py(points[0].1)))\" r=\"3\" fill=\"\(color)\"/>\n"
      } else {
        s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(path)\"/>\n"
      }
      let ly = top + 16 * Double(i) + 10
      s += "<line x1=\"\(w - right + 10)\" x2=\"\(w - right + 30)\" y1=\"\(ly)\" y2=\"\(ly)\" stroke=\"\(color)\" stroke-width=\"2\"/>"
      s += "<text x=\"\(w - right + 35)\" y=\"\(ly + 4)\">\(escape(name)) \(label(points.last!.1))</text>\n"
    }
    return s + "</svg>\n"
  }

  static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }
  static func label(_ v: Double) -> String { String(format: abs(v) >= 100 || (abs(v) < 0.01 && v != 0) ? "%.3g" : "%.3f", v) }

  static func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }
}
