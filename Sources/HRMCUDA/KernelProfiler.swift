// KernelProfiler.swift: device time per kernel, from a pair of CUDA events around every
// launch, cuBLASLt call and device copy between Backend.beginProfile and endProfile
// (`hrm bench model --profile`). Events are recorded on the backend's one stream, so the
// pairs time the kernels as they run, in order; the host never waits until endProfile.

import HRMTensor

/// Event pairs recorded while profiling; reused from one profile to the next.
final class KernelProfiler {
  private var pool: [OpaquePointer?] = []
  private var used = 0
  /// (name, start event index) of each timed call, in launch order.
  private var calls: [(String, Int)] = []
  var active = false

  /// Two events (start, end) from the pool, created on first use.
  func nextPair(_ backend: CUDABackend) -> (OpaquePointer?, OpaquePointer?, Int) {
    while pool.count < used + 2 {
      var e: OpaquePointer?
      backend.checkOrDie(backend.driver.cuEventCreate(&e, 0), "cuEventCreate")
      pool.append(e)
    }
    defer { used += 2 }
    return (pool[used], pool[used + 1], used)
  }

  func record(_ name: String, start: Int) { calls.append((name, start)) }

  func begin() {
    used = 0
    calls.removeAll(keepingCapacity: true)
    active = true
  }

  /// Sums each name's event-pair times, largest total first.
  func end(_ backend: CUDABackend) -> [KernelTime] {
    active = false
    guard let last = calls.last else { return [] }
    backend.checkOrDie(backend.driver.cuEventSynchronize(pool[last.1 + 1]), "cuEventSynchronize")
    var totals: [String: KernelTime] = [:]
    for (name, i) in calls {
      var ms: Float = 0
      backend.checkOrDie(backend.driver.cuEventElapsedTime(&ms, pool[i], pool[i + 1]), "cuEventElapsedTime")
      totals[name, default: KernelTime(name: name, calls: 0, milliseconds: 0)].calls += 1
      totals[name]!.milliseconds += Double(ms)
    }
    return totals.values.sorted { $0.milliseconds > $1.milliseconds }
  }
}

extension CUDABackend {
  public func beginProfile() {
    synchronize()
    profiler.begin()
  }

  public func endProfile() -> [KernelTime] {
    profiler.active ? profiler.end(self) : []
  }

  /// Runs `body` (which queues device work) between two profiling events named `name()`
  /// when a profile is being taken; otherwise just runs it. Returns what `body` returns.
  @inline(__always)
  func profiled<R>(_ name: @autoclosure () -> String, _ body: () -> R) -> R {
    guard profiler.active else { return body() }
    let (start, end, index) = profiler.nextPair(self)
    checkOrDie(driver.cuEventRecord(start, stream), "cuEventRecord")
    let result = body()
    checkOrDie(driver.cuEventRecord(end, stream), "cuEventRecord")
    profiler.record(name(), start: index)
    return result
  }
}
