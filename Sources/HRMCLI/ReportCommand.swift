// ReportCommand.swift: `hrm report RUN_DIR [--output FILE]`, a self-contained HTML page of a
// training run's curves (loss, accuracy, ACT steps, evaluations) from its metrics.jsonl.

import ArgumentParser
import Foundation
import HRMSupport
import HRMTrain

struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report",
    abstract: "Draw a training run's curves into one HTML file (inline SVG, no network).",
    discussion: "RUN_DIR is a train run's checkpoint_path (it holds metrics.jsonl and config.json).")

  @Argument(help: "The run folder.")
  var runDir: String

  @Option(help: "Output file (default: RUN_DIR/report.html).")
  var output: String?

  func run() throws {
    let html = try RunReport.html(runDirectory: runDir)
    let path = output ?? (runDir as NSString).appendingPathComponent("report.html")
    try AtomicFile.write(text: html, to: path)
    print("wrote \(path)")
  }
}
