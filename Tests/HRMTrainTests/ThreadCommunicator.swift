// ThreadCommunicator.swift: TEST DOUBLE. An in-process `Communicator` whose ranks are threads
// of the test process, so data-parallel training can be checked without GPUs or NCCL.
//
// The tensor engine keeps its autodiff tape in global state, so the rank threads take turns:
// a `ThreadGroup` lets one rank run at a time and hands the turn over inside every
// collective (while the rank waits for the others). Collectives exchange host copies of the
// tensors; sums run in rank order in f32.

import Foundation
import HRMSupport
import HRMTensor

/// The shared state of one group of thread ranks (test double).
final class ThreadGroup: @unchecked Sendable {
  let worldSize: Int
  let timeout: Double
  private let cond = NSCondition()
  private var turnHeld = false
  private var rounds: [Int: [Int: [UInt8]]] = [:]
  private var reads: [Int: Int] = [:]

  init(worldSize: Int, timeout: Double = 30) {
    self.worldSize = worldSize
    self.timeout = timeout
  }

  private func takeTurn() { while turnHeld { cond.wait() }; turnHeld = true }

  /// Deposits `payload` for collective number `round` and returns every rank's, in rank order.
  func exchange(rank: Int, round: Int, payload: [UInt8]) throws -> [[UInt8]] {
    cond.lock()
    defer { cond.unlock() }
    rounds[round, default: [:]][rank] = payload
    turnHeld = false
    cond.broadcast()
    let deadline = Date().addingTimeInterval(timeout)
    while rounds[round]!.count < worldSize {
      if !cond.wait(until: deadline) && rounds[round]!.count < worldSize {
        takeTurn()
        throw HRMError("thread rank \(rank): collective \(round) timed out")
      }
    }
    let all = (0..<worldSize).map { rounds[round]![$0]! }
    reads[round, default: 0] += 1
    if reads[round] == worldSize { rounds[round] = nil; reads[round] = nil }
    takeTurn()
    return all
  }

  /// Runs `body(rank)` on `worldSize` threads (one at a time outside collectives) and returns
  /// the results in rank order; rethrows the first rank's error.
  func run<T>(_ body: @escaping (ThreadCommunicator) throws -> T) throws -> [T] {
    let slots = (0..<worldSize).map { _ in ResultSlot<T>() }
    let done = DispatchGroup()
    for rank in 0..<worldSize {
      done.enter()
      let thread = Thread { [self] in
        cond.lock(); takeTurn(); cond.unlock()
        slots[rank].result = Result { try body(ThreadCommunicator(rank: rank, group: self)) }
        cond.lock(); turnHeld = false; cond.broadcast(); cond.unlock()
        done.leave()
      }
      thread.stackSize = 16 << 20
      thread.start()
    }
    done.wait()
    return try slots.map { try $0.result!.get() }
  }
}

/// Where a rank thread leaves its result (test helper).
final class ResultSlot<T>: @unchecked Sendable {
  var result: Result<T, Error>?
  let lock = NSLock()
}

/// One thread rank (test double for NCCLCommunicator).
final class ThreadCommunicator: Communicator {
  let rank: Int
  let group: ThreadGroup
  var worldSize: Int { group.worldSize }
  private var round = 0

  init(rank: Int, group: ThreadGroup) {
    self.rank = rank
    self.group = group
  }

  private func exchange(_ payload: [UInt8]) throws -> [[UInt8]] {
    round += 1
    return try group.exchange(rank: rank, round: round, payload: payload)
  }

  static func bytes(_ t: Tensor) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: t.byteCount)
    out.withUnsafeMutableBytes { t.backend.download(t.buffer, offset: t.byteOffset, byteCount: t.byteCount, to: $0.baseAddress!) }
    return out
  }

  static func write(_ bytes: ArraySlice<UInt8>, to t: Tensor) {
    precondition(bytes.count == t.byteCount)
    Array(bytes).withUnsafeBytes { t.backend.upload($0.baseAddress!, byteCount: t.byteCount, to: t.buffer, offset: t.byteOffset) }
  }

  func allReduceSum(_ tensors: [Tensor]) throws {
    precondition(tensors.allSatisfy { $0.dtype == .f32 }, "test double sums f32 only")
    let all = try exchange(tensors.flatMap { ThreadCommunicator.bytes($0) })
    let floats = all.map { b in b.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } }
    var sum = floats[0]
    for r in 1..<floats.count { for i in sum.indices { sum[i] += floats[r][i] } }
    let out = sum.withUnsafeBytes { Array($0) }
    var at = 0
    for t in tensors {
      ThreadCommunicator.write(out[at..<at + t.byteCount], to: t)
      at += t.byteCount
    }
  }

  func broadcast(_ tensors: [Tensor], root: Int) throws {
    let all = try exchange(tensors.flatMap { ThreadCommunicator.bytes($0) })
    var at = 0
    for t in tensors {
      ThreadCommunicator.write(all[root][at..<at + t.byteCount], to: t)
      at += t.byteCount
    }
  }

  func allGather(_ tensor: Tensor) throws -> Tensor {
    let all = try exchange(ThreadCommunicator.bytes(tensor))
    var shape = tensor.shape
    shape[0] *= worldSize
    let out = Tensor.empty(shape, tensor.dtype, on: tensor.backend)
    ThreadCommunicator.write(ArraySlice(all.flatMap { $0 }), to: out)
    return out
  }

  func barrier() throws { _ = try exchange([]) }
}
