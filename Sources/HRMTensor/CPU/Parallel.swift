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
