// KernelCompiler.swift: compiles the embedded CUDA C sources with NVRTC for the device's
// compute capability and caches the binaries on disk.
//
// Cache: $HRM_KERNEL_CACHE, else ~/.cache/hrm/kernels; one file per
// sha256(file name, source, headers, options, target, NVRTC version). A cache that cannot be
// written is not an error (the kernels are simply recompiled next time).

import Foundation
import HRMSupport

/// NVRTC front end with an on-disk binary cache.
struct KernelCompiler {
  let nvrtc: NVRTCAPI
  /// Device compute capability, e.g. 90.
  let deviceArch: Int
  /// Whether to produce a cubin for `targetArch` (else PTX for the driver to JIT).
  let emitCubin: Bool
  let targetArch: Int
  let cacheDirectory: URL?

  init(nvrtc: NVRTCAPI, deviceArch: Int) {
    self.nvrtc = nvrtc
    self.deviceArch = deviceArch
    let supported = nvrtc.supportedArchitectures
    if supported.isEmpty || supported.contains(deviceArch) {
      emitCubin = true
      targetArch = deviceArch
    } else {
      // A newer GPU than this NVRTC knows: emit PTX for the newest known arch, the driver JITs it.
      emitCubin = false
      targetArch = supported.filter { $0 <= deviceArch }.max() ?? supported.max()!
    }
    let env = ProcessInfo.processInfo.environment
    if let dir = env["HRM_KERNEL_CACHE"], !dir.isEmpty {
      cacheDirectory = URL(fileURLWithPath: dir)
    } else if let home = env["HOME"], !home.isEmpty {
      cacheDirectory = URL(fileURLWithPath: home).appendingPathComponent(".cache/hrm/kernels")
    } else {
      cacheDirectory = nil
    }
  }

  /// Whether kernels are built for sm_90a (Hopper's architecture-specific features: wgmma).
  /// The cubin then runs on compute capability 9.0 only, which is the device it is built for;
  /// the sources see HRM_SM90A defined.
  var hopperFeatures: Bool { emitCubin && targetArch == 90 }

  /// Compiler options for this target.
  var options: [String] {
    var opts = [
      hopperFeatures ? "--gpu-architecture=sm_90a"
        : emitCubin ? "--gpu-architecture=sm_\(targetArch)" : "--gpu-architecture=compute_\(targetArch)",
      "-std=c++17",
      "-default-device",
    ]
    if hopperFeatures { opts.append("-DHRM_SM90A=1") }
    let env = ProcessInfo.processInfo.environment
    let include = (env["CUDA_HOME"] ?? env["CUDA_PATH"]).map { $0 + "/include" } ?? "/usr/local/cuda/include"
    if FileManager.default.fileExists(atPath: include) { opts.append("-I\(include)") }
    if env["HRM_CUDA_LINEINFO"] != nil { opts.append("-lineinfo") }
    if env["HRM_CUDA_PTXAS_VERBOSE"] != nil { opts.append("--ptxas-options=-v") }
    return opts
  }

  /// The cache key of one source file under the current options.
  func cacheKey(fileName: String, source: String) throws -> String {
    let (major, minor) = nvrtc.version
    var text = "hrm-kernel-v1\u{0}\(fileName)\u{0}\(source)\u{0}"
    for (name, header) in try CUDAKernelSources.headers() { text += "\(name)\u{0}\(header)\u{0}" }
    text += options.joined(separator: " ") + "\u{0}nvrtc \(major).\(minor)\u{0}\(emitCubin ? "cubin" : "ptx")"
    return SHA256.hexDigest(Array(text.utf8))
  }

  /// The binary image (cubin, or NUL-terminated PTX) of an embedded kernel file, and whether
  /// it came from the disk cache.
  func binary(for fileName: String) throws -> (image: [UInt8], cached: Bool) {
    guard let source = try CUDAKernelSources.compiledSource(named: fileName) else {
      throw HRMError("CUDA kernel source \(fileName) is not embedded in this binary")
    }
    let key = try cacheKey(fileName: fileName, source: source)
    let ext = emitCubin ? "cubin" : "ptx"
    let cacheFile = cacheDirectory?.appendingPathComponent("\(key).\(ext)")
    if let file = cacheFile, let data = FileManager.default.contents(atPath: file.path), !data.isEmpty {
      return ([UInt8](data), true)
    }
    let image = try compile(fileName: fileName, source: source)
    if let file = cacheFile {
      do {
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        let tmp = file.deletingLastPathComponent().appendingPathComponent(".\(key).\(getpid()).tmp")
        try Data(image).write(to: tmp)
        _ = rename(tmp.path, file.path)
      } catch {
        // Best effort only.
      }
    }
    return (image, false)
  }

  /// Runs NVRTC; on a compile error the error message carries the full compiler log.
  func compile(fileName: String, source: String) throws -> [UInt8] {
    let headers = try CUDAKernelSources.headers()
    var program: OpaquePointer?
    let headerTexts = headers.map { strdup($0.1) }
    let headerNames = headers.map { strdup($0.0) }
    defer {
      headerTexts.forEach { free($0) }
      headerNames.forEach { free($0) }
    }
    var textPtrs = headerTexts.map { UnsafePointer<CChar>($0) }
    var namePtrs = headerNames.map { UnsafePointer<CChar>($0) }
    let created = source.withCString { src in
      fileName.withCString { name in
        textPtrs.withUnsafeMutableBufferPointer { texts in
          namePtrs.withUnsafeMutableBufferPointer { names in
            nvrtc.nvrtcCreateProgram(&program, src, name, Int32(headers.count),
                                     UnsafePointer(texts.baseAddress), UnsafePointer(names.baseAddress))
          }
        }
      }
    }
    try nvrtc.check(created, "nvrtcCreateProgram(\(fileName))")
    defer { _ = nvrtc.nvrtcDestroyProgram(&program) }

    let opts = options.map { strdup($0) }
    defer { opts.forEach { free($0) } }
    var optPtrs = opts.map { UnsafePointer<CChar>($0) }
    let status = optPtrs.withUnsafeMutableBufferPointer {
      nvrtc.nvrtcCompileProgram(program, Int32(opts.count), UnsafePointer($0.baseAddress))
    }
    let log = programLog(program)
    if status != 0 {
      throw HRMError("NVRTC failed to compile \(fileName) (\(options.joined(separator: " "))): \(nvrtc.describe(status))\n\(log)")
    }
    let env = ProcessInfo.processInfo.environment
    if env["HRM_CUDA_VERBOSE"] != nil || env["HRM_CUDA_PTXAS_VERBOSE"] != nil, !log.isEmpty {
      FileHandle.standardError.write("NVRTC log for \(fileName):\n\(log)\n".data(using: .utf8)!)
    }
    var size = 0
    if emitCubin {
      try nvrtc.check(nvrtc.nvrtcGetCUBINSize(program, &size), "nvrtcGetCUBINSize(\(fileName))")
      var image = [UInt8](repeating: 0, count: size)
      try image.withUnsafeMutableBytes {
        try nvrtc.check(nvrtc.nvrtcGetCUBIN(program, $0.baseAddress!.assumingMemoryBound(to: CChar.self)), "nvrtcGetCUBIN(\(fileName))")
      }
      return image
    } else {
      try nvrtc.check(nvrtc.nvrtcGetPTXSize(program, &size), "nvrtcGetPTXSize(\(fileName))")
      var image = [UInt8](repeating: 0, count: size + 1)
      try image.withUnsafeMutableBytes {
        try nvrtc.check(nvrtc.nvrtcGetPTX(program, $0.baseAddress!.assumingMemoryBound(to: CChar.self)), "nvrtcGetPTX(\(fileName))")
      }
      return image
    }
  }

  private func programLog(_ program: OpaquePointer?) -> String {
    var size = 0
    guard nvrtc.nvrtcGetProgramLogSize(program, &size) == 0, size > 1 else { return "" }
    var buffer = [CChar](repeating: 0, count: size + 1)
    guard nvrtc.nvrtcGetProgramLog(program, &buffer) == 0 else { return "" }
    return String(cString: buffer).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}
