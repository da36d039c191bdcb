// EvaluateCommand.swift: `hrm evaluate checkpoint=PATH ...`, the reference's evaluate.py:
// run the test split through the full ACT loop, print and save the metrics, and save the
// predictions as .npy arrays (format in docs/predictions.md) for scoring and visualising.

import ArgumentParser
import Foundation
import HRMData
import HRMModel
import HRMSupport
import HRMTensor
import HRMTrain

struct EvaluateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "evaluate",
    abstract: "Evaluate a checkpoint on a dataset's test split and save its predictions.",
    discussion: """
      Keys (key=value):
        checkpoint=PATH         a step_N.safetensors written by `hrm train` (required)
        data_path=DIR           dataset folder (default: the one the checkpoint was trained on)
        device=cpu|cuda         default: the GPU when usable, else the CPU
        output_dir=DIR          where to save metrics.json and the .npy predictions
                                (default: <checkpoint folder>/eval_<checkpoint name>)
        global_batch_size=N     rows per batch (default: the training batch size)
        max_batches=N           evaluate only the first N batches
        save_steps=true         also save every ACT segment's prediction (step_predictions.npy)
        adaptive_halt=true      stop a row when its Q head says halt (default: the reference's
                                fixed halt_max_steps segments)
      """)

  @Argument(help: "key=value settings (see above).")
  var settings: [String] = []

  func run() throws {
    let kv = try KeyValues(settings, allowed: ["checkpoint", "data_path", "device", "output_dir", "global_batch_size",
                                               "max_batches", "save_steps", "adaptive_halt"])
    let checkpoint = try kv.required("checkpoint")
    let backend = try DeviceChoice.backend(for: kv["device"])
    let (model, config) = try Checkpoint.loadModel(path: checkpoint, backend: backend)
    let dataPath = kv["data_path"] ?? config.dataPath
    let split = try DatasetSplit.load(from: dataPath, split: "test")
    try checkCompatible(split.metadata, config.arch, dataPath: dataPath)
    var evaluator = Evaluator(model: model, globalBatchSize: try kv.int("global_batch_size") ?? config.globalBatchSize)
    evaluator.adaptiveHalting = try kv.bool("adaptive_halt") ?? false
    evaluator.keepStepPredictions = try kv.bool("save_steps") ?? false
    let batches = TestBatches(split: split, sharding: try BatchSharding(globalBatchSize: evaluator.globalBatchSize)).count
    let maxBatches = try kv.int("max_batches")
    let bar = ProgressBar(total: min(batches, maxBatches ?? batches), label: "evaluate")
    let (metrics, outputs) = try evaluator.evaluate(split, maxBatches: maxBatches, keepOutputs: true, progress: bar)
    bar.finish()
    let url = URL(fileURLWithPath: checkpoint)
    let outDir = kv["output_dir"] ?? url.deletingLastPathComponent()
      .appendingPathComponent("eval_" + url.deletingPathExtension().lastPathComponent).path
    for key in ["accuracy", "exact_accuracy", "q_halt_accuracy", "steps", "lm_loss", "q_halt_loss", "count"] {
      print(String(format: "%@ %.6f", key.padding(toLength: 16, withPad: " ", startingAt: 0), metrics[key] ?? 0))
    }
    if let o = outputs {
      try Predictions.write(o, metrics: metrics, checkpoint: checkpoint, dataPath: dataPath, to: outDir)
      print("saved predictions of \(o.count) examples to \(outDir)")
    }
  }
}

/// A checkpoint only runs on data of its vocabulary and sequence length.
func checkCompatible(_ m: DatasetMetadata, _ arch: HRMConfig, dataPath: String) throws {
  if m.vocabSize != arch.vocabSize || m.seqLen != arch.seqLen {
    throw HRMError(file: dataPath, "dataset has vocab_size \(m.vocabSize), seq_len \(m.seqLen) but the checkpoint was trained with vocab_size \(arch.vocabSize), seq_len \(arch.seqLen)")
  }
  if m.numPuzzleIdentifiers > arch.numPuzzleIdentifiers {
    throw HRMError(file: dataPath, "dataset has \(m.numPuzzleIdentifiers) puzzle identifiers, the checkpoint's table only \(arch.numPuzzleIdentifiers)")
  }
}

/// Saved predictions: a folder of .npy arrays plus metrics.json (see docs/predictions.md).
enum Predictions {
  static func write(_ o: EvaluationOutputs, metrics: LoggedMetrics, checkpoint: String, dataPath: String, to dir: String) throws {
    let n = o.count, s = o.seqLen
    try AtomicFile.writeDirectory(at: dir) { tmp in
      func save(_ name: String, _ array: NPYArray) throws { try NPY.write(array, to: tmp + "/" + name) }
      try save("inputs.npy", NPYArray(int32: o.inputs, shape: [n, s]))
      try save("labels.npy", NPYArray(int32: o.labels, shape: [n, s]))
      try save("predictions.npy", NPYArray(int32: o.predictions, shape: [n, s]))
      try save("puzzle_identifiers.npy", NPYArray(int32: o.puzzleIdentifiers, shape: [n]))
      try save("q_halt_logits.npy", NPYArray(float32: o.qHaltLogits, shape: [n]))
      try save("segments.npy", NPYArray(int32: o.segments, shape: [n]))
      if !o.stepPredictions.isEmpty {
        try save("step_predictions.npy", NPYArray(int32: o.stepPredictions.flatMap { $0 }, shape: [o.stepPredictions.count, n, s]))
      }
      var json: [String: Any] = ["checkpoint": checkpoint, "data_path": dataPath, "count": n, "seq_len": s]
      json["metrics"] = metrics.values
      let data = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
      try AtomicFile.write(data, to: tmp + "/metrics.json")
    }
  }
}

/// `key=value` settings of a command that is not `hrm train`.
struct KeyValues {
  var values: [String: String] = [:]

  init(_ settings: [String], allowed: [String]) throws {
    for raw in settings {
      guard let eq = raw.firstIndex(of: "=") else { throw HRMError("'\(raw)' is not of the form key=value") }
      let key = String(raw[..<eq]), value = String(raw[raw.index(after: eq)...])
      guard allowed.contains(key) else {
        throw HRMError("unknown key '\(key)' (known: \(allowed.joined(separator: ", ")))")
      }
      values[key] = value
    }
  }

  subscript(key: String) -> String? { values[key] }

  func required(_ key: String) throws -> String {
    guard let v = values[key], !v.isEmpty else { throw HRMError("\(key)=... is required") }
    return v
  }

  func int(_ key: String) throws -> Int? {
    guard let v = values[key] else { return nil }
    guard let i = Int(v), i > 0 else { throw HRMError("\(key)=\(v): expected a positive integer") }
    return i
  }

  func bool(_ key: String) throws -> Bool? {
    guard let v = values[key]?.lowercased() else { return nil }
    switch v {
    case "true", "1", "yes": return true
    case "false", "0", "no": return false
    default: throw HRMError("\(key)=\(v): expected true or false")
    }
  }
}
