// TrainCommand.swift: `hrm train key=value ...`, the reference's `python pretrain.py` with
// the same hydra-style keys, plus `device=cpu|cuda`.
//
// Multi-GPU: under torchrun (RANK/WORLD_SIZE/... set) the process is one rank: it takes
// cuda:<LOCAL_RANK>, gets the NCCL unique id from rank 0 through the TCP rendezvous at
// MASTER_ADDR:MASTER_PORT and trains its slice of every global batch. `gpus=N` without those
// variables makes this process the launcher of N such ranks (WorkerLauncher).

import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HRMCUDA
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
    let environment = ProcessInfo.processInfo.environment
    let job = try DistributedEnvironment.parse(environment)
    if job == nil && config.gpuCount > 1 {
      NCCLCommunicator.configureEnvironment()
      let executable = Bundle.main.executablePath ?? CommandLine.arguments[0]
      let outcome = try WorkerLauncher.run(executable: executable, arguments: Array(CommandLine.arguments.dropFirst()),
                                           count: config.gpuCount, environment: ProcessInfo.processInfo.environment)
      if outcome.status != 0 { throw ExitCode(outcome.status) }
      return
    }
    if let job = job, job.worldSize > 1 {
      try runRank(job, config: config, environment: environment)
      return
    }
    let backend = try DeviceChoice.backend(for: config.device)
    let trainer = try Trainer(config: config, backend: backend)
    try TrainRunner(trainer: trainer).run()
  }

  /// One rank of a data-parallel job: its GPU, the rendezvous, NCCL, then the usual loop
  /// (rank 0 prints, logs and checkpoints).
  func runRank(_ job: DistributedEnvironment, config: TrainConfig, environment: [String: String]) throws {
    if let g = config.gpus, let local = environment["LOCAL_WORLD_SIZE"].flatMap({ Int($0) }), g != local {
      throw HRMError("gpus=\(g) but this node runs \(local) ranks (LOCAL_WORLD_SIZE): drop gpus= under torchrun")
    }
    if config.device == "cpu" {
      throw HRMError("WORLD_SIZE=\(job.worldSize) needs device=cuda: multi-rank training runs over NCCL")
    }
    NCCLCommunicator.configureEnvironment()
    // cuda:<LOCAL_RANK>, unless an explicit device=cuda:N says otherwise (e.g. one visible GPU per process).
    let device = config.device.flatMap { $0.hasPrefix("cuda:") ? $0 : nil } ?? "cuda:\(job.localRank)"
    let backend = try DeviceChoice.backend(for: device)
    let id = job.rank == 0 ? try NCCLCommunicator.uniqueId() : []
    let shared = try TCPRendezvous.exchange(rank: job.rank, worldSize: job.worldSize, host: job.masterAddr,
                                            port: job.rendezvousPort, payload: id, timeout: config.distTimeoutSeconds)
    let comm = try NCCLCommunicator(backend: backend, rank: job.rank, worldSize: job.worldSize, uniqueId: shared,
                                    timeout: config.distTimeoutSeconds)
    let trainer = try Trainer(config: config, backend: backend, communicator: comm)
    var runner = TrainRunner(trainer: trainer)
    runner.quiet = !trainer.isPrimary
    try runner.run()
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
    let ranks = trainer.communicator.map { $0.worldSize > 1 ? " x \($0.worldSize) ranks" : "" } ?? ""
    log("hrm train: \(trainer.backend.name)\(ranks), \(trainer.store.parameterCount) parameters, "
        + "\(trainer.totalSteps) steps, batch \(c.globalBatchSize), data \(c.dataPath)")
    log("  arch: hidden \(c.arch.hiddenSize), heads \(c.arch.numHeads), H \(c.arch.hLayers)x\(c.arch.hCycles), "
        + "L \(c.arch.lLayers)x\(c.arch.lCycles), halt_max_steps \(c.arch.haltMaxSteps), "
        + "\(c.arch.posEncodings), \(c.lossType.rawValue)")
    var resumed: TrainingStateInfo? = nil
    if let r = c.resume {
      resumed = try trainer.restore(from: r)
      log("  resumed from \(trainer.lastCheckpoint ?? r) at step \(trainer.step)")
    }
    if saveCheckpoints, let recorder = try trainer.makeRecorder(directory: checkpointDir, resumed: resumed) {
      recorder.onSave = { path in self.log("  saved \(path)") }
      trainer.observer = recorder
      log("  run folder: \(checkpointDir) (metrics.jsonl, TensorBoard events, checkpoints)")
    }
    let bar = ProgressBar(total: trainer.totalSteps, label: "train")
    let stderrIsTerminal = isatty(STDERR_FILENO) != 0
    let start = Date()
    let firstStep = trainer.step
    if !trainer.isPrimary {  // other ranks train silently
      try trainer.run()
      return
    }
    trainer.onStep = { step, m in
      let rate = Double((step - firstStep) * c.globalBatchSize) / max(Date().timeIntervalSince(start), 1e-9)
      let extra = String(format: "loss %.4f acc %.3f exact %.3f steps %.2f %.0f ex/s",
                         (m["lm_loss"] ?? 0) + 0.5 * ((m["q_halt_loss"] ?? 0) + (m["q_continue_loss"] ?? 0)),
                         m["accuracy"] ?? 0, m["exact_accuracy"] ?? 0, m["steps"] ?? 0, rate)
      bar.update(completed: step, extra: extra)
      // Logs (stderr not a terminal) also get a plain line every log_interval steps.
      if !stderrIsTerminal && step % c.logInterval == 0 { log("step \(step)/\(trainer.totalSteps): \(extra)") }
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
