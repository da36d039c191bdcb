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
// A data-parallel run writes the same two files from rank 0: every rank's slice of the ACT
// carry is gathered into the global-batch layout a single process has (rank r's rows at
// r·B/N ..< (r+1)·B/N), and every rank's exploration RNG goes into `exploration_rngs`, with
// `world_size`. Resuming needs the same number of ranks; each rank reads the files (a path
// every rank can see, as the reference's checkpoint loading) and takes its rows.
//
// Both files carry a CRC-32C of their data section; the weights are written first, so a
// state file exists only beside complete weights. Restoring reproduces the uninterrupted
// run bit for bit on the CPU, with one rank or several.

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
  /// Ranks of the run that wrote it (absent: one).
  public var worldSize: Int?
  /// Every rank's exploration RNG, in rank order (multi-rank runs only).
  public var explorationRNGs: [HRMRandom]?

  enum CodingKeys: String, CodingKey {
    case format, version, step, sampler, logs
    case iterationComplete = "iteration_complete", finished, explorationRNG = "exploration_rng"
    case adamSteps = "adam_steps", hasCarry = "has_carry", weightsCRC32C = "weights_crc32c"
    case worldSize = "world_size", explorationRNGs = "exploration_rngs"
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

/// The per-rank parts of a training state, gathered from every rank (a collective).
struct GatheredState {
  /// The ACT carry in the global-batch layout (rank order), nil before the first step.
  var carry: ACTCarry?
  /// Every rank's exploration RNG.
  var rngs: [HRMRandom]
}

extension Trainer {
  /// Collects every rank's carry rows and exploration RNG (an all-gather: every rank must
  /// call it at the same point; RunRecorder's checkpoints come only where `checkpointDue`
  /// says, and `run()` gathers there on every rank).
  func gatherState(_ comm: Communicator) throws -> GatheredState {
    var words = [Int32]()
    for w in model.rng.state { words += [Int32(truncatingIfNeeded: w), Int32(truncatingIfNeeded: w >> 32)] }
    let all = try comm.allGather(Tensor(ints: words, shape: [1, words.count], on: backend)).toInt32Array()
    let rngs = (0..<comm.worldSize).map { r -> HRMRandom in
      let row = all[(r * words.count)..<((r + 1) * words.count)].map { UInt64(UInt32(bitPattern: $0)) }
      return HRMRandom(state: stride(from: 0, to: row.count, by: 2).map { row[$0] | row[$0 + 1] << 32 })
    }
    // Every rank has a carry after its first step, or none before it.
    guard let c = carry else { return GatheredState(carry: nil, rngs: rngs) }
    let g = { (t: Tensor) in try comm.allGather(t) }
    let global = ACTCarry(
      inner: InnerCarry(zH: try g(c.inner.zH), zL: try g(c.inner.zL)), steps: try g(c.steps), halted: try g(c.halted),
      data: DeviceBatch(inputs: try g(c.data.inputs), labels: try g(c.data.labels),
                        puzzleIdentifiers: try g(c.data.puzzleIdentifiers)))
    return GatheredState(carry: global, rngs: rngs)
  }

  /// Writes the weights to `path` and the training state beside it (see the file comment).
  /// With several ranks it is called on rank 0 at a point where `run()` gathered the state.
  public func saveCheckpoint(to path: String, logs: LogPosition = LogPosition()) throws {
    let gathered: GatheredState?
    if let comm = group {
      guard let g = gatheredState else {
        throw HRMError("checkpoint at step \(step) outside the checkpoint schedule of a \(comm.worldSize)-rank run: the other ranks would not take part")
      }
      gathered = g
    } else {
      gathered = nil
    }
    let weightsCRC = try Checkpoint.save(store, config: config, step: step, to: path)
    var items: [SafeTensorsWriter.Item] = []
    var adamSteps: [String: Int] = [:]
    for (name, _) in store.parameters {
      guard let s = adam.state[name] else { continue }
      adamSteps[name] = s.step
      items.append(.f32("optimizer.\(name).exp_avg", shape: s.m.shape, s.m.toArray()))
      items.append(.f32("optimizer.\(name).exp_avg_sq", shape: s.v.shape, s.v.toArray()))
    }
    if let c = gathered?.carry ?? carry {   // the global batch when several ranks gathered it
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
      weightsCRC32C: weightsCRC, logs: logs, worldSize: group?.worldSize, explorationRNGs: gathered?.rngs)
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
    let ranks = group?.worldSize ?? 1, rank = group?.rank ?? 0
    guard (info.worldSize ?? 1) == ranks else {
      throw HRMError(file: statePath, "written by a \(info.worldSize ?? 1)-rank run; resume it with \(info.worldSize ?? 1) rank(s), not \(ranks) (every rank continues its own slice of the batch)")
    }
    guard ranks == 1 || info.explorationRNGs?.count == ranks else {
      throw HRMError(file: statePath, "exploration_rngs should hold \(ranks) generators")
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
      // The file holds the global batch; this rank takes its rows.
      let c = config.arch
      let b = config.globalBatchSize, local = b / ranks
      let dtype = model.inner.dtype
      func rows<T>(_ all: [T], _ shape: [Int]) -> [T] {
        let width = shape.dropFirst().reduce(1, *)
        return Array(all[(rank * local * width)..<((rank + 1) * local * width)])
      }
      func floats(_ key: String, _ shape: [Int]) throws -> Tensor {
        Tensor(rows(try stateTensor(stateFile, key, shape: shape), shape), shape: [local] + shape.dropFirst(),
               dtype: dtype, on: backend)
      }
      func ints(_ key: String, _ shape: [Int]) throws -> Tensor {
        Tensor(ints: rows(try stateInts(stateFile, key, shape: shape), shape), shape: [local] + shape.dropFirst(), on: backend)
      }
      let zShape = [b, c.totalLength, c.hiddenSize]
      restoredCarry = ACTCarry(
        inner: InnerCarry(zH: try floats("carry.z_H", zShape), zL: try floats("carry.z_L", zShape)),
        steps: try ints("carry.steps", [b]), halted: try ints("carry.halted", [b]),
        data: DeviceBatch(inputs: try ints("carry.inputs", [b, c.seqLen]), labels: try ints("carry.labels", [b, c.seqLen]),
                          puzzleIdentifiers: try ints("carry.puzzle_identifiers", [b])))
    }
    let newSampler = try TrainSampler(
      split: trainSet, seed: UInt64(config.seed), epochsPerIter: config.evalInterval ?? config.epochs,
      sharding: sampler.sharding, state: info.sampler)
    if let comm = group {
      // Every rank must have read the same checkpoint (e.g. not another node's older copy).
      // Each rank sees every rank's (step, weights checksum), so all of them decide alike.
      let mine = [Int32(truncatingIfNeeded: info.step), Int32(bitPattern: UInt32(info.weightsCRC32C, radix: 16) ?? 0)]
      let all = try comm.allGather(Tensor(ints: mine, shape: [1, 2], on: backend)).toInt32Array()
      guard all == Array((0..<comm.worldSize).map { _ in mine }.joined()) else {
        throw HRMError(file: statePath, "the ranks restored different checkpoints (rank \(comm.rank) has step \(info.step)); every rank must see the same files")
      }
    }

    // Commit.
    for (name, values) in modelValues { store.set(name, Tensor(values, shape: store[name].shape, on: backend)) }
    model.inner.refreshInitialStates()
    for (name, m, v, steps) in moments {
      let shape = store[name].shape
      adam.setState(name, m: Tensor(m, shape: shape, on: backend), v: Tensor(v, shape: shape, on: backend), step: steps)
    }
    model.rng = info.explorationRNGs?[rank] ?? info.explorationRNG
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
