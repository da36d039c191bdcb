// TrainingState.swift: everything beyond the weights that an exact resume needs, saved as
// a second safetensors file beside each weights checkpoint.
//
//   step_N.safetensors        the model (reference names, f32, H_init/L_init bf16, config
//                             in the metadata): loads in PyTorch with safetensors as-is
//   step_N.state.safetensors  AdamATan2 moments   optimizer.<name>.exp_avg / .exp_avg_sq (F32)
//                             the ACT carry       carry.z_H, carry.z_L (forward dtype),
//                                                 carry.steps, carry.halted (I32),
//                                                 carry.inputs, carry.labels,
//                                                 carry.puzzle_identifiers (I32)
//                             metadata "training_state": JSON of `TrainingStateInfo` (step,
//                             sampler position, exploration RNG, Adam step counts, how much
//                             of the metrics logs belongs to the run so far, and the CRC-32C
//                             of the weights file it pairs with)
//
// Both files carry a CRC-32C of their data section; the weights are written first, so a
// state file exists only beside complete weights. Restoring reproduces the uninterrupted
// run bit for bit on the CPU.

import Foundation
import HRMData
import HRMModel
import HRMSupport
import HRMTensor

/// How far the run's logs had got when a checkpoint was written.
public struct LogPosition: Codable, Equatable, Sendable {
  /// Lines of metrics.jsonl.
  public var metricsLines: Int
  /// Name of the TensorBoard event file in the run folder (nil: none).
  public var eventsFile: String?
  /// Bytes of that event file.
  public var eventsBytes: Int

  /// A position; the default is "nothing logged".
  public init(metricsLines: Int = 0, eventsFile: String? = nil, eventsBytes: Int = 0) {
    self.metricsLines = metricsLines
    self.eventsFile = eventsFile
    self.eventsBytes = eventsBytes
  }
}

/// The scalar part of a training state (the metadata of step_N.state.safetensors).
public struct TrainingStateInfo: Codable, Equatable, Sendable {
  /// Always "hrm-train-state".
  public var format: String
  /// Layout version (1).
  public var version: Int
  /// Optimiser steps taken.
  public var step: Int
  /// The current iteration's evaluation has run.
  public var iterationComplete: Bool
  /// The schedule is over.
  public var finished: Bool
  /// The training sampler's position.
  public var sampler: SamplerState
  /// The ACT exploration generator.
  public var explorationRNG: HRMRandom
  /// AdamATan2's step count per parameter.
  public var adamSteps: [String: Int]
  /// Whether the carry tensors are present.
  public var hasCarry: Bool
  /// CRC-32C of the paired weights file's data section.
  public var weightsCRC32C: String
  /// The logs' extent at save time.
  public var logs: LogPosition

  enum CodingKeys: String, CodingKey {
    case format, version, step, sampler, logs
    case iterationComplete = "iteration_complete", finished, explorationRNG = "exploration_rng"
    case adamSteps = "adam_steps", hasCarry = "has_carry", weightsCRC32C = "weights_crc32c"
  }
}

/// Paths of the two files of one checkpoint.
public enum TrainingStateFiles {
  /// The state file beside a weights file: step_N.safetensors -> step_N.state.safetensors.
  public static func statePath(forWeights path: String) -> String {
    let base = path.hasSuffix(".safetensors") ? String(path.dropLast(".safetensors".count)) : path
    return base + ".state.safetensors"
  }

  /// (weights, state) for `path`: a weights file, a state file, or a run folder (its newest
  /// step_N.state.safetensors). Missing files are one clear error.
  public static func locate(_ path: String) throws -> (weights: String, state: String) {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
      throw HRMError(file: path, "resume: no such file or folder")
    }
    if isDir.boolValue {
      guard let step = checkpointSteps(in: path, stateOnly: true).last else {
        throw HRMError(file: path, "resume: no training-state checkpoint (step_N.state.safetensors) in this folder")
      }
      let weights = (path as NSString).appendingPathComponent("step_\(step).safetensors")
      return (weights, statePath(forWeights: weights))
    }
    if path.hasSuffix(".state.safetensors") {
      let weights = String(path.dropLast(".state.safetensors".count)) + ".safetensors"
      guard FileManager.default.fileExists(atPath: weights) else {
        throw HRMError(file: path, "resume: the weights file \(weights) that belongs to this state is missing")
      }
      return (weights, path)
    }
    let state = statePath(forWeights: path)
    guard FileManager.default.fileExists(atPath: state) else {
      throw HRMError(file: path, "resume: weights only (no \((state as NSString).lastPathComponent) beside it); an exact resume needs the training state")
    }
    return (path, state)
  }

  /// Steps N of the step_N.safetensors (or, with `stateOnly`, step_N.state.safetensors) files in `dir`, ascending.
  public static func checkpointSteps(in dir: String, stateOnly: Bool) -> [Int] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    let suffix = stateOnly ? ".state.safetensors" : ".safetensors"
    var steps = Set<Int>()
    for n in names where n.hasPrefix("step_") && n.hasSuffix(suffix) {
      let middle = n.dropFirst("step_".count).dropLast(suffix.count)
      if let s = Int(middle) { steps.insert(s) }
    }
    return steps.sorted()
  }
}

extension Trainer {
  /// Writes the weights to `path` and the training state beside it (see the file comment).
  public func saveCheckpoint(to path: String, logs: LogPosition = LogPosition()) throws {
    let weightsCRC = try Checkpoint.save(store, config: config, step: step, to: path)
    var items: [SafeTensorsWriter.Item] = []
    var adamSteps: [String: Int] = [:]
    for (name, _) in store.parameters {
      guard let s = adam.state[name] else { continue }
      adamSteps[name] = s.step
      items.append(.f32("optimizer.\(name).exp_avg", shape: s.m.shape, s.m.toArray()))
      items.append(.f32("optimizer.\(name).exp_avg_sq", shape: s.v.shape, s.v.toArray()))
    }
    if let c = carry {
      for (key, t) in [("carry.z_H", c.inner.zH), ("carry.z_L", c.inner.zL)] {
        items.append(t.dtype == .bf16 ? .bf16(key, shape: t.shape, t.toArray()) : .f32(key, shape: t.shape, t.toArray()))
      }
      for (key, t) in [("carry.steps", c.steps), ("carry.halted", c.halted), ("carry.inputs", c.data.inputs),
                       ("carry.labels", c.data.labels), ("carry.puzzle_identifiers", c.data.puzzleIdentifiers)] {
        items.append(.i32(key, shape: t.shape, t.toInt32Array()))
      }
    }
    let info = TrainingStateInfo(
      format: "hrm-train-state", version: 1, step: step, iterationComplete: iterationComplete, finished: finished,
      sampler: sampler.state, explorationRNG: model.rng, adamSteps: adamSteps, hasCarry: carry != nil,
      weightsCRC32C: weightsCRC, logs: logs)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let json = String(data: try encoder.encode(info), encoding: .utf8) ?? "{}"
    let data = SafeTensorsWriter.encodeWithChecksum(items, metadata: ["format": "hrm-train-state", "training_state": json])
    try AtomicFile.write(data, to: TrainingStateFiles.statePath(forWeights: path))
    lastCheckpoint = path
  }

  /// Restores weights, optimiser, exploration RNG, sampler, carry and counters from a
  /// checkpoint (`path` as `TrainingStateFiles.locate` takes it); `run()` then continues
  /// exactly where the checkpointed run was. Nothing is changed when the files are refused.
  @discardableResult
  public func restore(from path: String) throws -> TrainingStateInfo {
    if let comm = group {
      // The state file holds rank 0's ACT carry only; per-rank carries are not saved yet.
      throw HRMError("resume=\(path): resuming a \(comm.worldSize)-rank run is not supported yet (the weights file loads with `hrm evaluate`)")
    }
    let (weightsPath, statePath) = try TrainingStateFiles.locate(path)
    let weights = try SafeTensorsFile(path: weightsPath)
    try weights.verifyChecksum()
    let stateFile = try SafeTensorsFile(path: statePath)
    try stateFile.verifyChecksum()
    guard let json = stateFile.metadata["training_state"], let jsonData = json.data(using: .utf8) else {
      throw HRMError(file: statePath, "no 'training_state' in the header metadata (not an hrm training state)")
    }
    let info: TrainingStateInfo
    do { info = try JSONDecoder().decode(TrainingStateInfo.self, from: jsonData) } catch {
      throw HRMError(file: statePath, "training_state metadata is unreadable: \(error)")
    }
    guard info.format == "hrm-train-state", info.version == 1 else {
      throw HRMError(file: statePath, "unsupported training state format \(info.format) v\(info.version)")
    }
    guard weights.metadata[SafeTensorsWriter.checksumKey] == info.weightsCRC32C else {
      throw HRMError(file: statePath, "belongs to other weights than \(weightsPath) (checksum mismatch); both files must come from the same save")
    }
    let saved = try Checkpoint.config(of: weights)
    for (what, a, b) in [("the architecture (arch.*)", "\(saved.arch)", "\(config.arch)"),
                         ("global_batch_size", "\(saved.globalBatchSize)", "\(config.globalBatchSize)"),
                         ("eval_interval", "\(saved.evalInterval.map(String.init) ?? "null")", "\(config.evalInterval.map(String.init) ?? "null")"),
                         ("seed", "\(saved.seed)", "\(config.seed)")] where a != b {
      throw HRMError(file: weightsPath, "resume: \(what) differs between the checkpoint and this run (\(a) vs \(b))")
    }

    // Read everything first, so a bad tensor leaves the trainer untouched.
    var modelValues: [(String, [Float])] = []
    for (name, shape, _) in ParameterStore.layout(for: config.arch) {
      let key = Checkpoint.prefix + name
      guard weights.entries[key] != nil else { throw HRMError(file: weightsPath, "tensor '\(key)' is missing") }
      guard try weights.shape(key) == shape else {
        throw HRMError(file: weightsPath, "tensor '\(key)' has shape \(try weights.shape(key)), the model needs \(shape)")
      }
      modelValues.append((name, try weights.floats(key)))
    }
    var moments: [(String, [Float], [Float], Int)] = []
    for (name, p) in store.parameters {
      guard let steps = info.adamSteps[name] else { continue }
      let m = try stateTensor(stateFile, "optimizer.\(name).exp_avg", shape: p.shape)
      let v = try stateTensor(stateFile, "optimizer.\(name).exp_avg_sq", shape: p.shape)
      moments.append((name, m, v, steps))
    }
    var restoredCarry: ACTCarry? = nil
    if info.hasCarry {
      let c = config.arch
      let b = config.globalBatchSize
      let zShape = [b, c.totalLength, c.hiddenSize]
      let dtype = model.inner.dtype
      let zH = Tensor(try stateTensor(stateFile, "carry.z_H", shape: zShape), shape: zShape, dtype: dtype, on: backend)
      let zL = Tensor(try stateTensor(stateFile, "carry.z_L", shape: zShape), shape: zShape, dtype: dtype, on: backend)
      func ints(_ key: String, _ shape: [Int]) throws -> Tensor {
        Tensor(ints: try stateInts(stateFile, key, shape: shape), shape: shape, on: backend)
      }
      restoredCarry = ACTCarry(
        inner: InnerCarry(zH: zH, zL: zL), steps: try ints("carry.steps", [b]), halted: try ints("carry.halted", [b]),
        data: DeviceBatch(inputs: try ints("carry.inputs", [b, c.seqLen]), labels: try ints("carry.labels", [b, c.seqLen]),
                          puzzleIdentifiers: try ints("carry.puzzle_identifiers", [b])))
    }
    let newSampler = try TrainSampler(
      split: trainSet, seed: UInt64(config.seed), epochsPerIter: config.evalInterval ?? config.epochs,
      sharding: try BatchSharding(globalBatchSize: config.globalBatchSize), state: info.sampler)

    // Commit.
    for (name, values) in modelValues { store.set(name, Tensor(values, shape: store[name].shape, on: backend)) }
    model.inner.refreshInitialStates()
    for (name, m, v, steps) in moments {
      let shape = store[name].shape
      adam.setState(name, m: Tensor(m, shape: shape, on: backend), v: Tensor(v, shape: shape, on: backend), step: steps)
    }
    model.rng = info.explorationRNG
    sampler = newSampler
    carry = restoredCarry
    step = info.step
    iterationComplete = info.iterationComplete
    finished = info.finished
    lastCheckpoint = weightsPath
    return info
  }
}

private func stateTensor(_ file: SafeTensorsFile, _ key: String, shape: [Int]) throws -> [Float] {
  guard file.entries[key] != nil else { throw HRMError(file: file.path, "tensor '\(key)' is missing") }
  let got = try file.shape(key)
  guard got == shape else { throw HRMError(file: file.path, "tensor '\(key)' has shape \(got), expected \(shape)") }
  return try file.floats(key)
}

private func stateInts(_ file: SafeTensorsFile, _ key: String, shape: [Int]) throws -> [Int32] {
  guard let e = file.entries[key] else { throw HRMError(file: file.path, "tensor '\(key)' is missing") }
  guard e.shape == shape, e.dtype == "I32" else {
    throw HRMError(file: file.path, "tensor '\(key)' is \(e.dtype) \(e.shape), expected I32 \(shape)")
  }
  let raw = try file.rawBytes(key)
  var out = [Int32](repeating: 0, count: raw.count / 4)
  for i in 0..<out.count {
    out[i] = Int32(bitPattern: UInt32(raw[4 * i]) | UInt32(raw[4 * i + 1]) << 8 | UInt32(raw[4 * i + 2]) << 16 | UInt32(raw[4 * i + 3]) << 24)
  }
  return out
}
