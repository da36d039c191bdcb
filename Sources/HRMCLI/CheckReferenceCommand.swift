// CheckReferenceCommand.swift: `hrm check-reference [FIXTURE...]`: replays the PyTorch
// reference's golden fixtures and prints, per tensor, the error against its tolerance, then
// one PASS/FAIL line.

import ArgumentParser
import Foundation
import HRMSupport
import HRMTensor
import HRMTrain

struct CheckReferenceCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check-reference",
    abstract: "Compare the model with the PyTorch reference's golden fixtures, tensor by tensor.",
    discussion: """
      A fixture is a pair <name>.json + <name>.safetensors (weights, one batch, two ACT training
      steps, every gradient and one optimiser update, written by the reference). With no
      argument, every fixture in ../shared/golden is checked. Exit status 1 if any tensor is
      outside its tolerance.
      """)

  @Argument(help: "Fixtures: paths without extension, or folders holding them; device=cpu|cuda picks the backend (default cpu).")
  var fixtures: [String] = []

  @Flag(help: "Print every tensor, not only the failures and a summary.")
  var verbose = false

  func run() throws {
    var bases: [String] = []
    let device = fixtures.first { $0.hasPrefix("device=") }.map { String($0.dropFirst(7)) } ?? "cpu"
    let paths = fixtures.filter { !$0.hasPrefix("device=") }
    let backend = try DeviceChoice.backend(for: device)
    for path in paths.isEmpty ? ["../shared/golden"] : paths {
      var isDir: ObjCBool = false
      if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        bases += names.filter { $0.hasSuffix(".json") }.sorted().map { path + "/" + String($0.dropLast(5)) }
      } else {
        bases.append(path.hasSuffix(".json") ? String(path.dropLast(5)) : path)
      }
    }
    if bases.isEmpty { throw HRMError("no golden fixtures found (give a path, e.g. ../shared/golden)") }
    var failed = 0, total = 0
    for base in bases {
      let rows = try ReferenceCheck.run(fixture: base, backend: backend)
      let worst = rows.filter { $0.tolerance > 0 }.max { $0.error / $0.tolerance < $1.error / $1.tolerance }
      print("\((base as NSString).lastPathComponent): \(rows.count) tensors on \(backend.name)")
      for row in rows where verbose || !row.passed {
        print(String(format: "  %@ %-60@ error %.3e  tolerance %.0e", row.passed ? "ok  " : "FAIL", row.name as NSString,
                     row.error, row.tolerance))
      }
      if let w = worst {
        print(String(format: "  closest to its tolerance: %@ (%.3e of %.0e)", w.name, w.error, w.tolerance))
      }
      failed += rows.filter { !$0.passed }.count
      total += rows.count
    }
    print("check-reference: \(total - failed) of \(total) tensors within tolerance: \(failed == 0 ? "PASS" : "FAIL")")
    if failed > 0 { throw ExitCode.failure }
  }
}
