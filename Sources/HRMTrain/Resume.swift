// Resume.swift: the run folder a training run writes, and how it is picked up again.
//
//   <run>/config.json                 the resolved TrainConfig (sorted keys)
//   <run>/metrics.jsonl               one line per train step / evaluation (MetricsLog)
//   <run>/events.out.tfevents.*       the same scalars for TensorBoard (train/..., eval/...)
//   <run>/step_N.safetensors          weights (reference names), every checkpoint
//   <run>/step_N.state.safetensors    training state for `resume=` (TrainingState.swift)
//
// Checkpoints are written after every evaluation (checkpoint_every_eval, else only the
// final one), every checkpoint_interval steps when set, and pruned to the newest
// checkpoint_keep. `resume=PATH` restores the trainer and cuts both logs back to where the
// checkpoint saw them, so the finished folder equals the one an uninterrupted run leaves.

import Foundation
import HRMSupport

/// Writes a run folder while a `Trainer` runs (set it as the trainer's observer).
public final class RunRecorder: TrainerObserver {
  /// The run folder.
  public let directory: String
  /// metrics.jsonl.
  public let metrics: MetricsLog
  /// The TensorBoard event file.
  public let events: TensorBoardWriter
  /// Called with the weights path after every checkpoint.
  public var onSave: ((String) -> Void)?
  /// Whether checkpoints are written at all.
  public var saveCheckpoints = true
  let config: TrainConfig

  /// Prepares `directory` for `trainer`: writes config.json and opens the logs, continuing
  /// them at `resumed`'s position when the trainer was restored from a checkpoint.
  public init(trainer: Trainer, directory: String, resumed: TrainingStateInfo? = nil) throws {
    self.directory = directory
    self.config = trainer.config
    do {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    } catch {
      throw HRMError(file: directory, "cannot create the run folder: \(error.localizedDescription)")
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    try AtomicFile.write(try encoder.encode(trainer.config), to: (directory as NSString).appendingPathComponent("config.json"))
    metrics = try MetricsLog(path: (directory as NSString).appendingPathComponent("metrics.jsonl"),
                             keepLines: resumed.map { $0.logs.metricsLines })
    let eventsResume = resumed.flatMap { r in r.logs.eventsFile.map { (name: $0, bytes: r.logs.eventsBytes) } }
    events = try TensorBoardWriter(directory: directory, resume: eventsResume)
  }

  /// Where the logs are now.
  public var logPosition: LogPosition {
    LogPosition(metricsLines: metrics.lines, eventsFile: events.fileName, eventsBytes: events.bytes)
  }

  /// Logs the step's metrics and checkpoints every checkpoint_interval steps.
  public func trainerDidStep(_ trainer: Trainer, metrics m: LoggedMetrics) throws {
    log(trainer.step, "train", m.values)
    if trainer.checkpointDue(afterEvaluation: false) { try save(trainer) }
  }

  /// Logs the evaluation and checkpoints (every evaluation, or only the final one).
  public func trainerDidEvaluate(_ trainer: Trainer, metrics m: LoggedMetrics?) throws {
    if let m = m { log(trainer.step, "eval", m.values) }
    if trainer.checkpointDue(afterEvaluation: true) { try save(trainer) }
  }

  func log(_ step: Int, _ split: String, _ values: [String: Double]) {
    metrics.append(step: step, split: split, values: values)
    events.add(step: step, values: values.sorted { $0.key < $1.key }.map { ("\(split)/\($0.key)", $0.value) })
  }

  /// Writes step_N.safetensors + step_N.state.safetensors now and prunes old checkpoints.
  @discardableResult
  public func save(_ trainer: Trainer) throws -> String? {
    guard saveCheckpoints else { return nil }
    metrics.sync()
    events.sync()
    let path = (directory as NSString).appendingPathComponent("step_\(trainer.step).safetensors")
    try trainer.saveCheckpoint(to: path, logs: logPosition)
    if let keep = config.checkpointKeep { prune(keep: keep) }
    onSave?(path)
    return path
  }

  /// Deletes all but the newest `keep` checkpoints (both files of each).
  func prune(keep: Int) {
    let steps = TrainingStateFiles.checkpointSteps(in: directory, stateOnly: false)
    guard steps.count > keep else { return }
    for s in steps.dropLast(keep) {
      let weights = (directory as NSString).appendingPathComponent("step_\(s).safetensors")
      // The state file goes first: a state file never outlives its weights.
      try? FileManager.default.removeItem(atPath: TrainingStateFiles.statePath(forWeights: weights))
      try? FileManager.default.removeItem(atPath: weights)
    }
  }
}

extension Trainer {
  /// The run-folder recorder for this rank: rank 0 (or a single process) writes config.json,
  /// the logs and the checkpoints; every other rank gets nil and writes nothing.
  public func makeRecorder(directory: String, resumed: TrainingStateInfo? = nil) throws -> RunRecorder? {
    isPrimary ? try RunRecorder(trainer: self, directory: directory, resumed: resumed) : nil
  }
}
