// ResumeTests.swift: training-state checkpoints in process: an interrupted run resumed from
// its last checkpoint ends bit-identical to an uninterrupted one (weights and metrics.jsonl);
// damaged checkpoints are refused without touching the trainer; checkpoint_keep prunes;
// a NaN loss stops the run naming the step and the last good checkpoint; the TensorBoard
// event file's framing, CRCs and protobuf decode with an independent reader.

import Foundation
import HRMData
import HRMModel
import HRMSupport
import HRMTensor
import HRMTrain
import TestSupport
import XCTest

/// Stops a run by throwing once `step` is reached (after the recorder has logged/saved it).
final class StopAt: TrainerObserver {
  struct Stop: Error {}
  let inner: RunRecorder
  let step: Int
  init(_ inner: RunRecorder, step: Int) { self.inner = inner; self.step = step }
  func trainerDidStep(_ t: Trainer, metrics: LoggedMetrics) throws {
    try inner.trainerDidStep(t, metrics: metrics)
    if t.step == step { throw Stop() }
  }
  func trainerDidEvaluate(_ t: Trainer, metrics: LoggedMetrics?) throws { try inner.trainerDidEvaluate(t, metrics: metrics) }
}

final class ResumeTests: TemporaryFolderTestCase {
  func config(_ extra: [String] = []) throws -> TrainConfig {
    var c = TrainConfig()
    try c.apply(overrides: TinyRun.overrides
      + ["arch.halt_max_steps=3", "epochs=4", "eval_interval=2", "seed=7", "eval_max_batches=1"] + extra)
    return c
  }

  func weights(_ t: Trainer) -> [String: [UInt32]] {
    Dictionary(uniqueKeysWithValues: t.store.all.map { ($0.name, $0.tensor.toArray().map(\.bitPattern)) })
  }

  func read(_ path: String) -> String { String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }

  func testInterruptedRunResumesBitIdentical() throws {
    let full = try Trainer(config: try config(), backend: CPUBackend.shared)
    let fullDir = tmp + "/full"
    full.observer = try RunRecorder(trainer: full, directory: fullDir)
    try full.run()
    XCTAssertEqual(full.step, 16)

    // Checkpoints every 4 steps (and after each evaluation, every 8). The run dies twice, each
    // time two steps after a checkpoint whose lines are already in the logs: at step 6 (resumed
    // from step 4: mid-iteration) and at step 10 (resumed from step 8: after the evaluation).
    // ACT rows run 3 segments from steps 1, 4, 7, ..., so both carries hold rows mid-ACT.
    let dir = tmp + "/cut"
    let first = try Trainer(config: try config(["checkpoint_interval=4"]), backend: CPUBackend.shared)
    first.observer = StopAt(try RunRecorder(trainer: first, directory: dir), step: 6)
    XCTAssertThrowsError(try first.run()) { XCTAssertTrue($0 is StopAt.Stop) }
    XCTAssertEqual(TrainingStateFiles.checkpointSteps(in: dir, stateOnly: true), [4])
    let state4 = try SafeTensorsFile(path: dir + "/step_4.state.safetensors")
    XCTAssertTrue(try state4.floats("carry.halted").contains(0), "the saved carry has rows mid-ACT")

    let middle = try Trainer(config: try config(["checkpoint_interval=4"]), backend: CPUBackend.shared)
    let info4 = try middle.restore(from: dir)
    XCTAssertEqual(middle.step, 4)
    XCTAssertFalse(info4.iterationComplete)
    middle.observer = StopAt(try RunRecorder(trainer: middle, directory: dir, resumed: info4), step: 10)
    XCTAssertThrowsError(try middle.run()) { XCTAssertTrue($0 is StopAt.Stop) }
    XCTAssertEqual(TrainingStateFiles.checkpointSteps(in: dir, stateOnly: true), [4, 8])

    let second = try Trainer(config: try config(["checkpoint_interval=4"]), backend: CPUBackend.shared)
    let info = try second.restore(from: dir)
    XCTAssertEqual(second.step, 8)
    XCTAssertTrue(info.iterationComplete)
    XCTAssertTrue(info.hasCarry)
    XCTAssertTrue(try SafeTensorsFile(path: dir + "/step_8.state.safetensors").floats("carry.halted").contains(0))
    second.observer = try RunRecorder(trainer: second, directory: dir, resumed: info)
    try second.run()

    XCTAssertEqual(second.step, full.step)
    XCTAssertEqual(weights(second), weights(full), "final weights differ bitwise")
    XCTAssertEqual(second.model.rng, full.model.rng)
    let a = read(fullDir + "/metrics.jsonl"), b = read(dir + "/metrics.jsonl")
    XCTAssertEqual(a.split(separator: "\n").count, 16 + 2, "16 train lines + 2 eval lines")
    XCTAssertEqual(a, b, "metrics.jsonl differs")

    // The final checkpoints hold the same tensors, and a finished run has nothing left to do.
    let fa = try SafeTensorsFile(path: fullDir + "/step_16.safetensors"), fb = try SafeTensorsFile(path: dir + "/step_16.safetensors")
    for name in fa.names { XCTAssertEqual(try fa.rawBytes(name), try fb.rawBytes(name), name) }
    let third = try Trainer(config: try config(), backend: CPUBackend.shared)
    try third.restore(from: fullDir + "/step_16.safetensors")
    XCTAssertTrue(third.finished)
    try third.run()
    XCTAssertEqual(third.step, 16)
  }

  func testSaveLoadGivesTheSameLogitsAndOptimiserState() throws {
    let t = try Trainer(config: try config(["epochs=2", "eval_interval=1"]), backend: CPUBackend.shared)
    try t.run()
    let path = tmp + "/step_x.safetensors"
    try t.saveCheckpoint(to: path)
    let u = try Trainer(config: try config(["epochs=2", "eval_interval=1"]), backend: CPUBackend.shared)
    try u.restore(from: path)
    XCTAssertEqual(weights(u), weights(t))
    for (name, s) in t.adam.state {
      let r = try XCTUnwrap(u.adam.state[name])
      XCTAssertEqual(r.step, s.step)
      XCTAssertEqual(r.m.toArray().map(\.bitPattern), s.m.toArray().map(\.bitPattern), name)
      XCTAssertEqual(r.v.toArray().map(\.bitPattern), s.v.toArray().map(\.bitPattern), name)
    }
    var batches = TestBatches(split: t.testSet!, sharding: try BatchSharding(globalBatchSize: 8))
    let batch = try XCTUnwrap(batches.next())
    func outputs(_ trainer: Trainer) -> EvaluationOutputs? {
      var o: EvaluationOutputs? = EvaluationOutputs(seqLen: batch.seqLen)
      _ = Evaluator(model: trainer.model, globalBatchSize: 8).run(batch, into: &o)
      return o
    }
    let (la, lb) = (try XCTUnwrap(outputs(t)), try XCTUnwrap(outputs(u)))
    XCTAssertEqual(la.predictions, lb.predictions)
    XCTAssertEqual(la.qHaltLogits.map(\.bitPattern), lb.qHaltLogits.map(\.bitPattern))
    // The weights file alone loads as a model (PyTorch-compatible names, config in the header).
    let (model, _) = try Checkpoint.loadModel(path: path, backend: CPUBackend.shared)
    XCTAssertEqual(model.inner.parameters["lm_head.weight"].toArray(), t.store["lm_head.weight"].toArray())
  }

  func testDamagedCheckpointsAreRefusedAndNothingIsLoaded() throws {
    let t = try Trainer(config: try config(["epochs=2", "eval_interval=1"]), backend: CPUBackend.shared)
    try t.run()
    let path = tmp + "/step_8.safetensors"
    try t.saveCheckpoint(to: path)
    let good = try XCTUnwrap(FileManager.default.contents(atPath: path))
    func refused(_ fragments: [String], _ file: StaticString = #filePath, _ line: UInt = #line) throws {
      let fresh = try Trainer(config: try config(["epochs=2", "eval_interval=1"]), backend: CPUBackend.shared)
      let before = weights(fresh)
      XCTAssertThrowsError(try fresh.restore(from: path), file: file, line: line) { error in
        let m = (error as? HRMError)?.message ?? "\(error)"
        XCTAssertFalse(m.contains("\n"), file: file, line: line)
        for f in fragments { XCTAssertTrue(m.contains(f), "'\(f)' missing in: \(m)", file: file, line: line) }
      }
      XCTAssertEqual(fresh.step, 0, file: file, line: line)
      XCTAssertEqual(weights(fresh), before, "a refused checkpoint must not be half-loaded", file: file, line: line)
    }
    var flipped = good
    flipped[flipped.count - 5] ^= 0x01
    try flipped.write(to: URL(fileURLWithPath: path))
    try refused(["step_8.safetensors", "checksum mismatch", "not loaded"])
    try Data(good.prefix(good.count - 100)).write(to: URL(fileURLWithPath: path))
    try refused(["step_8.safetensors", "truncated"])
    // Weights from another save than the state beside them.
    try good.write(to: URL(fileURLWithPath: path))
    let other = try Trainer(config: try config(["epochs=2", "eval_interval=1", "lr=2e-3"]), backend: CPUBackend.shared)
    try other.run()
    try Checkpoint.save(other.store, config: other.config, step: 8, to: path)
    try refused(["belongs to other weights"])
    try FileManager.default.removeItem(atPath: TrainingStateFiles.statePath(forWeights: path))
    try refused(["weights only", "step_8.state.safetensors"])
    // Checkpoint.loadModel checks the weights file too.
    try flipped.write(to: URL(fileURLWithPath: path))
    XCTAssertThrowsError(try Checkpoint.loadModel(path: path, backend: CPUBackend.shared))
  }

  func testCheckpointKeepPrunesOldest() throws {
    let t = try Trainer(config: try config(["checkpoint_interval=1", "checkpoint_keep=2"]), backend: CPUBackend.shared)
    t.observer = try RunRecorder(trainer: t, directory: tmp)
    try t.run()
    XCTAssertEqual(TrainingStateFiles.checkpointSteps(in: tmp, stateOnly: false), [15, 16])
    XCTAssertEqual(TrainingStateFiles.checkpointSteps(in: tmp, stateOnly: true), [15, 16])
    let c = try JSONDecoder().decode(TrainConfig.self, from: try XCTUnwrap(FileManager.default.contents(atPath: tmp + "/config.json")))
    XCTAssertEqual(c.checkpointKeep, 2, "config.json holds the run's config")
  }

  func testNonFiniteLossStopsNamingStepAndLastCheckpoint() throws {
    let t = try Trainer(config: try config(["checkpoint_interval=2", "checkpoint_every_eval=false"]), backend: CPUBackend.shared)
    t.observer = try RunRecorder(trainer: t, directory: tmp)
    t.onStep = { step, _ in
      if step == 3 {  // poison the weights: step 4's loss is NaN
        let w = t.store["lm_head.weight"]
        t.store.set("lm_head.weight", Tensor([Float](repeating: .nan, count: w.count), shape: w.shape, on: w.backend))
      }
    }
    XCTAssertThrowsError(try t.run()) { error in
      let m = (error as? HRMError)?.message ?? "\(error)"
      XCTAssertTrue(m.contains("step 4"), m)
      XCTAssertTrue(m.contains("NaN"), m)
      XCTAssertTrue(m.contains("step_2.safetensors"), m)
      XCTAssertTrue(m.contains("resume="), m)
      XCTAssertFalse(m.contains("\n"))
    }
    XCTAssertEqual(TrainingStateFiles.checkpointSteps(in: tmp, stateOnly: true), [2], "nothing saved after the NaN")
  }

  func testTensorBoardEventsAreValidRecords() throws {
    let t = try Trainer(config: try config(["epochs=2", "eval_interval=1"]), backend: CPUBackend.shared)
    let recorder = try RunRecorder(trainer: t, directory: tmp)
    t.observer = recorder
    try t.run()
    recorder.events.sync()
    let data = [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: recorder.events.path)))
    XCTAssertTrue(recorder.events.fileName.hasPrefix("events.out.tfevents."))
    let events = try EventFileReader.records(data)
    XCTAssertEqual(events.count, 1 + 8 + 2, "file_version + 8 steps + 2 evaluations")
    XCTAssertEqual(events[0].fileVersion, "brain.Event:2")
    let lines = try MetricsLog.read(path: tmp + "/metrics.jsonl")
    XCTAssertEqual(lines.count, 10)
    for (event, line) in zip(events.dropFirst(), lines) {
      XCTAssertEqual(event.step, line.step)
      XCTAssertGreaterThan(event.wallTime, 1.6e9)
      XCTAssertEqual(Set(event.values.keys), Set(line.values.keys.map { "\(line.split)/\($0)" }))
      for (k, v) in line.values { XCTAssertEqual(event.values["\(line.split)/\(k)"], Float(v), k) }
    }
  }
}

/// An independent reader of TensorBoard event files: record framing, both masked CRC-32Cs
/// (bitwise CRC, not the product's tables) and the Event / Summary / Value protobuf fields.
enum EventFileReader {
  struct Event { var wallTime = 0.0; var step = 0; var fileVersion: String?; var values: [String: Float] = [:] }
  struct Bad: Error, CustomStringConvertible { let description: String }

  static func crc32c(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
      c ^= UInt32(b)
      for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
    }
    let crc = ~c
    return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
  }

  static func le(_ b: [UInt8], _ at: Int, _ n: Int) -> UInt64 {
    (0..<n).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
  }

  static func records(_ b: [UInt8]) throws -> [Event] {
    var out: [Event] = []
    var p = 0
    while p < b.count {
      guard p + 12 <= b.count else { throw Bad(description: "truncated header at \(p)") }
      let n = Int(le(b, p, 8))
      guard UInt32(le(b, p + 8, 4)) == crc32c(b[p..<p + 8]) else { throw Bad(description: "length CRC at \(p)") }
      guard p + 12 + n + 4 <= b.count else { throw Bad(description: "truncated record at \(p)") }
      let body = b[(p + 12)..<(p + 12 + n)]
      guard UInt32(le(b, p + 12 + n, 4)) == crc32c(body) else { throw Bad(description: "data CRC at \(p)") }
      out.append(try event(Array(body)))
      p += 12 + n + 4
    }
    return out
  }

  /// Splits a protobuf message into (field, wire type, payload bytes or varint).
  static func fields(_ b: [UInt8]) throws -> [(Int, Int, [UInt8], UInt64)] {
    var out: [(Int, Int, [UInt8], UInt64)] = []
    var p = 0
    func varint() throws -> UInt64 {
      var v: UInt64 = 0, shift: UInt64 = 0
      while true {
        guard p < b.count else { throw Bad(description: "truncated varint") }
        let x = b[p]; p += 1
        v |= UInt64(x & 0x7F) << shift
        if x & 0x80 == 0 { return v }
        shift += 7
      }
    }
    while p < b.count {
      let key = try varint()
      let field = Int(key >> 3), wire = Int(key & 7)
      switch wire {
      case 0: out.append((field, wire, [], try varint()))
      case 1: guard p + 8 <= b.count else { throw Bad(description: "fixed64") }; out.append((field, wire, Array(b[p..<p + 8]), 0)); p += 8
      case 5: guard p + 4 <= b.count else { throw Bad(description: "fixed32") }; out.append((field, wire, Array(b[p..<p + 4]), 0)); p += 4
      case 2:
        let n = Int(try varint())
        guard p + n <= b.count else { throw Bad(description: "length-delimited") }
        out.append((field, wire, Array(b[p..<p + n]), 0)); p += n
      default: throw Bad(description: "wire type \(wire)")
      }
    }
    return out
  }

  static func event(_ b: [UInt8]) throws -> Event {
    var e = Event()
    for (field, wire, bytes, v) in try fields(b) {
      switch (field, wire) {
      case (1, 1): e.wallTime = Double(bitPattern: le(bytes, 0, 8))
      case (2, 0): e.step = Int(Int64(bitPattern: v))
      case (3, 2): e.fileVersion = String(decoding: bytes, as: UTF8.self)
      case (5, 2):
        for (vf, vw, value, _) in try fields(bytes) {
          guard vf == 1, vw == 2 else { throw Bad(description: "summary field \(vf)") }
          var tag = "", x: Float? = nil
          for (f, w, payload, _) in try fields(value) {
            if f == 1 && w == 2 { tag = String(decoding: payload, as: UTF8.self) }
            if f == 2 && w == 5 { x = Float(bitPattern: UInt32(le(payload, 0, 4))) }
          }
          guard let x = x else { throw Bad(description: "value without simple_value") }
          e.values[tag] = x
        }
      default: throw Bad(description: "unexpected event field \(field)/\(wire)")
      }
    }
    return e
  }
}
