// TrainCommand.swift: `hrm train key=value ...`, the reference's `python pretrain.py` with
// the same hydra-style keys, plus `device=cpu|cuda`.

import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HRMModel
import HRMSupport
import HRMTensor
import HRMTrain

struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train HRM on a dataset folder (reference keys: hrm train data_path=DIR epochs=N ...).",
    discussion: """
      Overrides use the reference's hydra syntax, key=value. Keys:
      \(TrainConfig.keys.map { "  \($0.key.padding(toLength: 28, withPad: " ", startingAt: 0))\($0.help)" }.joined(separator: "\n"))

      Example (the reference README's Sudoku recipe):
        hrm train data_path=data/sudoku-extreme-1k-aug-1000 epochs=20000 eval_interval=2000 \\
          global_batch_size=384 lr=7e-5 puzzle_emb_lr=7e-5 weight_decay=1.0 puzzle_emb_weight_decay=1.0
      """)

  @Argument(help: "key=value overrides (see the list above).")
  var overrides: [String] = []

  func run() throws {
    var config = TrainConfig()
    try config.apply(overrides: overrides)
    try config.validate()
    let backend = try DeviceChoice.backend(for: config.device)
    let trainer = try Trainer(config: config, backend: backend)
    try TrainRunner(trainer: trainer).run()
  }
}

/// Drives a Trainer with a progress bar, evaluation printouts, the run folder's logs and
/// checkpoints, and `resume=`.
struct TrainRunner {
  let trainer: Trainer
  var quiet = false
  var saveCheckpoints = true
  var examplePrinter: ((Trainer) -> Void)? = nil

  /// The run folder: checkpoint_path, else the resumed checkpoint's folder, else the reference's default.
  static func runDirectory(_ c: TrainConfig) -> String {
    if let p = c.checkpointPath { return p }
    if let r = c.resume {
      var isDir: ObjCBool = false
      if FileManager.default.fileExists(atPath: r, isDirectory: &isDir), isDir.boolValue { return r }
      return URL(fileURLWithPath: r).deletingLastPathComponent().path
    }
    let runName = c.runName ?? "run-seed\(c.seed)"
    let dataName = URL(fileURLWithPath: c.dataPath).lastPathComponent.capitalized
    return "checkpoints/\(dataName) ACT-swift/\(runName)"
  }

  func run() throws {
    let c = trainer.config
    let checkpointDir = TrainRunner.runDirectory(c)
    log("hrm train: \(trainer.backend.name), \(trainer.store.parameterCount) parameters, "
        + "\(trainer.totalSteps) steps, batch \(c.globalBatchSize), data \(c.dataPath)")
    log("  arch: hidden \(c.arch.hiddenSize), heads \(c.arch.numHeads), H \(c.arch.hLayers)x\(c.arch.hCycles), "
        + "L \(c.arch.lLayers)x\(c.arch.lCycles), halt_max_steps \(c.arch.haltMaxSteps), "
        + "\(c.arch.posEncodings), \(c.lossType.rawValue)")
    var resumed: TrainingStateInfo? = nil
    if let r = c.resume {
      resumed = try trainer.restore(from: r)
      log("  resumed from \(trainer.lastCheckpoint ?? r) at step \(trainer.step)")
    }
    if saveCheckpoints {
      let recorder = try RunRecorder(trainer: trainer, directory: checkpointDir, resumed: resumed)
      recorder.onSave = { path in self.log("  saved \(path)") }
      trainer.observer = recorder
      log("  run folder: \(checkpointDir) (metrics.jsonl, TensorBoard events, checkpoints)")
    }
    let bar = ProgressBar(total: trainer.totalSteps, label: "train")
    let start = Date()
    let firstStep = trainer.step
    trainer.onStep = { step, m in
      let rate = Double((step - firstStep) * c.globalBatchSize) / max(Date().timeIntervalSince(start), 1e-9)
      let extra = String(format: "loss %.4f acc %.3f exact %.3f steps %.2f %.0f ex/s",
                         (m["lm_loss"] ?? 0) + 0.5 * ((m["q_halt_loss"] ?? 0) + (m["q_continue_loss"] ?? 0)),
                         m["accuracy"] ?? 0, m["exact_accuracy"] ?? 0, m["steps"] ?? 0, rate)
      bar.update(completed: step, extra: extra)
    }
    trainer.onEval = { step, m in
      if isatty(STDERR_FILENO) != 0 { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
      log(String(format: "eval @ step %d: accuracy %.4f exact_accuracy %.4f q_halt_accuracy %.4f steps %.2f lm_loss %.4f (count %.0f)",
                 step, m["accuracy"] ?? 0, m["exact_accuracy"] ?? 0, m["q_halt_accuracy"] ?? 0, m["steps"] ?? 0,
                 m["lm_loss"] ?? 0, m["count"] ?? 0))
      examplePrinter?(trainer)
    }
    try trainer.run()
    bar.finish()
    log(String(format: "done: %d steps in %.1f s", trainer.step, Date().timeIntervalSince(start)))
  }

  func log(_ s: String) {
    if !quiet {
      print(s)
      fflush(stdout)  // keep stdout lines in order with the progress bar on stderr
    }
  }
}
