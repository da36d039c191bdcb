// SelftestCommand.swift: `hrm selftest device=cuda|cpu [seed=N] [ops=a,b] [bench=true]`.
//
// Checks every kernel of the chosen backend against the CPU backend on fresh random inputs
// and prints a table (op / variant / error / tolerance / PASS|FAIL); exits non-zero on any
// failure, or with one line when the device cannot be opened (e.g. no GPU). `bench=true`
// also times the main kernels at model sizes (GPU only).

import ArgumentParser
import Foundation
import HRMCUDA
import HRMSupport
import HRMTensor

/// `hrm selftest`: GPU (or CPU) kernels against the CPU oracle.
public struct SelftestCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "selftest",
    abstract: "Check every kernel of a backend against the CPU backend (key=value: device=cuda|cpu, seed, ops, bench).")

  @Argument(help: "key=value settings: device=cuda|cpu (default cuda), seed=<int>, ops=<name,...>, bench=true|false, benchops=<name,...>, batch=<int>")
  public var settings: [String] = []

  public init() {}

  struct Options {
    var device = "cuda"
    var seed: UInt64 = 1
    var ops: [String] = []
    var bench = false
    var benchBatch = 384
    var benchOps: [String] = []
  }

  /// The Backend ops whose kernels live in each kernel file (for skipping after a compile error).
  static let opsByFile: [String: [String]] = [
    "elementwise.cu": ["copy", "addScaled", "scale", "copySequence", "selectRows", "addBias"],
    "embedding.cu": ["embeddingForward", "embeddingBackward"],
    "rmsnorm.cu": ["rmsNormForward", "rmsNormBackward", "addRMSNormForward"],
    "rope.cu": ["rope"],
    "attention.cu": ["attentionForward", "attentionForwardRotary", "attentionBackward"],
    "swiglu.cu": ["swigluForward", "swigluBackward"],
    "linear_fused.cu": ["linearSwiGLU", "linearRotary"],
    "losses.cu": ["crossEntropyForward", "crossEntropyBackward", "bceWithLogitsForward", "bceWithLogitsBackward",
                  "rowNormalizedWeights"],
    "reductions.cu": ["sum", "dot", "sumOfSquares", "sumRows", "tokenCorrectness", "argmax"],
    "act.cu": ["actHalt", "actTarget"],
    "optimisers.cu": ["adamATan2Step", "sparseSignSGDStep"],
    "gemm.cu": [],
  ]

  static func ops(of files: [String]) -> [String] {
    files.flatMap { opsByFile[$0] ?? [] }.sorted()
  }

  static func parse(_ settings: [String]) throws -> Options {
    let kv = try KeyValues(settings, allowed: ["device", "seed", "ops", "bench", "benchops", "batch"])
    var o = Options()
    if let value = kv["device"] {
      guard value == "cuda" || value == "cpu" || value.hasPrefix("cuda:") else {
        throw HRMError("selftest: device must be cuda, cuda:<n> or cpu, got '\(value)'")
      }
      o.device = value
    }
    if let value = kv["seed"] {
      guard let s = UInt64(value) else { throw HRMError("selftest: seed must be a non-negative integer, got '\(value)'") }
      o.seed = s
    }
    if let value = kv["ops"] { o.ops = value.split(separator: ",").map(String.init) }
    if let b = try kv.bool("bench") { o.bench = b }
    if let value = kv["benchops"] { o.benchOps = value.split(separator: ",").map(String.init) }
    if let b = try kv.int("batch") { o.benchBatch = b }
    return o
  }

  public func run() throws {
    let options: Options
    do { options = try SelftestCommand.parse(settings) } catch {
      FileHandle.standardError.write("error: \(error)\n".data(using: .utf8)!)
      throw ExitCode(2)
    }
    let reference = CPUBackend()
    let device: Backend
    var skipped: [String] = []
    if options.device == "cpu" {
      device = CPUBackend()
      print("selftest: cpu against cpu (checks the harness; use device=cuda for the GPU)")
    } else {
      let ordinal = options.device.hasPrefix("cuda:") ? Int(options.device.dropFirst(5)) ?? 0 : 0
      do {
        let cuda = try CUDABackend(device: ordinal)
        print("selftest: \(cuda.summary)")
        let t0 = Date()
        let failures = cuda.compileAllKernels()
        print(String(format: "selftest: %d kernel files compiled, %d loaded from the cache (%@), in %.1f s",
                     cuda.kernelFilesCompiled, cuda.kernelFilesFromCache, cuda.kernelCacheDirectory ?? "no cache",
                     Date().timeIntervalSince(t0)))
        for (file, message) in failures.sorted(by: { $0.key < $1.key }) {
          print("selftest: COMPILE FAILED \(file): \(message)")
        }
        if !failures.isEmpty {
          skipped = SelftestCommand.ops(of: Array(failures.keys))
          print("selftest: skipping (counted as failures) the ops of the files that failed: \(skipped.joined(separator: ", "))")
        }
        cuda.debugSync = true
        device = cuda
      } catch {
        FileHandle.standardError.write("error: \(error)\n".data(using: .utf8)!)
        throw ExitCode(1)
      }
    }
    let harness = BackendSelfTest(device: device, reference: reference, seed: options.seed)
    harness.filters = options.ops
    harness.skipped = skipped
    harness.onResult = { r in
      print("  \(r.passed ? "PASS" : "FAIL") \(r.op) \(r.variant): \(r.error.isNaN ? "NaN" : String(format: "%.2e", r.error))"
            + (r.note.isEmpty ? "" : "  (\(r.note))"))
      fflush(stdout)
    }
    var results = harness.runAll()
    if let cuda = device as? CUDABackend, options.ops.isEmpty || options.ops.contains(where: { "allocate".contains($0) }) {
      // The out-of-memory path: a 1 PiB request must fail with a message naming both sizes.
      let r: SelfTestResult
      do {
        _ = try cuda.allocate(byteCount: 1 << 50)
        r = SelfTestResult(op: "allocate", variant: "1 PiB fails cleanly", error: 1, tolerance: 0, passed: false,
                           note: "the allocation succeeded")
      } catch {
        let message = "\(error)"
        let ok = message.contains("out of memory") && message.contains("1125899906842624 bytes") && message.contains("free")
        r = SelfTestResult(op: "allocate", variant: "1 PiB fails cleanly", error: ok ? 0 : 1, tolerance: 0, passed: ok,
                           note: message)
      }
      print("  \(r.passed ? "PASS" : "FAIL") allocate: \(r.note)")
      results.append(r)
    }
    print("")
    print(BackendSelfTest.table(results))
    if options.bench, let cuda = device as? CUDABackend {
      cuda.debugSync = false
      print("\nbench: \(cuda.summary)")
      var rows: [BenchResult] = []
      BackendBench.run(on: cuda, batch: options.benchBatch, only: options.benchOps) { r in
        rows.append(r)
        print(String(format: "  %@: %.4f ms  %@", r.name, r.milliseconds, r.rate))
        fflush(stdout)
      }
      print(BackendBench.table(rows))
    }
    if results.isEmpty {
      FileHandle.standardError.write("error: no self-test check matched ops=\(options.ops.joined(separator: ","))\n".data(using: .utf8)!)
      throw ExitCode(1)
    }
    if !results.allSatisfy(\.passed) { throw ExitCode(1) }
  }
}
