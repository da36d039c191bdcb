// DistributedTests.swift: data-parallel training without GPUs. Two thread ranks (the
// ThreadCommunicator test double) must train the same weights as one rank on the same global
// batches; only rank 0 writes the run folder; a two-rank run resumes exactly from rank 0's
// checkpoint, and only with two ranks; ranks that restore different checkpoints all stop;
// RANK/WORLD_SIZE/... parsing; the TCP
// rendezvous (all ranks get the id; a rank that never joins is a clear error within the
// timeout); gpus=/dist_timeout= validation; the gpus=N launcher's failure handling.

import Foundation
import HRMData
import HRMModel
import HRMSupport
import HRMTensor
import HRMTrain
import TestSupport
import XCTest

final class DistributedTests: TemporaryFolderTestCase {
  func config(_ extra: [String] = []) throws -> TrainConfig {
    var c = TrainConfig()
    // No exploration: its random draws are per rank, so they would differ from one rank's.
    try c.apply(overrides: TinyRun.overrides + [
      "arch.halt_max_steps=2", "arch.halt_exploration_prob=0", "epochs=2", "eval_interval=1", "puzzle_emb_lr=1e-2", "seed=7",
    ] + extra)
    return c
  }

  func weights(_ t: Trainer) -> [String: [Float]] {
    Dictionary(uniqueKeysWithValues: t.store.all.map { ($0.name, $0.tensor.toArray()) })
  }

  struct RunResult {
    var losses: [Double]; var evals: [LoggedMetrics]; var weights: [String: [Float]]; var steps: Int
    /// The exploration generator at the end.
    var rng: HRMRandom
  }

  func train(_ trainer: Trainer) throws -> RunResult {
    var losses: [Double] = [], evals: [LoggedMetrics] = []
    trainer.onStep = { _, m in losses.append(m["lm_loss"]! + 0.5 * (m["q_halt_loss"]! + m["q_continue_loss"]!)) }
    trainer.onEval = { _, m in evals.append(m) }
    try trainer.run()
    return RunResult(losses: losses, evals: evals, weights: weights(trainer), steps: trainer.step, rng: trainer.model.rng)
  }

  func testTwoRanksTrainTheSameWeightsAsOneRank() throws {
    let c = try config()
    let single = try train(try Trainer(config: c, backend: CPUBackend.shared))
    let ranks = try ThreadGroup(worldSize: 2).run { comm -> RunResult in
      let t = try Trainer(config: c, backend: CPUBackend.shared, communicator: comm)
      XCTAssertEqual(t.isPrimary, comm.rank == 0)
      return try self.train(t)
    }
    XCTAssertEqual(single.steps, 8)
    XCTAssertTrue(single.weights["puzzle_emb.weights"]!.contains { $0 != 0 }, "the sparse update should have run")
    for r in ranks {
      XCTAssertEqual(r.steps, single.steps)
      XCTAssertEqual(r.losses.count, single.losses.count)
      for (a, b) in zip(r.losses, single.losses) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)), "step loss") }
      XCTAssertEqual(r.evals.count, single.evals.count)
      for (a, b) in zip(r.evals, single.evals) {
        XCTAssertEqual(a["count"]!, b["count"]!, "eval covers every test example once")
        XCTAssertEqual(a["lm_loss"]!, b["lm_loss"]!, accuracy: 1e-4 * max(1, abs(b["lm_loss"]!)))
        XCTAssertEqual(a["accuracy"]!, b["accuracy"]!, accuracy: 1e-4)
      }
      for (name, w) in single.weights {
        let v = try XCTUnwrap(r.weights[name], name)
        let worst = zip(v, w).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-4, "\(name) differs from the one-rank run by \(worst)")
      }
    }
    // The ranks agree with each other exactly: they apply identical updates.
    for (name, w) in ranks[0].weights { XCTAssertEqual(w, ranks[1].weights[name]!, "\(name) differs between ranks") }
  }

  func testRanksStayInStepWithPerRankExploration() throws {
    // Exploration draws differ per rank (seed + rank), the updates do not: weights stay identical.
    let c = try config(["arch.halt_exploration_prob=0.5", "epochs=1", "eval_interval=1"])
    let ranks = try ThreadGroup(worldSize: 2).run { comm -> RunResult in
      try self.train(try Trainer(config: c, backend: CPUBackend.shared, communicator: comm))
    }
    XCTAssertEqual(ranks[0].losses, ranks[1].losses, "metrics are summed over ranks, so every rank logs the same")
    for (name, w) in ranks[0].weights { XCTAssertEqual(w, ranks[1].weights[name]!, "\(name) differs between ranks") }
  }

  func testOnlyRankZeroWritesTheRunFolder() throws {
    let c = try config(["epochs=1", "eval_interval=1", "checkpoint_interval=2"])
    let dirs = (0..<2).map { "\(tmp!)/rank\($0)" }
    let recorders = try ThreadGroup(worldSize: 2).run { comm -> Bool in
      let t = try Trainer(config: c, backend: CPUBackend.shared, communicator: comm)
      let recorder = try t.makeRecorder(directory: dirs[comm.rank])
      t.observer = recorder
      try t.run()
      return recorder != nil
    }
    XCTAssertEqual(recorders, [true, false])
    let files = try FileManager.default.contentsOfDirectory(atPath: dirs[0])
    for f in ["config.json", "metrics.jsonl", "step_2.safetensors", "step_4.safetensors", "step_4.state.safetensors"] {
      XCTAssertTrue(files.contains(f), "rank 0 should write \(f) (has \(files.sorted()))")
    }
    let lines = String(decoding: FileManager.default.contents(atPath: dirs[0] + "/metrics.jsonl")!, as: UTF8.self)
      .split(separator: "\n")
    XCTAssertEqual(lines.count, 4 + 1, "one line per step and one per evaluation, written once")
    XCTAssertFalse(FileManager.default.fileExists(atPath: dirs[1]), "rank 1 must not write anything")
  }

  func testTwoRanksResumeExactly() throws {
    // Exploration on: each rank's own generator must come back, as well as its carry rows.
    let c = try config(["arch.halt_max_steps=4", "arch.halt_exploration_prob=0.5", "checkpoint_interval=2"])
    let dir = "\(tmp!)/run"
    let full = try ThreadGroup(worldSize: 2).run { comm -> RunResult in
      let t = try Trainer(config: c, backend: CPUBackend.shared, communicator: comm)
      t.observer = try t.makeRecorder(directory: dir)
      return try self.train(t)
    }
    XCTAssertEqual(full[0].steps, 8)
    // Step 2 of halt_max_steps=4: every sequence is mid-flight, so the carry rows matter.
    let state = try XCTUnwrap(try SafeTensorsFile(path: dir + "/step_2.state.safetensors").metadata["training_state"])
    let info = try JSONDecoder().decode(TrainingStateInfo.self, from: Data(state.utf8))
    XCTAssertEqual(info.worldSize, 2)
    XCTAssertEqual(info.explorationRNGs?.count, 2)
    XCTAssertNotEqual(info.explorationRNGs?[0], info.explorationRNGs?[1], "per-rank generators")
    let resumed = try ThreadGroup(worldSize: 2).run { comm -> RunResult in
      let t = try Trainer(config: c, backend: CPUBackend.shared, communicator: comm)
      try t.restore(from: dir + "/step_2.safetensors")
      XCTAssertEqual(t.step, 2)
      XCTAssertEqual(t.carry?.steps.toInt32Array(), [Int32](repeating: 2, count: c.globalBatchSize / 2), "this rank's rows, mid-flight")
      return try self.train(t)
    }
    for r in 0..<2 {
      XCTAssertEqual(resumed[r].steps, 8)
      XCTAssertEqual(resumed[r].losses, Array(full[r].losses.dropFirst(2)), "rank \(r): steps 3-8 as in the uninterrupted run")
      XCTAssertEqual(resumed[r].rng, full[r].rng, "rank \(r) continues its own exploration stream")
      for (name, w) in full[r].weights { XCTAssertEqual(resumed[r].weights[name]!, w, "rank \(r): \(name) after resuming") }
    }
  }

  func testResumeNeedsTheSameNumberOfRanks() throws {
    let c = try config(["checkpoint_interval=2", "epochs=1"])
    let twoRankDir = "\(tmp!)/two", oneRankDir = "\(tmp!)/one"
    _ = try ThreadGroup(worldSize: 2).run { comm -> Int in
      let t = try Trainer(config: c, backend: CPUBackend.shared, communicator: comm)
      t.observer = try t.makeRecorder(directory: twoRankDir)
      try t.run()
      return t.step
    }
    let single = try Trainer(config: c, backend: CPUBackend.shared)
    single.observer = try single.makeRecorder(directory: oneRankDir)
    try single.run()
    XCTAssertThrowsError(try Trainer(config: c, backend: CPUBackend.shared).restore(from: twoRankDir + "/step_2.safetensors")) { e in
      XCTAssertTrue((e as? HRMError)?.message.contains("written by a 2-rank run; resume it with 2 rank(s), not 1") ?? false, "\(e)")
    }
    let errors = try ThreadGroup(worldSize: 2).run { comm -> String in
      let t = try Trainer(config: c, backend: CPUBackend.shared, communicator: comm)
      do { _ = try t.restore(from: oneRankDir + "/step_2.safetensors"); return "" } catch let e as HRMError { return e.message }
    }
    for e in errors { XCTAssertTrue(e.contains("written by a 1-rank run; resume it with 1 rank(s), not 2"), e) }
  }

  func testRanksRestoringDifferentCheckpointsAllStop() throws {
    let c = try config(["checkpoint_interval=2", "epochs=1"])
    let dir = "\(tmp!)/run"
    _ = try ThreadGroup(worldSize: 2).run { comm -> Int in
      let t = try Trainer(config: c, backend: CPUBackend.shared, communicator: comm)
      t.observer = try t.makeRecorder(directory: dir)
      try t.run()
      return t.step
    }
    // Rank 1 sees an older checkpoint than rank 0: both must refuse (neither may go on alone).
    let outcomes = try ThreadGroup(worldSize: 2).run { comm -> String in
      let t = try Trainer(config: c, backend: CPUBackend.shared, communicator: comm)
      do {
        _ = try t.restore(from: dir + (comm.rank == 0 ? "/step_4.safetensors" : "/step_2.safetensors"))
        return "restored step \(t.step)"
      } catch let e as HRMError { return e.message }
    }
    XCTAssertTrue(outcomes[0].contains("the ranks restored different checkpoints (rank 0 has step 4)"), outcomes[0])
    XCTAssertTrue(outcomes[1].contains("the ranks restored different checkpoints (rank 1 has step 2)"), outcomes[1])
  }

  // MARK: - Environment

  func testEnvironmentParsing() throws {
    XCTAssertNil(try DistributedEnvironment.parse([:]))
    let env = try XCTUnwrap(DistributedEnvironment.parse(
      ["RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "MASTER_ADDR": "node0", "MASTER_PORT": "29400"]))
    XCTAssertEqual(env, DistributedEnvironment(rank: 3, worldSize: 8, localRank: 1, masterAddr: "node0", masterPort: 29400))
    let defaults = try XCTUnwrap(DistributedEnvironment.parse(["RANK": "1", "WORLD_SIZE": "2"]))
    XCTAssertEqual(defaults, DistributedEnvironment(rank: 1, worldSize: 2, localRank: 1, masterAddr: "127.0.0.1", masterPort: 29500))
    XCTAssertEqual(try DistributedEnvironment.parse(["WORLD_SIZE": "1"])?.rank, 0)
    // torchrun's agent serves its own store on MASTER_PORT: the rendezvous moves one port up.
    let torchrun = try XCTUnwrap(DistributedEnvironment.parse(
      ["RANK": "0", "WORLD_SIZE": "2", "MASTER_PORT": "29400", "TORCHELASTIC_USE_AGENT_STORE": "True"]))
    XCTAssertEqual(torchrun.rendezvousPort, 29401)
    XCTAssertEqual(try DistributedEnvironment.parse(
      ["RANK": "0", "WORLD_SIZE": "2", "TORCHELASTIC_USE_AGENT_STORE": "True", "HRM_RENDEZVOUS_PORT": "4000"])?.rendezvousPort, 4000)
    XCTAssertEqual(defaults.rendezvousPort, 29500)
    func fails(_ env: [String: String], _ fragment: String, line: UInt = #line) {
      XCTAssertThrowsError(try DistributedEnvironment.parse(env), line: line) { e in
        let m = (e as? HRMError)?.message ?? "\(e)"
        XCTAssertTrue(m.contains(fragment), "'\(m)' should mention '\(fragment)'", line: line)
        XCTAssertFalse(m.contains("\n"), "one line", line: line)
      }
    }
    fails(["RANK": "0"], "WORLD_SIZE is not")
    fails(["WORLD_SIZE": "2"], "RANK is not")
    fails(["RANK": "0", "WORLD_SIZE": "two"], "WORLD_SIZE=two")
    fails(["RANK": "0", "WORLD_SIZE": "0"], "WORLD_SIZE=0")
    fails(["RANK": "x", "WORLD_SIZE": "2"], "RANK=x")
    fails(["RANK": "2", "WORLD_SIZE": "2"], "RANK=2 is outside")
    fails(["RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "-1"], "LOCAL_RANK=-1")
    fails(["RANK": "0", "WORLD_SIZE": "2", "MASTER_PORT": "70000"], "MASTER_PORT=70000")
    fails(["RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": " "], "MASTER_ADDR is empty")
    fails(["RANK": "0", "WORLD_SIZE": "2", "HRM_RENDEZVOUS_PORT": "0"], "HRM_RENDEZVOUS_PORT=0")
    let child = DistributedEnvironment.childEnvironment(rank: 1, worldSize: 2, masterAddr: "127.0.0.1", masterPort: 1234)
    XCTAssertEqual(child["NCCL_NVLS_ENABLE"], "0", "NVLink multicast stays off in workers")
    XCTAssertEqual(try DistributedEnvironment.parse(child), DistributedEnvironment(rank: 1, worldSize: 2, localRank: 1, masterAddr: "127.0.0.1", masterPort: 1234))
  }

  func testGpusAndTimeoutKeysAreValidated() throws {
    XCTAssertEqual(try config(["gpus=4", "device=cuda"]).gpuCount, 4)
    XCTAssertEqual(try config().gpuCount, 1)
    XCTAssertEqual(try config(["dist_timeout=12.5"]).distTimeoutSeconds, 12.5)
    XCTAssertEqual(try config().distTimeoutSeconds, 300)
    func fails(_ extra: [String], _ fragment: String, line: UInt = #line) {
      XCTAssertThrowsError(try { var c = try config(extra); c.device = c.device; try c.validate() }(), line: line) { e in
        let m = (e as? HRMError)?.message ?? "\(e)"
        XCTAssertTrue(m.contains(fragment), "'\(m)' should mention '\(fragment)'", line: line)
      }
    }
    fails(["gpus=0"], "gpus=0: must be at least 1")
    fails(["gpus=two"], "gpus=two: expected an integer")
    fails(["gpus=2"], "gpus=2 needs device=cuda")   // the helper's device=cpu
    fails(["gpus=2", "device=cuda:1"], "drop the device index")
    fails(["gpus=3", "device=cuda"], "not divisible by gpus=3")
    fails(["dist_timeout=0"], "dist_timeout=0.0: must be a positive number")
    fails(["dist_timeout=soon"], "dist_timeout=soon: expected a number")
    // Old checkpoints (config JSON without the new keys) still decode.
    let old = try JSONEncoder().encode(try config())
    XCTAssertFalse(String(decoding: old, as: UTF8.self).contains("gpus"))
    XCTAssertNil(try JSONDecoder().decode(TrainConfig.self, from: old).gpus)
  }

  // MARK: - TCP rendezvous

  /// Runs `body(rank)` for each rank on its own thread; returns results in rank order.
  func onThreads<T>(_ ranks: [Int], _ body: @escaping @Sendable (Int) -> T) -> [Int: T] {
    let slots = ranks.map { _ in ResultSlot<T>() }
    let done = DispatchGroup()
    for (i, rank) in ranks.enumerated() {
      done.enter()
      Thread { slots[i].result = .success(body(rank)); done.leave() }.start()
    }
    done.wait()
    var out: [Int: T] = [:]
    for (i, rank) in ranks.enumerated() { out[rank] = try? slots[i].result!.get() }
    return out
  }

  func testRendezvousGivesEveryRankTheId() throws {
    let port = try WorkerLauncher.freePort()
    let id = (0..<128).map { UInt8(($0 * 37 + 11) & 0xFF) }
    let got = onThreads([0, 1, 2, 3]) { rank in
      Result { try TCPRendezvous.exchange(rank: rank, worldSize: 4, host: "127.0.0.1", port: port,
                                          payload: rank == 0 ? id : [], timeout: 20) }
    }
    for rank in 0..<4 { XCTAssertEqual(try got[rank]!.get(), id, "rank \(rank)") }
  }

  func testRendezvousWithAMissingRankFailsWithinTheTimeout() throws {
    let port = try WorkerLauncher.freePort()
    let start = Date()
    let got = onThreads([0, 1]) { rank -> String in  // world of 3: rank 2 never joins
      do {
        _ = try TCPRendezvous.exchange(rank: rank, worldSize: 3, host: "127.0.0.1", port: port, payload: [1, 2, 3], timeout: 1.5)
        return "no error"
      } catch { return (error as? HRMError)?.message ?? "\(error)" }
    }
    XCTAssertLessThan(Date().timeIntervalSince(start), 6, "no hang past the timeout")
    XCTAssertTrue(got[0]!.contains("timed out after 1.5 s") && got[0]!.contains("rank 2 never joined"), got[0]!)
    XCTAssertTrue(got[1]!.contains("rank 0"), got[1]!)
    // A rank whose rank 0 never comes up: connection retries end at the timeout.
    let lonely = Date()
    XCTAssertThrowsError(try TCPRendezvous.exchange(rank: 1, worldSize: 2, host: "127.0.0.1", port: try WorkerLauncher.freePort(),
                                                    payload: [], timeout: 1)) { e in
      XCTAssertTrue("\(e)".contains("could not reach rank 0 at 127.0.0.1"), "\(e)")
    }
    XCTAssertLessThan(Date().timeIntervalSince(lonely), 4)
  }

  func testRendezvousRefusesMismatchedWorldSizes() throws {
    let port = try WorkerLauncher.freePort()
    let got = onThreads([0, 1]) { rank -> String in
      do {
        _ = try TCPRendezvous.exchange(rank: rank, worldSize: rank == 0 ? 2 : 3, host: "127.0.0.1", port: port,
                                       payload: [9], timeout: 3)
        return "no error"
      } catch { return "\(error)" }
    }
    XCTAssertTrue(got[0]!.contains("rank 1 has WORLD_SIZE=3 but rank 0 has 2"), got[0]!)
    XCTAssertNotEqual(got[1]!, "no error")
  }

  // MARK: - gpus=N launcher

  func testLauncherStartsRanksWithTheirEnvironment() throws {
    let script = "test \"$WORLD_SIZE\" = 3 && test \"$LOCAL_RANK\" = \"$RANK\" && test \"$NCCL_NVLS_ENABLE\" = 0 "
      + "&& test \"$MASTER_ADDR\" = 127.0.0.1 && test -n \"$MASTER_PORT\" && touch \"$OUTDIR/rank$RANK\""
    let outcome = try WorkerLauncher.run(executable: "/bin/sh", arguments: ["-c", script], count: 3,
                                         environment: ["OUTDIR": tmp, "PATH": "/usr/bin:/bin"], notice: { _ in })
    XCTAssertEqual(outcome, WorkerLauncher.Outcome(status: 0, failedRank: nil))
    for r in 0..<3 { XCTAssertTrue(FileManager.default.fileExists(atPath: "\(tmp!)/rank\(r)"), "rank \(r) ran") }
  }

  func testLauncherStopsTheOthersWhenOneRankDies() throws {
    let start = Date()
    var notices: [String] = []
    let outcome = try WorkerLauncher.run(
      executable: "/bin/sh", arguments: ["-c", "if [ \"$RANK\" = 1 ]; then sleep 0.2; exit 3; fi; exec sleep 60"],
      count: 3, environment: ["PATH": "/usr/bin:/bin"], grace: 2, notice: { notices.append($0) })
    XCTAssertEqual(outcome, WorkerLauncher.Outcome(status: 3, failedRank: 1))
    XCTAssertLessThan(Date().timeIntervalSince(start), 10, "the sleeping ranks were stopped")
    XCTAssertEqual(notices, ["hrm train: worker 1 of 3 exited with status 3; stopping the others"])
  }

  func testLauncherStopsTheWorkersOnSIGTERM() throws {
    let start = Date()
    DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { kill(getpid(), SIGTERM) }
    var notices: [String] = []
    let outcome = try WorkerLauncher.run(executable: "/bin/sh", arguments: ["-c", "exec sleep 20"], count: 2,
                                         environment: ["PATH": "/usr/bin:/bin"], grace: 2, notice: { notices.append($0) })
    XCTAssertEqual(outcome, WorkerLauncher.Outcome(status: 128 + SIGTERM, failedRank: nil))
    XCTAssertLessThan(Date().timeIntervalSince(start), 5, "the workers were stopped, not waited for")
    XCTAssertEqual(notices, ["hrm train: got signal \(SIGTERM); stopping the 2 workers"])
  }

  /// The built `hrm` next to the test bundle (as KillResumeTests finds it).
  func hrmBinary() throws -> String {
    var dirs = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path,
                Bundle(for: DistributedTests.self).bundleURL.deletingLastPathComponent().path]
    dirs += dirs.map { ($0 as NSString).deletingLastPathComponent }
    for d in dirs {
      let p = (d as NSString).appendingPathComponent("hrm")
      if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    throw XCTSkip("the hrm binary is not next to the test bundle; run `swift build` first")
  }

  func testGpusLaunchWithoutAGPUFailsCleanly() throws {
    let binary = try hrmBinary()
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = ["train", "data_path=\(TrainerTests.datasetPath)", "arch=hrm_tiny", "global_batch_size=8", "epochs=1",
                   "eval_interval=1", "gpus=2", "device=cuda", "checkpoint_path=\(tmp!)/run", "dist_timeout=10"]
    var env = ProcessInfo.processInfo.environment
    for k in ["RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"] { env[k] = nil }
    p.environment = env
    let err = Pipe()
    p.standardError = err
    p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
    let start = Date()
    try p.run()
    let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    if p.terminationStatus == 0 { throw XCTSkip("this machine has usable GPUs and NCCL: the run succeeded") }
    XCTAssertTrue(text.contains("CUDA unavailable") || text.contains("NCCL"), "the workers say why: \(text)")
    XCTAssertLessThan(Date().timeIntervalSince(start), 30)
    XCTAssertTrue(text.contains("hrm train: worker") && text.contains("of 2 exited with status"), text)
    XCTAssertFalse(FileManager.default.fileExists(atPath: "\(tmp!)/run/metrics.jsonl"), "no rank trained")
  }
}
