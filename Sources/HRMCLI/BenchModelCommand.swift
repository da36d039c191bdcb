// BenchModelCommand.swift: `hrm bench model`, the time of a whole HRM training step (and
// optionally an evaluation batch) on the CPU or a GPU.

import ArgumentParser
import Foundation
import HRMModel
import HRMTensor
import HRMTrain

struct BenchModelCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "model",
    abstract: "Time HRM training steps and evaluation batches (random data, warm-up, median of repeats).")

  @Option(help: "Architecture: tiny (hrm_tiny, the `hrm demo` model; `demo` is the same) or v1 (the reference's default).")
  var arch = "demo"
  @Option(help: "Rows per step.")
  var batch = 64
  @Option(help: "Grid tokens per row (81 Sudoku, 900 Maze/ARC).")
  var seqLen = 81
  @Option(help: "Vocabulary size.")
  var vocab = 11
  @Option(help: "Timed training steps.")
  var repeats = 5
  @Option(help: "Timed evaluation batches (0 = none).")
  var evalRepeats = 0
  @Option(help: "cpu or cuda.")
  var device = "cpu"
  @Flag(help: "After the timed runs, time every kernel of one more training step (and evaluation batch) on the GPU and print where the time goes.")
  var profile = false
  @Option(help: "Kernels listed per profile (the rest summed in one line).")
  var profileTop = 30
  @Flag(help: "Print JSON.")
  var json = false

  func run() throws {
    var c: HRMConfig
    switch arch {
    case "v1": c = HRMConfig()
    case "tiny", "demo": c = TrainConfig.tinyArch()
    default: throw ValidationError("--arch must be tiny (or demo) or v1")
    }
    c.seqLen = seqLen
    c.vocabSize = vocab
    let backend = try DeviceChoice.backend(for: device)
    let r = try ModelBench.run(arch: c, batch: batch, backend: backend, repeats: repeats, evalRepeats: evalRepeats,
                                 profile: profile)
    if json {
      let e = JSONEncoder()
      e.outputFormatting = [.sortedKeys]
      print(String(data: try e.encode(r), encoding: .utf8) ?? "")
    } else {
      print(String(format: "%@: arch %@, %d parameters, batch %d x %d tokens: train step %.1f ms (%.0f examples/s)",
                   r.backend, arch, r.parameters, batch, seqLen, r.trainStepMs, r.examplesPerSecond))
      if let e = r.evalBatchMs { print(String(format: "  evaluation batch (%d segments): %.1f ms", c.haltMaxSteps, e)) }
      if profile {
        printProfile("training step", r.trainProfile ?? [])
        if evalRepeats > 0 { printProfile("evaluation batch", r.evalProfile ?? []) }
      }
    }
  }

  /// A table of device time per kernel: calls, total, mean per call, share of the total.
  private func printProfile(_ what: String, _ rows: [KernelTime]) {
    guard !rows.isEmpty else {
      print("  profile of one \(what): not available on this device (GPU backends only)")
      return
    }
    let total = rows.reduce(0) { $0 + $1.milliseconds }
    print(String(format: "  profile of one %@: %.2f ms of device time in %d calls", what, total,
                 rows.reduce(0) { $0 + $1.calls }))
    print("        ms   share   calls   us/call  kernel")
    func line(_ ms: Double, _ calls: Int, _ name: String) {
      print(String(format: "  %8.3f  %5.1f%%  %6d  %8.2f  %@", ms, 100 * ms / total, calls, 1000 * ms / Double(max(calls, 1)), name))
    }
    for r in rows.prefix(max(profileTop, 0)) { line(r.milliseconds, r.calls, r.name) }
    let rest = rows.dropFirst(max(profileTop, 0))
    if !rest.isEmpty {
      line(rest.reduce(0) { $0 + $1.milliseconds }, rest.reduce(0) { $0 + $1.calls }, "(\(rest.count) more)")
    }
  }
}
