// CUDALibraries.swift: run-time loading of the NVIDIA driver API (libcuda), NVRTC and
// cuBLASLt with dlopen/dlsym, so one `hrm` binary runs on machines with and without CUDA.
//
// Each library is a table of `@convention(c)` function pointers. Opaque CUDA handles are
// OpaquePointer?, device pointers (CUdeviceptr) UInt64, size_t Int. Nothing here is called
// unless a CUDA backend is created.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import HRMSupport

typealias CUresult = Int32
typealias CUhandle = OpaquePointer?

/// Opens the first of `names` that dlopen finds. Returns the handle and the name that worked.
func openLibrary(_ names: [String]) -> (UnsafeMutableRawPointer, String)? {
  for name in names {
    if let handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL) { return (handle, name) }
  }
  return nil
}

/// dlsym + cast to a C function type; throws a clear error naming the missing symbol.
func loadSymbol<T>(_ handle: UnsafeMutableRawPointer, _ name: String, library: String, as _: T.Type) throws -> T {
  guard let pointer = dlsym(handle, name) else {
    throw HRMError("CUDA unavailable: \(library) has no symbol \(name) (driver or toolkit too old?)")
  }
  return unsafeBitCast(pointer, to: T.self)
}

/// Library folders to try after the plain sonames: $CUDA_HOME/lib64, /usr/local/cuda/lib64.
func cudaLibraryDirectories() -> [String] {
  var dirs: [String] = []
  if let home = ProcessInfo.processInfo.environment["CUDA_HOME"] ?? ProcessInfo.processInfo.environment["CUDA_PATH"] {
    dirs.append(home + "/lib64")
  }
  dirs.append("/usr/local/cuda/lib64")
  dirs.append("/usr/local/cuda/targets/x86_64-linux/lib")
  return dirs
}

// MARK: - Driver API

/// The driver API entry points the backend uses.
struct DriverAPI {
  let libraryName: String
  let cuInit: @convention(c) (UInt32) -> CUresult
  let cuDriverGetVersion: @convention(c) (UnsafeMutablePointer<Int32>) -> CUresult
  let cuGetErrorString: @convention(c) (CUresult, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> CUresult
  let cuGetErrorName: @convention(c) (CUresult, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> CUresult
  let cuDeviceGetCount: @convention(c) (UnsafeMutablePointer<Int32>) -> CUresult
  let cuDeviceGet: @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> CUresult
  let cuDeviceGetName: @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> CUresult
  let cuDeviceGetAttribute: @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> CUresult
  let cuDevicePrimaryCtxRetain: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, Int32) -> CUresult
  let cuCtxSetCurrent: @convention(c) (CUhandle) -> CUresult
  let cuStreamCreate: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UInt32) -> CUresult
  let cuStreamSynchronize: @convention(c) (CUhandle) -> CUresult
  let cuMemAlloc: @convention(c) (UnsafeMutablePointer<UInt64>, Int) -> CUresult
  let cuMemFree: @convention(c) (UInt64) -> CUresult
  let cuMemGetInfo: @convention(c) (UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>) -> CUresult
  let cuMemcpyHtoDAsync: @convention(c) (UInt64, UnsafeRawPointer?, Int, CUhandle) -> CUresult
  let cuMemcpyDtoHAsync: @convention(c) (UnsafeMutableRawPointer?, UInt64, Int, CUhandle) -> CUresult
  let cuMemcpyDtoDAsync: @convention(c) (UInt64, UInt64, Int, CUhandle) -> CUresult
  let cuMemsetD32Async: @convention(c) (UInt64, UInt32, Int, CUhandle) -> CUresult
  let cuMemsetD16Async: @convention(c) (UInt64, UInt16, Int, CUhandle) -> CUresult
  let cuModuleLoadData: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafeRawPointer) -> CUresult
  let cuModuleGetFunction: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, CUhandle, UnsafePointer<CChar>) -> CUresult
  let cuFuncSetAttribute: @convention(c) (CUhandle, Int32, Int32) -> CUresult
  let cuEventCreate: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UInt32) -> CUresult
  let cuEventRecord: @convention(c) (CUhandle, CUhandle) -> CUresult
  let cuEventSynchronize: @convention(c) (CUhandle) -> CUresult
  let cuEventElapsedTime: @convention(c) (UnsafeMutablePointer<Float>, CUhandle, CUhandle) -> CUresult
  let cuLaunchKernel: @convention(c) (CUhandle, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, CUhandle,
                                      UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                      UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> CUresult
  /// Tensor-map encoding for TMA copies (drivers for CUDA 12 and later; nil before).
  let cuTensorMapEncodeTiled: (@convention(c) (UnsafeMutableRawPointer, Int32, UInt32, UnsafeMutableRawPointer?,
                                               UnsafePointer<UInt64>, UnsafePointer<UInt64>, UnsafePointer<UInt32>,
                                               UnsafePointer<UInt32>, Int32, Int32, Int32, Int32) -> CUresult)?

  /// Loads libcuda.so.1. Throws a one-line error naming the CPU fallback when there is no driver.
  static func load() throws -> DriverAPI {
    guard let (h, name) = openLibrary(["libcuda.so.1", "libcuda.so", "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
                                       "/usr/local/nvidia/lib64/libcuda.so.1"]) else {
      throw HRMError("CUDA unavailable: no NVIDIA driver (libcuda.so.1 not found); use device=cpu (the CPU backend)")
    }
    func s<T>(_ symbol: String, _ t: T.Type) throws -> T { try loadSymbol(h, symbol, library: name, as: t) }
    return DriverAPI(
      libraryName: name,
      cuInit: try s("cuInit", (@convention(c) (UInt32) -> CUresult).self),
      cuDriverGetVersion: try s("cuDriverGetVersion", (@convention(c) (UnsafeMutablePointer<Int32>) -> CUresult).self),
      cuGetErrorString: try s("cuGetErrorString", (@convention(c) (CUresult, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> CUresult).self),
      cuGetErrorName: try s("cuGetErrorName", (@convention(c) (CUresult, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> CUresult).self),
      cuDeviceGetCount: try s("cuDeviceGetCount", (@convention(c) (UnsafeMutablePointer<Int32>) -> CUresult).self),
      cuDeviceGet: try s("cuDeviceGet", (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> CUresult).self),
      cuDeviceGetName: try s("cuDeviceGetName", (@convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> CUresult).self),
      cuDeviceGetAttribute: try s("cuDeviceGetAttribute", (@convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> CUresult).self),
      cuDevicePrimaryCtxRetain: try s("cuDevicePrimaryCtxRetain", (@convention(c) (UnsafeMutablePointer<OpaquePointer?>, Int32) -> CUresult).self),
      cuCtxSetCurrent: try s("cuCtxSetCurrent", (@convention(c) (CUhandle) -> CUresult).self),
      cuStreamCreate: try s("cuStreamCreate", (@convention(c) (UnsafeMutablePointer<OpaquePointer?>, UInt32) -> CUresult).self),
      cuStreamSynchronize: try s("cuStreamSynchronize", (@convention(c) (CUhandle) -> CUresult).self),
      cuMemAlloc: try s("cuMemAlloc_v2", (@convention(c) (UnsafeMutablePointer<UInt64>, Int) -> CUresult).self),
      cuMemFree: try s("cuMemFree_v2", (@convention(c) (UInt64) -> CUresult).self),
      cuMemGetInfo: try s("cuMemGetInfo_v2", (@convention(c) (UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>) -> CUresult).self),
      cuMemcpyHtoDAsync: try s("cuMemcpyHtoDAsync_v2", (@convention(c) (UInt64, UnsafeRawPointer?, Int, CUhandle) -> CUresult).self),
      cuMemcpyDtoHAsync: try s("cuMemcpyDtoHAsync_v2", (@convention(c) (UnsafeMutableRawPointer?, UInt64, Int, CUhandle) -> CUresult).self),
      cuMemcpyDtoDAsync: try s("cuMemcpyDtoDAsync_v2", (@convention(c) (UInt64, UInt64, Int, CUhandle) -> CUresult).self),
      cuMemsetD32Async: try s("cuMemsetD32Async", (@convention(c) (UInt64, UInt32, Int, CUhandle) -> CUresult).self),
      cuMemsetD16Async: try s("cuMemsetD16Async", (@convention(c) (UInt64, UInt16, Int, CUhandle) -> CUresult).self),
      cuModuleLoadData: try s("cuModuleLoadData", (@convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafeRawPointer) -> CUresult).self),
      cuModuleGetFunction: try s("cuModuleGetFunction", (@convention(c) (UnsafeMutablePointer<OpaquePointer?>, CUhandle, UnsafePointer<CChar>) -> CUresult).self),
      cuFuncSetAttribute: try s("cuFuncSetAttribute", (@convention(c) (CUhandle, Int32, Int32) -> CUresult).self),
      cuEventCreate: try s("cuEventCreate", (@convention(c) (UnsafeMutablePointer<OpaquePointer?>, UInt32) -> CUresult).self),
      cuEventRecord: try s("cuEventRecord", (@convention(c) (CUhandle, CUhandle) -> CUresult).self),
      cuEventSynchronize: try s("cuEventSynchronize", (@convention(c) (CUhandle) -> CUresult).self),
      cuEventElapsedTime: try (dlsym(h, "cuEventElapsedTime_v2") != nil ? s("cuEventElapsedTime_v2", (@convention(c) (UnsafeMutablePointer<Float>, CUhandle, CUhandle) -> CUresult).self)
                                                                         : s("cuEventElapsedTime", (@convention(c) (UnsafeMutablePointer<Float>, CUhandle, CUhandle) -> CUresult).self)),
      cuLaunchKernel: try s("cuLaunchKernel", (@convention(c) (CUhandle, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, CUhandle,
                                                               UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                                               UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> CUresult).self),
      cuTensorMapEncodeTiled: dlsym(h, "cuTensorMapEncodeTiled").map {
        unsafeBitCast($0, to: (@convention(c) (UnsafeMutableRawPointer, Int32, UInt32, UnsafeMutableRawPointer?,
                                               UnsafePointer<UInt64>, UnsafePointer<UInt64>, UnsafePointer<UInt32>,
                                               UnsafePointer<UInt32>, Int32, Int32, Int32, Int32) -> CUresult).self)
      })
  }

  /// "CUDA_ERROR_X: description" for a driver status code.
  func describe(_ status: CUresult) -> String {
    var namePtr: UnsafePointer<CChar>?
    var textPtr: UnsafePointer<CChar>?
    _ = cuGetErrorName(status, &namePtr)
    _ = cuGetErrorString(status, &textPtr)
    let name = namePtr.map { String(cString: $0) } ?? "CUDA error \(status)"
    let text = textPtr.map { String(cString: $0) } ?? "unknown error"
    return "\(name) (\(status)): \(text)"
  }

  /// Throws HRMError("<call> failed: <name>: <string>") unless status is CUDA_SUCCESS.
  func check(_ status: CUresult, _ call: String) throws {
    if status != 0 { throw HRMError("CUDA \(call) failed: \(describe(status))") }
  }
}

/// Driver enum values used by the backend (cuda.h).
enum CUDeviceAttribute {
  static let multiprocessorCount: Int32 = 16
  static let computeCapabilityMajor: Int32 = 75
  static let computeCapabilityMinor: Int32 = 76
  static let maxSharedMemoryPerBlockOptin: Int32 = 97
}

// MARK: - NVRTC

/// The NVRTC entry points the kernel compiler uses.
struct NVRTCAPI {
  let libraryName: String
  let nvrtcVersion: @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Int32
  let nvrtcGetErrorString: @convention(c) (Int32) -> UnsafePointer<CChar>?
  let nvrtcCreateProgram: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafePointer<CChar>, UnsafePointer<CChar>?, Int32,
                                          UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
  let nvrtcCompileProgram: @convention(c) (CUhandle, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
  let nvrtcGetProgramLogSize: @convention(c) (CUhandle, UnsafeMutablePointer<Int>) -> Int32
  let nvrtcGetProgramLog: @convention(c) (CUhandle, UnsafeMutablePointer<CChar>) -> Int32
  let nvrtcGetCUBINSize: @convention(c) (CUhandle, UnsafeMutablePointer<Int>) -> Int32
  let nvrtcGetCUBIN: @convention(c) (CUhandle, UnsafeMutablePointer<CChar>) -> Int32
  let nvrtcGetPTXSize: @convention(c) (CUhandle, UnsafeMutablePointer<Int>) -> Int32
  let nvrtcGetPTX: @convention(c) (CUhandle, UnsafeMutablePointer<CChar>) -> Int32
  let nvrtcDestroyProgram: @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Int32
  let nvrtcGetNumSupportedArchs: (@convention(c) (UnsafeMutablePointer<Int32>) -> Int32)?
  let nvrtcGetSupportedArchs: (@convention(c) (UnsafeMutablePointer<Int32>) -> Int32)?

  /// Loads libnvrtc (.13, .12, unversioned; then under $CUDA_HOME/lib64 and /usr/local/cuda/lib64).
  /// Also preloads libnvrtc-builtins from the same folder so NVRTC finds it without LD_LIBRARY_PATH.
  static func load() throws -> NVRTCAPI {
    var names = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"]
    for dir in cudaLibraryDirectories() {
      names += ["\(dir)/libnvrtc.so.13", "\(dir)/libnvrtc.so.12", "\(dir)/libnvrtc.so"]
    }
    guard let (h, name) = openLibrary(names) else {
      throw HRMError("CUDA unavailable: NVRTC (libnvrtc.so.13/.12) not found; set LD_LIBRARY_PATH to the CUDA lib64 folder or use device=cpu (the CPU backend)")
    }
    preloadBuiltins(besides: h)
    func s<T>(_ symbol: String, _ t: T.Type) throws -> T { try loadSymbol(h, symbol, library: name, as: t) }
    func opt<T>(_ symbol: String, _ t: T.Type) -> T? { dlsym(h, symbol).map { unsafeBitCast($0, to: T.self) } }
    return NVRTCAPI(
      libraryName: name,
      nvrtcVersion: try s("nvrtcVersion", (@convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Int32).self),
      nvrtcGetErrorString: try s("nvrtcGetErrorString", (@convention(c) (Int32) -> UnsafePointer<CChar>?).self),
      nvrtcCreateProgram: try s("nvrtcCreateProgram", (@convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafePointer<CChar>, UnsafePointer<CChar>?, Int32,
                                                                        UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32).self),
      nvrtcCompileProgram: try s("nvrtcCompileProgram", (@convention(c) (CUhandle, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32).self),
      nvrtcGetProgramLogSize: try s("nvrtcGetProgramLogSize", (@convention(c) (CUhandle, UnsafeMutablePointer<Int>) -> Int32).self),
      nvrtcGetProgramLog: try s("nvrtcGetProgramLog", (@convention(c) (CUhandle, UnsafeMutablePointer<CChar>) -> Int32).self),
      nvrtcGetCUBINSize: try s("nvrtcGetCUBINSize", (@convention(c) (CUhandle, UnsafeMutablePointer<Int>) -> Int32).self),
      nvrtcGetCUBIN: try s("nvrtcGetCUBIN", (@convention(c) (CUhandle, UnsafeMutablePointer<CChar>) -> Int32).self),
      nvrtcGetPTXSize: try s("nvrtcGetPTXSize", (@convention(c) (CUhandle, UnsafeMutablePointer<Int>) -> Int32).self),
      nvrtcGetPTX: try s("nvrtcGetPTX", (@convention(c) (CUhandle, UnsafeMutablePointer<CChar>) -> Int32).self),
      nvrtcDestroyProgram: try s("nvrtcDestroyProgram", (@convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Int32).self),
      nvrtcGetNumSupportedArchs: opt("nvrtcGetNumSupportedArchs", (@convention(c) (UnsafeMutablePointer<Int32>) -> Int32).self),
      nvrtcGetSupportedArchs: opt("nvrtcGetSupportedArchs", (@convention(c) (UnsafeMutablePointer<Int32>) -> Int32).self))
  }

  /// NVRTC dlopens libnvrtc-builtins by soname; loading it first, by path, from the folder
  /// libnvrtc came from lets that lookup succeed without LD_LIBRARY_PATH.
  private static func preloadBuiltins(besides handle: UnsafeMutableRawPointer) {
    // The loaded libnvrtc's path, from the process's memory map.
    guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8),
          let line = maps.split(separator: "\n").first(where: { $0.contains("/libnvrtc.so") }),
          let slash = line.firstIndex(of: "/") else { return }
    let dir = (String(line[slash...]) as NSString).deletingLastPathComponent
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
    for entry in entries.sorted().reversed() where entry.hasPrefix("libnvrtc-builtins.so") {
      if dlopen(dir + "/" + entry, RTLD_NOW | RTLD_GLOBAL) != nil { return }
    }
  }

  /// (major, minor) of the NVRTC library.
  var version: (Int, Int) {
    var major: Int32 = 0, minor: Int32 = 0
    _ = nvrtcVersion(&major, &minor)
    return (Int(major), Int(minor))
  }

  /// Compute capabilities (e.g. 90) NVRTC can emit machine code for; empty if unknown.
  var supportedArchitectures: [Int] {
    guard let getCount = nvrtcGetNumSupportedArchs, let getArchs = nvrtcGetSupportedArchs else { return [] }
    var count: Int32 = 0
    guard getCount(&count) == 0, count > 0 else { return [] }
    var archs = [Int32](repeating: 0, count: Int(count))
    guard getArchs(&archs) == 0 else { return [] }
    return archs.map(Int.init)
  }

  func describe(_ status: Int32) -> String {
    nvrtcGetErrorString(status).map { String(cString: $0) } ?? "NVRTC error \(status)"
  }

  func check(_ status: Int32, _ call: String) throws {
    if status != 0 { throw HRMError("NVRTC \(call) failed: \(describe(status)) (\(status))") }
  }
}

// MARK: - cuBLASLt

/// The cuBLASLt entry points used for the GEMMs.
struct CublasLtAPI {
  let libraryName: String
  let cublasLtCreate: @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Int32
  let cublasLtGetStatusString: (@convention(c) (Int32) -> UnsafePointer<CChar>?)?
  let cublasLtMatmulDescCreate: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, Int32, Int32) -> Int32
  let cublasLtMatmulDescSetAttribute: @convention(c) (CUhandle, Int32, UnsafeRawPointer, Int) -> Int32
  let cublasLtMatrixLayoutCreate: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, Int32, UInt64, UInt64, Int64) -> Int32
  let cublasLtMatmulPreferenceCreate: @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Int32
  let cublasLtMatmulPreferenceSetAttribute: @convention(c) (CUhandle, Int32, UnsafeRawPointer, Int) -> Int32
  let cublasLtMatmulAlgoGetHeuristic: @convention(c) (CUhandle, CUhandle, CUhandle, CUhandle, CUhandle, CUhandle, CUhandle, Int32,
                                                      UnsafeMutableRawPointer, UnsafeMutablePointer<Int32>) -> Int32
  let cublasLtMatmul: @convention(c) (CUhandle, CUhandle, UnsafeRawPointer, UInt64, CUhandle, UInt64, CUhandle, UnsafeRawPointer,
                                      UInt64, CUhandle, UInt64, CUhandle, UnsafeRawPointer?, UInt64, Int, CUhandle) -> Int32

  /// Loads libcublasLt (.13, .12, unversioned; then under the CUDA lib folders).
  static func load() throws -> CublasLtAPI {
    var names = ["libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"]
    for dir in cudaLibraryDirectories() {
      names += ["\(dir)/libcublasLt.so.13", "\(dir)/libcublasLt.so.12", "\(dir)/libcublasLt.so"]
    }
    guard let (h, name) = openLibrary(names) else {
      throw HRMError("cuBLASLt (libcublasLt.so.13/.12) not found")
    }
    func s<T>(_ symbol: String, _ t: T.Type) throws -> T { try loadSymbol(h, symbol, library: name, as: t) }
    return CublasLtAPI(
      libraryName: name,
      cublasLtCreate: try s("cublasLtCreate", (@convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Int32).self),
      cublasLtGetStatusString: dlsym(h, "cublasLtGetStatusString").map { unsafeBitCast($0, to: (@convention(c) (Int32) -> UnsafePointer<CChar>?).self) },
      cublasLtMatmulDescCreate: try s("cublasLtMatmulDescCreate", (@convention(c) (UnsafeMutablePointer<OpaquePointer?>, Int32, Int32) -> Int32).self),
      cublasLtMatmulDescSetAttribute: try s("cublasLtMatmulDescSetAttribute", (@convention(c) (CUhandle, Int32, UnsafeRawPointer, Int) -> Int32).self),
      cublasLtMatrixLayoutCreate: try s("cublasLtMatrixLayoutCreate", (@convention(c) (UnsafeMutablePointer<OpaquePointer?>, Int32, UInt64, UInt64, Int64) -> Int32).self),
      cublasLtMatmulPreferenceCreate: try s("cublasLtMatmulPreferenceCreate", (@convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Int32).self),
      cublasLtMatmulPreferenceSetAttribute: try s("cublasLtMatmulPreferenceSetAttribute", (@convention(c) (CUhandle, Int32, UnsafeRawPointer, Int) -> Int32).self),
      cublasLtMatmulAlgoGetHeuristic: try s("cublasLtMatmulAlgoGetHeuristic", (@convention(c) (CUhandle, CUhandle, CUhandle, CUhandle, CUhandle, CUhandle, CUhandle, Int32,
                                                                                                 UnsafeMutableRawPointer, UnsafeMutablePointer<Int32>) -> Int32).self),
      cublasLtMatmul: try s("cublasLtMatmul", (@convention(c) (CUhandle, CUhandle, UnsafeRawPointer, UInt64, CUhandle, UInt64, CUhandle, UnsafeRawPointer,
                                                               UInt64, CUhandle, UInt64, CUhandle, UnsafeRawPointer?, UInt64, Int, CUhandle) -> Int32).self))
  }

  func describe(_ status: Int32) -> String {
    cublasLtGetStatusString?(status).map { String(cString: $0) } ?? "cuBLAS status \(status)"
  }

  func check(_ status: Int32, _ call: String) throws {
    if status != 0 { throw HRMError("cuBLASLt \(call) failed: \(describe(status)) (\(status))") }
  }
}

/// cuBLASLt / CUDA library enum values (cublasLt.h, library_types.h, cublas_api.h).
enum CublasLtConstants {
  static let dataTypeF32: Int32 = 0          // CUDA_R_32F
  static let dataTypeBF16: Int32 = 14        // CUDA_R_16BF
  static let computeF32: Int32 = 68          // CUBLAS_COMPUTE_32F
  static let descTransA: Int32 = 3           // CUBLASLT_MATMUL_DESC_TRANSA
  static let descTransB: Int32 = 4           // CUBLASLT_MATMUL_DESC_TRANSB
  static let prefMaxWorkspaceBytes: Int32 = 1 // CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES (uint64)
  static let opN: Int32 = 0
  static let opT: Int32 = 1
  /// sizeof(cublasLtMatmulHeuristicResult_t): algo (64 bytes), workspaceSize (8), state (4), wavesCount (4), reserved (16).
  static let heuristicResultSize = 96
  static let heuristicWorkspaceOffset = 64
  static let heuristicStateOffset = 72
}
