// BenchCommand.swift: `hrm bench ...` micro-benchmarks of the CPU backend's kernels.
//
// `hrm bench gemm` times CPUGEMM.sgemm on the matrix shapes HRM's linear layers produce
// (forward y = x Wᵀ, backward dX = dY W and dW = dYᵀ X) and prints, per shape, the median
// wall time over several repeats (after warm-up) and the GFLOP/s it implies (2 m n k flops).
// Dev/bench-cpu.sh runs it with --json next to numpy on the same shapes.

import ArgumentParser
import Dispatch
import Foundation
import HRMTensor

/// `hrm bench`: micro-benchmarks.
public struct BenchCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Micro-benchmarks of the CPU kernels.",
    subcommands: [BenchGEMMCommand.self, BenchModelCommand.self])

  public init() {}
}

/// One benchmarked multiply: C[m, n] = op(A)[m, k] op(B)[k, n].
public struct GEMMBenchShape: Codable, Equatable, Sendable {
  /// Label, e.g. "fwd qkv M=2624".
  public var name: String
  /// Whether A is stored [k, m].
  public var transA: Bool
  /// Whether B is stored [n, k].
  public var transB: Bool
  /// Output rows.
  public var m: Int
  /// Output columns.
  public var n: Int
  /// Reduction length.
  public var k: Int

  /// Creates a shape.
  public init(name: String, transA: Bool, transB: Bool, m: Int, n: Int, k: Int) {
    self.name = name
    self.transA = transA
    self.transB = transB
    self.m = m
    self.n = n
    self.k = k
  }

  /// The three multiplies of a linear layer y = x Wᵀ with x [rows, inputs], W [outputs, inputs].
  public static func linear(_ layer: String, rows: Int, outputs: Int, inputs: Int) -> [GEMMBenchShape] {
    [
      GEMMBenchShape(name: "fwd \(layer) M=\(rows)", transA: false, transB: true,
                     m: rows, n: outputs, k: inputs),
      GEMMBenchShape(name: "dX \(layer) M=\(rows)", transA: false, transB: false,
                     m: rows, n: inputs, k: outputs),
      GEMMBenchShape(name: "dW \(layer) M=\(rows)", transA: true, transB: false,
                     m: outputs, n: inputs, k: rows),
    ]
  }

  /// HRM's shapes: hidden 512 (qkv 1536, out 512, SwiGLU gate+up 3072, down from 1536) at
  /// rows = 32 x 82 and 8 x 82, then the hidden-128 demo config at rows = 8 x 82.
  public static let hrm: [GEMMBenchShape] = {
    var s: [GEMMBenchShape] = []
    for rows in [2624, 656] {
      s += linear("qkv", rows: rows, outputs: 1536, inputs: 512)
      s += linear("o", rows: rows, outputs: 512, inputs: 512)
      s += linear("gate_up", rows: rows, outputs: 3072, inputs: 512)
      s += linear("down", rows: rows, outputs: 512, inputs: 1536)
    }
    s += linear("demo qkv", rows: 656, outputs: 384, inputs: 128)
    s += linear("demo o", rows: 656, outputs: 128, inputs: 128)
    s += linear("demo gate_up", rows: 656, outputs: 768, inputs: 128)
    s += linear("demo down", rows: 656, outputs: 128, inputs: 384)
    s += linear("demo head", rows: 656, outputs: 256, inputs: 128)
    return s
  }()
}

/// One benchmark result.
public struct GEMMBenchResult: Codable, Sendable {
  /// The shape.
  public var shape: GEMMBenchShape
  /// Threads used.
  public var threads: Int
  /// Median milliseconds per multiply.
  public var ms: Double
  /// 2 m n k / median time, in GFLOP/s.
  public var gflops: Double
  /// Timed repeats.
  public var repeats: Int
}

/// `hrm bench gemm`: times CPUGEMM.sgemm on HRM's shapes.
public struct BenchGEMMCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "gemm",
    abstract: "Time the CPU SGEMM on HRM's matrix shapes (median ms and GFLOP/s per shape).")

  @Flag(name: .long, help: "Print one JSON array of results instead of a table.")
  var json = false

  @Option(name: .long, help: "Worker threads (default: HRM_THREADS or all cores).")
  var threads: Int?

  @Option(name: .long, help: "Timed repeats per shape (the median is reported).")
  var repeats = 7

  @Option(name: .long, help: "Untimed warm-up runs per shape.")
  var warmup = 2

  @Option(name: .long, help: "Only shapes whose name contains this text.")
  var filter: String?

  @Option(name: .long, help: "Time one custom shape instead: m,n,k[,tA][,tB] e.g. 2624,1536,512,tB")
  var shape: String?

  @Flag(name: .long, help: "Print the shapes (JSON) without timing them.")
  var list = false

  @Flag(name: .long, help: ArgumentHelp(
    "Time with process CPU time instead of wall time (GFLOP/s then means per busy core).",
    discussion: "For tuning on a shared machine: time the process spends descheduled is not counted."))
  var cpuTime = false

  public init() {}

  public func validate() throws {
    if let t = threads, t < 1 { throw ValidationError("--threads must be >= 1") }
    if repeats < 1 { throw ValidationError("--repeats must be >= 1") }
    if warmup < 0 { throw ValidationError("--warmup must be >= 0") }
  }

  public func run() throws {
    let nThreads = threads ?? CPUParallel.threadCount
    var shapes = GEMMBenchShape.hrm
    if let text = shape {
      let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
      guard parts.count >= 3, let m = Int(parts[0]), let n = Int(parts[1]), let k = Int(parts[2]),
            m > 0, n > 0, k > 0
      else { throw ValidationError("--shape wants m,n,k[,tA][,tB], got \(text)") }
      let flags = Set(parts.dropFirst(3))
      if !flags.isSubset(of: ["tA", "tB", ""]) { throw ValidationError("--shape flags are tA and tB, got \(text)") }
      shapes = [GEMMBenchShape(name: "custom", transA: flags.contains("tA"), transB: flags.contains("tB"),
                               m: m, n: n, k: k)]
    }
    if let f = filter { shapes = shapes.filter { $0.name.contains(f) } }
    if list {
      let enc = JSONEncoder()
      enc.outputFormatting = [.sortedKeys]
      print(String(decoding: try enc.encode(shapes), as: UTF8.self))
      return
    }

    var results: [GEMMBenchResult] = []
    if !json {
      print("threads \(nThreads), median of \(repeats) after \(warmup) warm-up")
      print(pad("shape", 24) + pad("op", 4) + lpad("m", 6) + lpad("n", 6) + lpad("k", 6)
            + lpad("ms", 10) + lpad("GFLOP/s", 10))
    }
    for s in shapes {
      let r = Self.time(s, threads: nThreads, repeats: repeats, warmup: warmup, cpuTime: cpuTime)
      results.append(r)
      if !json {
        let op = (s.transA ? "T" : "N") + (s.transB ? "T" : "N")
        print(pad(s.name, 24) + pad(op, 4) + lpad("\(s.m)", 6) + lpad("\(s.n)", 6) + lpad("\(s.k)", 6)
              + lpad(String(format: "%.3f", r.ms), 10) + lpad(String(format: "%.1f", r.gflops), 10))
        fflush(stdout)
      }
    }
    if json {
      let enc = JSONEncoder()
      enc.outputFormatting = [.sortedKeys]
      print(String(decoding: try enc.encode(results), as: UTF8.self))
    }
  }

  /// Times one shape: random operands in [-1, 1), C overwritten (beta = 0) each run.
  static func time(_ s: GEMMBenchShape, threads: Int, repeats: Int, warmup: Int,
                   cpuTime: Bool = false) -> GEMMBenchResult {
    let lda = s.transA ? s.m : s.k
    let ldb = s.transB ? s.k : s.n
    var state: UInt32 = 12345
    func fill(_ count: Int) -> [Float] {
      (0..<count).map { _ in
        state = state &* 1_664_525 &+ 1_013_904_223
        return Float(state >> 8) / Float(1 << 24) * 2 - 1
      }
    }
    let a = fill(s.m * s.k), b = fill(s.k * s.n)
    var c = [Float](repeating: 0, count: s.m * s.n)
    var times: [Double] = []
    a.withUnsafeBufferPointer { pa in
      b.withUnsafeBufferPointer { pb in
        c.withUnsafeMutableBufferPointer { pc in
          for i in 0..<(warmup + repeats) {
            let t0 = cpuTime ? processCPUNanoseconds() : DispatchTime.now().uptimeNanoseconds
            CPUGEMM.sgemm(transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k, alpha: 1,
                          a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb, beta: 0,
                          c: pc.baseAddress!, ldc: s.n, threads: threads)
            let t1 = cpuTime ? processCPUNanoseconds() : DispatchTime.now().uptimeNanoseconds
            if i >= warmup { times.append(Double(t1 - t0) * 1e-9) }
          }
        }
      }
    }
    times.sort()
    let median = times.count % 2 == 1
      ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
    let flops = 2.0 * Double(s.m) * Double(s.n) * Double(s.k)
    return GEMMBenchResult(shape: s, threads: threads, ms: median * 1e3, gflops: flops / median * 1e-9,
                           repeats: repeats)
  }
}

/// CPU time consumed by this process (all threads), in nanoseconds.
private func processCPUNanoseconds() -> UInt64 {
  var ts = timespec()
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
  return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

private func pad(_ s: String, _ w: Int) -> String {
  s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count)
}

private func lpad(_ s: String, _ w: Int) -> String {
  s.count >= w ? " " + s : String(repeating: " ", count: w - s.count) + s
}
