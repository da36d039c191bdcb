// HRMCUDATests.swift: tests of the CUDA backend that run everywhere (embedded kernel sources,
// SHA-256, allocator size classes, the loader's failure message) plus GPU checks that skip
// with a visible notice on machines without a usable NVIDIA GPU.

import Foundation
import XCTest
@testable import HRMCUDA
import HRMSupport
import HRMTensor

final class EmbeddedKernelTests: XCTestCase {
  /// Sources/HRMCUDA/Kernels in this checkout.
  static var kernelsDirectory: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Sources/HRMCUDA/Kernels")
  }

  func testEveryKernelFileIsEmbeddedVerbatim() throws {
    let dir = EmbeddedKernelTests.kernelsDirectory
    let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
      .filter { $0.hasSuffix(".cu") || $0.hasSuffix(".cuh") }.sorted()
    XCTAssertFalse(files.isEmpty, "no kernel sources found in \(dir.path)")
    XCTAssertEqual(CUDAKernelSources.fileNames, files, "embedded file list differs from the Kernels folder")
    for file in files {
      let onDisk = try Data(contentsOf: dir.appendingPathComponent(file))
      let embedded = try XCTUnwrap(CUDAKernelSources.source(named: file), "\(file) not embedded")
      XCTAssertFalse(embedded.isEmpty, "\(file) embedded empty")
      XCTAssertEqual(SHA256.hexDigest(Array(embedded.utf8)), SHA256.hexDigest([UInt8](onDisk)), "\(file): embedded text differs from the file")
    }
  }

  func testKernelFilesCoverEveryOpFamily() {
    let expected = ["act.cu", "attention.cu", "elementwise.cu", "embedding.cu", "gemm.cu", "linear_fused.cu",
                    "losses.cu", "optimisers.cu", "reductions.cu", "rmsnorm.cu", "rope.cu", "swiglu.cu"]
    XCTAssertEqual(CUDAKernelSources.kernelFileNames, expected)
    for file in expected {
      let text = CUDAKernelSources.source(named: file) ?? ""
      XCTAssertTrue(text.hasPrefix("// \(file):"), "\(file) must begin with a comment saying what it is")
      XCTAssertTrue(text.contains("#include \"common.cuh\""), "\(file) must include common.cuh")
      XCTAssertTrue(text.contains("extern \"C\" __global__"), "\(file) has no kernels")
    }
  }

  /// HRM_KERNEL_SOURCES: files of the directory replace embedded files of the same name; a
  /// name that replaces nothing, or a missing directory, is an error naming it.
  func testKernelSourceReplacements() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrm-kernel-src-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try "// attention.cu: replaced\n".write(to: dir.appendingPathComponent("attention.cu"), atomically: true, encoding: .utf8)
    try "notes".write(to: dir.appendingPathComponent("README.txt"), atomically: true, encoding: .utf8)
    XCTAssertEqual(try CUDAKernelSources.replacementFiles(in: dir.path), ["attention.cu": "// attention.cu: replaced\n"])

    try "x".write(to: dir.appendingPathComponent("atention.cu"), atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try CUDAKernelSources.replacementFiles(in: dir.path)) { error in
      XCTAssertTrue("\(error)".contains("atention.cu replaces no embedded kernel file"), "\(error)")
    }
    XCTAssertThrowsError(try CUDAKernelSources.replacementFiles(in: dir.path + "/missing")) { error in
      XCTAssertTrue("\(error)".contains("not a readable directory"), "\(error)")
    }
  }

  /// Every kernel name the Swift side launches exists in the file it is launched from.
  func testLaunchedKernelNamesExist() throws {
    let swiftDir = EmbeddedKernelTests.kernelsDirectory.deletingLastPathComponent()
    var launched: [(String, String)] = []
    for file in ["CUDABackend+Ops.swift", "CUDABackend+GEMM.swift"] {
      let text = try String(contentsOf: swiftDir.appendingPathComponent(file), encoding: .utf8)
      // launch("file.cu", "name" ...
      let pattern = try NSRegularExpression(pattern: #"launch\("([a-z_]+\.cu)", "([a-z0-9_\\()]+)""#)
      for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
        let f = String(text[Range(match.range(at: 1), in: text)!])
        let k = String(text[Range(match.range(at: 2), in: text)!])
        launched.append((f, k))
      }
    }
    XCTAssertGreaterThan(launched.count, 30)
    // The fused projections launch "linear_ws_EPILOGUE_TILE" for the epilogues named in
    // launchFusedLinear("...") and tiles 192 and 256, defined through a macro per tile.
    let fused = try String(contentsOf: swiftDir.appendingPathComponent("CUDABackend+FusedLinear.swift"), encoding: .utf8)
    let fusedPattern = try NSRegularExpression(pattern: #"launchFusedLinear\("([a-z]+)""#)
    let epilogues = fusedPattern.matches(in: fused, range: NSRange(fused.startIndex..., in: fused))
      .map { String(fused[Range($0.range(at: 1), in: fused)!]) }
    XCTAssertEqual(Set(epilogues), ["plain", "swiglu", "rope"])
    XCTAssertTrue(fused.contains(#""linear_ws_\(epilogue)_\(tile)""#), "the fused kernels' names changed")
    let fusedSource = try XCTUnwrap(CUDAKernelSources.source(named: "linear_fused.cu"))
    for name in epilogues {
      XCTAssertTrue(fusedSource.contains(" linear_ws_\(name)_##BN("), "no kernel linear_ws_\(name)_BN in linear_fused.cu")
    }
    for tile in [192, 256] {
      XCTAssertTrue(fusedSource.contains("\nLINEAR_WS_KERNELS(\(tile))"), "linear_fused.cu has no kernels for tile \(tile)")
    }
    for (file, kernel) in launched {
      let source = try XCTUnwrap(CUDAKernelSources.source(named: file), file)
      if let interpolation = kernel.range(of: "\\(") {
        // A name built at run time (e.g. "rmsnorm_forward_w\\(vpl)"): its fixed prefix must appear.
        let prefix = String(kernel[..<interpolation.lowerBound])
        XCTAssertTrue(source.contains(prefix), "no kernel named \(prefix)... in \(file)")
      } else {
        XCTAssertTrue(source.contains(" \(kernel)("), "\(kernel) not defined in \(file)")
      }
    }
  }
}

final class SupportTests: XCTestCase {
  func testAllocatorSizeClasses() {
    XCTAssertEqual(CUDABackend.sizeClass(1), 512)
    XCTAssertEqual(CUDABackend.sizeClass(512), 512)
    XCTAssertEqual(CUDABackend.sizeClass(513), 1024)
    XCTAssertEqual(CUDABackend.sizeClass(4096), 4096)
    var previous = 0
    for n in stride(from: 1, to: 50_000_000, by: 9_973) {
      let c = CUDABackend.sizeClass(n)
      XCTAssertGreaterThanOrEqual(c, n)
      XCTAssertLessThanOrEqual(Double(c), max(512, Double(n) * 1.25 + 1), "class \(c) for \(n) wastes more than 25%")
      XCTAssertGreaterThanOrEqual(c, previous, "size classes must grow with the request")
      XCTAssertEqual(c % 512, 0)
      previous = c
    }
    // Same request, same class: what release() files is what allocate() looks up.
    XCTAssertEqual(CUDABackend.sizeClass(123_456), CUDABackend.sizeClass(123_456))
  }

  func testPointerAlignment() {
    XCTAssertEqual(CUDABackend.alignment(0x1000), 256)
    XCTAssertEqual(CUDABackend.alignment(0x1004), 4)
    XCTAssertEqual(CUDABackend.alignment(0x1002), 2)
    XCTAssertEqual(CUDABackend.alignment(0x1040), 64)
  }

  func testSelftestTableFormatsFailuresAndNaN() {
    let rows = [
      SelfTestResult(op: "fill", variant: "f32", error: 0, tolerance: 1e-5, passed: true, note: ""),
      SelfTestResult(op: "gemm", variant: "bf16", error: .nan, tolerance: 1e-2, passed: false, note: "NaN: 3 on the device"),
    ]
    let table = BackendSelfTest.table(rows)
    XCTAssertTrue(table.contains("PASS"))
    XCTAssertTrue(table.contains("FAIL"))
    XCTAssertTrue(table.contains("NaN"))
    XCTAssertTrue(table.hasSuffix("1 of 2 checks passed, 1 FAILED"))
  }

  /// The harness itself: a backend compared with itself passes, and NaN output fails.
  func testHarnessComparesAndRejectsNaN() {
    let cpu = CPUBackend()
    let a = Tensor([1, 2, 3], shape: [3], on: cpu)
    let b = Tensor([1, 2, 3.00001], shape: [3], on: cpu)
    let nan = Tensor([1, .nan, 3], shape: [3], on: cpu)
    XCTAssertEqual(BackendSelfTest.compare(a, a).error, 0)
    XCTAssertLessThan(BackendSelfTest.compare(b, a).error, 1e-5)
    XCTAssertTrue(BackendSelfTest.compare(nan, a).error.isNaN)
    let i = Tensor(ints: [1, 2, 3, 4], shape: [4], on: cpu), j = Tensor(ints: [1, 2, 0, 4], shape: [4], on: cpu)
    XCTAssertEqual(BackendSelfTest.compare(j, i).error, 0.25)
  }

  func testHarnessRunsCPUAgainstCPU() {
    let harness = BackendSelfTest(device: CPUBackend(), reference: CPUBackend(), seed: 3)
    harness.filters = ["rope", "swiglu", "losses", "entropy", "act", "argmax", "selectRows", "rmsNorm"]
    let results = harness.runAll()
    XCTAssertGreaterThan(results.count, 10)
    for r in results { XCTAssertTrue(r.passed, "\(r.op) \(r.variant): \(r.error) \(r.note)") }
  }
}

final class CUDADeviceTests: XCTestCase {
  /// The CUDA backend, or an XCTSkip that says why there is none.
  func openCUDA() throws -> CUDABackend {
    do {
      return try CUDABackend()
    } catch {
      throw XCTSkip("no usable NVIDIA GPU here, GPU tests skipped: \(error)")
    }
  }

  func testOpeningCUDAFailsWithAClearMessageOrWorks() {
    do {
      let cuda = try CUDABackend()
      XCTAssertTrue(cuda.name.hasPrefix("cuda:"))
    } catch let error as HRMError {
      XCTAssertTrue(error.message.hasPrefix("CUDA unavailable:"), error.message)
      XCTAssertTrue(error.message.contains("device=cpu"), "the message must name the CPU fallback: \(error.message)")
      XCTAssertFalse(error.message.contains("\n"), "one line only")
    } catch {
      XCTFail("unexpected error type: \(error)")
    }
  }

  func testRoundTripAndFillOnGPU() throws {
    let cuda = try openCUDA()
    let values: [Float] = (0..<1000).map { Float($0) * 0.5 - 7 }
    let t = Tensor(values, shape: [1000], on: cuda)
    XCTAssertEqual(t.toArray(), values)
    cuda.fill(t, value: 2.5)
    XCTAssertEqual(t.toArray(), Array(repeating: 2.5, count: 1000))
  }

  func testSelftestPassesOnGPU() throws {
    let cuda = try openCUDA()
    cuda.debugSync = true
    let harness = BackendSelfTest(device: cuda, reference: CPUBackend(), seed: 11)
    let results = harness.runAll()
    for r in results where !r.passed { XCTFail("\(r.op) \(r.variant): error \(r.error) > \(r.tolerance) \(r.note)") }
  }
}
