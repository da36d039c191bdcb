// Parallel.swift: the CPU backend's deterministic parallel loop.
//
// Work is split into fixed chunks that do not depend on timing, and no chunk writes memory
// another chunk reads, so results are bit-identical from run to run.

import Dispatch
import Foundation

public enum CPUParallel {
  /// Number of worker threads (HRM_THREADS overrides; default: active processors).
  public static let threadCount: Int = {
    if let s = ProcessInfo.processInfo.environment["HRM_THREADS"], let n = Int(s), n > 0 { return n }
    return max(1, ProcessInfo.processInfo.activeProcessorCount)
  }()

  /// Calls body(i) for i in 0..<count, spread over the worker threads. `minPerThread` keeps
  /// tiny loops on the calling thread.
  public static func forEach(_ count: Int, minPerThread: Int = 1, _ body: (Int) -> Void) {
    if count <= 0 { return }
    let threads = min(threadCount, max(1, count / max(1, minPerThread)))
    if threads <= 1 {
      for i in 0..<count { body(i) }
      return
    }
    let chunk = (count + threads - 1) / threads
    DispatchQueue.concurrentPerform(iterations: threads) { t in
      let lo = t * chunk
      let hi = min(count, lo + chunk)
      if lo < hi { for i in lo..<hi { body(i) } }
    }
  }

  /// Calls body(range) on contiguous, deterministic ranges covering 0..<count.
  public static func forRanges(_ count: Int, minPerThread: Int = 1, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let threads = min(threadCount, max(1, count / max(1, minPerThread)))
    if threads <= 1 { body(0..<count); return }
    let chunk = (count + threads - 1) / threads
    DispatchQueue.concurrentPerform(iterations: threads) { t in
      let lo = t * chunk
      let hi = min(count, lo + chunk)
      if lo < hi { body(lo..<hi) }
    }
  }
}

// MARK: - Persistent worker team

extension CPUParallel {
  /// Runs body(0), ..., body(workers - 1) at the same time, body(0) on the calling thread
  /// and the others on persistent pool threads, and returns when all have finished.
  ///
  /// For short parallel sections. Pool threads spin for `WorkerTeam.spinNanoseconds` after
  /// each job before parking, so back-to-back calls start in well under a microsecond; in
  /// this KVM guest waking a parked thread costs the caller 10-20 µs and the wakee 30 µs,
  /// and `DispatchQueue.concurrentPerform` measured 30-90 µs before its second thread
  /// started (docs/perf-cpu.md).
  ///
  /// What each body(i) computes must not depend on timing (this only decides *when* it
  /// runs), which keeps results deterministic. If the team is already busy (a nested or
  /// concurrent call), the bodies run one after another on the calling thread.
  public static func team(_ workers: Int, _ body: (Int) -> Void) {
    if workers <= 1 { body(0); return }
    WorkerTeam.shared.run(workers, body)
  }
}

/// The pool behind `CPUParallel.team`: threads created on first use that spin briefly after
/// each job, then park on a semaphore.
final class WorkerTeam: @unchecked Sendable {
  static let shared = WorkerTeam()

  /// How long an idle pool thread (and a caller waiting for its helpers) polls before
  /// sleeping: long enough to bridge the gaps between the kernels of one training step,
  /// short enough not to hog a core another process could use.
  static let spinNanoseconds: UInt64 = 200_000

  /// Takes `lock` without ever sleeping in the kernel: the locks here are held for a few
  /// instructions, and a glibc mutex that finds its lock taken sleeps at once, costing a
  /// futex wake (an IPI under KVM, microseconds) on the hot path.
  @inline(__always)
  private func spinLock(_ lock: NSLock) {
    while !lock.try() {}
  }

  /// Waits a little (a few clock reads, ~100 ns) between polls; returns the time.
  @inline(__always)
  private static func backOff() -> UInt64 {
    var t: UInt64 = 0
    for _ in 0..<4 { t = DispatchTime.now().uptimeNanoseconds }
    return t
  }

  /// One pool thread and its mailbox; every field is guarded by `lock`.
  final class Member: @unchecked Sendable {
    let lock = NSLock()
    let wake = DispatchSemaphore(value: 0)
    var job: ((Int) -> Void)?
    var index = 0
    var posted = 0    // jobs posted so far
    var sleeping = false
  }

  private let busy = NSLock()        // held for the whole of one team run
  private var members: [Member] = [] // only touched while holding `busy`
  private let doneLock = NSLock()
  private let doneWake = DispatchSemaphore(value: 0)
  private var pending = 0            // helpers still running; guarded by doneLock
  private var callerSleeping = false // guarded by doneLock

  func run(_ workers: Int, _ body: (Int) -> Void) {
    guard busy.try() else {
      for i in 0..<workers { body(i) }
      return
    }
    defer { busy.unlock() }
    let helpers = workers - 1
    while members.count < helpers { start(Member()) }
    withoutActuallyEscaping(body) { job in
      spinLock(doneLock)
      pending = helpers
      doneLock.unlock()
      for h in 0..<helpers {
        let member = members[h]
        spinLock(member.lock)
        member.job = job
        member.index = h + 1
        member.posted += 1
        let parked = member.sleeping
        member.sleeping = false
        member.lock.unlock()
        if parked { member.wake.signal() }
      }
      job(0)
      waitForHelpers()
      for h in 0..<helpers {
        spinLock(members[h].lock)
        members[h].job = nil
        members[h].lock.unlock()
      }
    }
  }

  /// Polls `pending` for up to spinNanoseconds, then sleeps until the last helper signals.
  private func waitForHelpers() {
    let deadline = DispatchTime.now().uptimeNanoseconds + Self.spinNanoseconds
    while true {
      if doneLock.try() {
        if pending == 0 { doneLock.unlock(); return }
        doneLock.unlock()
      }
      // Back off outside the lock, so a helper that wants it is not starved.
      if Self.backOff() > deadline {
        spinLock(doneLock)
        if pending == 0 { doneLock.unlock(); return }
        callerSleeping = true
        doneLock.unlock()
        doneWake.wait()
        return
      }
    }
  }

  /// Called by a helper when its job is done.
  private func helperFinished() {
    spinLock(doneLock)
    pending -= 1
    let wakeCaller = pending == 0 && callerSleeping
    if wakeCaller { callerSleeping = false }
    doneLock.unlock()
    if wakeCaller { doneWake.signal() }
  }

  private func start(_ member: Member) {
    members.append(member)
    let thread = Thread { [unowned self] in
      var seen = 0
      while true {
        // Wait for the next job: poll, then park.
        let deadline = DispatchTime.now().uptimeNanoseconds + Self.spinNanoseconds
        var parked = false
        while true {
          if member.lock.try() {
            if member.posted != seen { member.lock.unlock(); break }
            member.lock.unlock()
          }
          if !parked && Self.backOff() > deadline {
            spinLock(member.lock)
            if member.posted != seen { member.lock.unlock(); break }
            member.sleeping = true
            member.lock.unlock()
            member.wake.wait()
            parked = true
          }
        }
        do {
          // The scope ends our reference to the job before the caller is told we are done
          // (the caller's withoutActuallyEscaping checks that nobody kept it).
          spinLock(member.lock)
          seen = member.posted
          let job = member.job
          let index = member.index
          member.lock.unlock()
          job?(index)
        }
        self.helperFinished()
      }
    }
    thread.name = "hrm-cpu-\(members.count)"
    thread.start()
  }
}
