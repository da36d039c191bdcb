// CUDABackend.swift: the NVIDIA GPU implementation of HRMTensor's Backend protocol: device
// set-up, the caching allocator, host <-> device copies and kernel launching. The ops
// themselves are in CUDABackend+Ops.swift (kernels) and CUDABackend+GEMM.swift (cuBLASLt).
//
// Everything runs on one CUDA stream, so memory handed back to the allocator can be reused by
// the next op at once: stream order makes the reuse safe. `synchronize` waits for the stream;
// downloads synchronize too. Failures inside the non-throwing Backend calls print one
// `error: ...` line and exit non-zero (a failed kernel leaves the context unusable anyway).

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HRMSupport
import HRMTensor

/// A kernel argument, passed to cuLaunchKernel by address.
enum KernelArg {
  case ptr(UInt64)
  case i32(Int32)
  case i64(Int64)
  case f32(Float)
  /// A CUtensorMap (128 bytes) passed by value (a `const __grid_constant__` parameter).
  case tensorMap([UInt64])
}

/// Prints `error: <message>` on stderr and exits with status 1.
func cudaFatal(_ error: Error) -> Never {
  FileHandle.standardError.write("error: \(error)\n".data(using: .utf8)!)
  exit(1)
}

/// "1.50 GiB"-style byte counts for messages.
func formatBytes(_ n: Int) -> String {
  let units = ["B", "KiB", "MiB", "GiB", "TiB"]
  var value = Double(n)
  var unit = 0
  while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
  return unit == 0 ? "\(n) B" : String(format: "%.2f %@", value, units[unit])
}

/// The CUDA backend: one device, one stream, NVRTC-compiled kernels, cuBLASLt GEMMs.
public final class CUDABackend: Backend, @unchecked Sendable {
  /// "cuda:<ordinal>".
  public let name: String
  /// The GPU's marketing name, e.g. "NVIDIA H200".
  public let deviceName: String
  /// Compute capability as major*10 + minor, e.g. 90.
  public let computeCapability: Int
  /// Streaming multiprocessors on the device.
  public let multiprocessorCount: Int
  /// Driver version as reported by cuDriverGetVersion (e.g. 13000).
  public let driverVersion: Int
  /// Warps per block of the tensor-core attention kernels (4 or 8); nil picks by sequence
  /// length. For experiments and the bench.
  public var attentionWarps: Int?
  /// Query-row groups of 16 per warp in the tensor-core attention forward (1 or 2); nil picks
  /// by sequence length. Env HRM_CUDA_ATTN_ROWS sets it. For experiments and the bench.
  public var attentionRowGroups: Int?
  /// Use the register-capped occupancy variants of the 4-warp tensor-core attention kernels
  /// (`_m` suffix, __launch_bounds__ with a minimum of resident blocks): the default since
  /// run 9 (forward T901 -10%, backward -9..12%, docs/perf-cuda.md). Env HRM_CUDA_ATTN_MINB=0
  /// turns it off. For experiments and the bench.
  public var attentionMinBlocks: Bool
  /// Run the default long-sequence backward pair (mma.sync dK/dV and one-warpgroup Hopper
  /// dQ, head dim 64) as one launch with the two kinds of block interleaved
  /// (`attention_backward_pair_64`): the default. Env HRM_CUDA_ATTN_PAIR=0 launches them one
  /// after the other. For experiments and the bench.
  public var attentionBackwardPair: Bool
  /// Run the gradient-free gate/up + SwiGLU projection (and QKV + RoPE, where
  /// fusedRotaryProjection asks for it) as one fused-epilogue GEMM (Kernels/linear_fused.cu;
  /// Hopper) instead of cuBLASLt and a separate kernel: the default. Env
  /// HRM_CUDA_FUSED_LINEAR=0 turns both off. For experiments and the bench.
  public var fusedLinear: Bool
  /// The model's attention input through the fused QKV + RoPE projection (where fusedLinear
  /// and prefersRotaryProjection allow): the default since run 63 (timed alone 0.262 ms
  /// against 0.334 for cuBLASLt + rope.cu; (96, 900) training step -1.7 to -2.7 ms,
  /// evaluation -16 to -19 ms; runs 63-64 in docs/perf-cuda.md). Env HRM_CUDA_FUSED_ROPE=0
  /// turns it off.
  public var fusedRotaryProjection: Bool
  /// The fused kernels' column tile, 192 or 256; nil takes 256 where the GEMM's columns
  /// divide by it, else 192. Env HRM_CUDA_FUSED_TILE. For experiments and the bench.
  public var fusedLinearTile: Int?
  /// Use the short-sequence attention forward (T <= 128, head dim 64: one block per head,
  /// RoPE applied while loading; attention.cu) where it applies: the default. Env
  /// HRM_CUDA_ATTN_SHORT=0 turns it off (the mma.sync tile kernels and a separate rope pass
  /// run instead). For experiments and the bench.
  public var attentionShort: Bool
  /// attentionForwardRotary without the full rope pass (the default): the short kernel
  /// rotates Q and K while loading them; for the Hopper kernel one pass rotates only the
  /// query and key heads into a scratch and V is read in place. Env HRM_CUDA_ATTN_ROPE=0 runs
  /// rope (all heads) and then attention. For experiments and the bench.
  public var attentionFusedRoPE: Bool
  /// Warpgroups (of 64 query rows) per block of the Hopper wgmma attention forward, 1 to 4;
  /// 0 turns that kernel off (the mma.sync kernels run instead); nil picks by sequence length
  /// (hopperForwardGroups). It runs only where the kernels are built for sm_90a. Env
  /// HRM_CUDA_ATTN_WGS sets it. For experiments and the bench.
  public var attentionWarpgroups: Int?
  /// The same for the Hopper attention backward's dK/dV kernel (and its dQ kernel unless
  /// attentionBackwardQWarpgroups is set), 1 or 2, 0 = off, nil = off (the mma.sync kernel).
  /// Env HRM_CUDA_ATTN_BWD_WGS sets it.
  public var attentionBackwardWarpgroups: Int?
  /// The same for the backward's dQ kernel alone, so the two kernels can be chosen
  /// separately; nil: as attentionBackwardWarpgroups when that is set, else 1 for T > 128.
  /// Env HRM_CUDA_ATTN_BWDQ_WGS.
  public var attentionBackwardQWarpgroups: Int?
  /// Time up to 8 cuBLASLt heuristic results per GEMM shape on first use and keep the
  /// fastest: the default since run 10 (the model's GEMMs 11-15% faster, docs/perf-cuda.md).
  /// The choice is made by timing, so two processes may pick different algorithms and round
  /// differently; env HRM_CUDA_GEMM_TUNE=0 keeps cuBLASLt's first heuristic result (the
  /// same algorithm every run).
  public let gemmTune: Bool
  /// When true, every launch is followed by a stream synchronisation, so an asynchronous
  /// fault is reported with the kernel that caused it (env HRM_CUDA_SYNC=1 sets it).
  public var debugSync: Bool

  let driver: DriverAPI
  let nvrtc: NVRTCAPI
  let compiler: KernelCompiler
  let context: OpaquePointer?
  let stream: OpaquePointer?
  let device: Int32

  // Guarded by `lock`.
  let lock = NSLock()
  private var freeLists: [Int: [UInt64]] = [:]
  private var cachedBytes = 0
  private var allocatedBytes = 0
  private var modules: [String: OpaquePointer] = [:]
  private var functions: [String: OpaquePointer] = [:]
  /// Dynamic shared-memory limits raised with cuFuncSetAttribute, by kernel name.
  private var sharedLimits: [String: Int] = [:]
  /// Event pairs around each call while a profile is taken (beginProfile / endProfile).
  let profiler = KernelProfiler()
  /// Kernel files loaded so far from the disk cache.
  public private(set) var kernelFilesFromCache = 0
  /// Kernel files compiled so far by NVRTC.
  public private(set) var kernelFilesCompiled = 0
  /// Where compiled kernels are cached (nil: no cache).
  public var kernelCacheDirectory: String? { compiler.cacheDirectory?.path }

  // cuBLASLt state (guarded by `lock`).
  var cublasLt: CublasLtAPI?
  var cublasLtHandle: OpaquePointer?
  var cublasLtLoadError: String?
  var gemmPlans: [GemmKey: GemmPlan] = [:]
  var gemmWorkspace: Buffer?
  let gemmWorkspaceBytes = 32 << 20
  /// Set HRM_CUDA_GEMM=simple to use the built-in tiled kernel instead of cuBLASLt.
  let forceSimpleGemm: Bool
  /// Set HRM_CUDA_ATTENTION=simple to use the f32 CUDA-core attention kernels for bf16 too.
  let forceSimpleAttention: Bool

  /// Opens GPU `ordinal`. Throws a one-line HRMError naming the CPU fallback when there is no
  /// driver, no GPU or no NVRTC.
  public init(device ordinal: Int = 0) throws {
    let driver = try DriverAPI.load()
    let initStatus = driver.cuInit(0)
    if initStatus == 100 {  // CUDA_ERROR_NO_DEVICE
      throw HRMError("CUDA unavailable: no NVIDIA GPU found (cuInit: \(driver.describe(initStatus))); use device=cpu (the CPU backend)")
    }
    if initStatus != 0 {
      throw HRMError("CUDA unavailable: cuInit failed: \(driver.describe(initStatus)); use device=cpu (the CPU backend)")
    }
    var count: Int32 = 0
    try driver.check(driver.cuDeviceGetCount(&count), "cuDeviceGetCount")
    if count == 0 {
      throw HRMError("CUDA unavailable: no NVIDIA GPU found; use device=cpu (the CPU backend)")
    }
    guard ordinal >= 0 && ordinal < Int(count) else {
      throw HRMError("CUDA device \(ordinal) does not exist (this machine has \(count) GPU\(count == 1 ? "" : "s"))")
    }
    var dev: Int32 = 0
    try driver.check(driver.cuDeviceGet(&dev, Int32(ordinal)), "cuDeviceGet")
    var nameBuffer = [CChar](repeating: 0, count: 256)
    try driver.check(driver.cuDeviceGetName(&nameBuffer, 255, dev), "cuDeviceGetName")
    func attribute(_ a: Int32) throws -> Int {
      var v: Int32 = 0
      try driver.check(driver.cuDeviceGetAttribute(&v, a, dev), "cuDeviceGetAttribute(\(a))")
      return Int(v)
    }
    let major = try attribute(CUDeviceAttribute.computeCapabilityMajor)
    let minor = try attribute(CUDeviceAttribute.computeCapabilityMinor)
    var version: Int32 = 0
    _ = driver.cuDriverGetVersion(&version)

    var ctx: OpaquePointer?
    try driver.check(driver.cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain")
    try driver.check(driver.cuCtxSetCurrent(ctx), "cuCtxSetCurrent")
    var stream: OpaquePointer?
    try driver.check(driver.cuStreamCreate(&stream, 1 /* CU_STREAM_NON_BLOCKING */), "cuStreamCreate")

    let nvrtc = try NVRTCAPI.load()

    self.driver = driver
    self.nvrtc = nvrtc
    self.device = dev
    self.context = ctx
    self.stream = stream
    self.name = "cuda:\(ordinal)"
    self.deviceName = String(cString: nameBuffer)
    self.computeCapability = major * 10 + minor
    self.multiprocessorCount = try attribute(CUDeviceAttribute.multiprocessorCount)
    self.driverVersion = Int(version)
    self.compiler = KernelCompiler(nvrtc: nvrtc, deviceArch: major * 10 + minor)
    let env = ProcessInfo.processInfo.environment
    self.debugSync = env["HRM_CUDA_SYNC"].map { $0 != "0" && !$0.isEmpty } ?? false
    self.forceSimpleGemm = env["HRM_CUDA_GEMM"] == "simple"
    self.forceSimpleAttention = env["HRM_CUDA_ATTENTION"] == "simple"
    self.attentionMinBlocks = env["HRM_CUDA_ATTN_MINB"] != "0"
    self.attentionBackwardPair = env["HRM_CUDA_ATTN_PAIR"] != "0"
    self.fusedLinear = env["HRM_CUDA_FUSED_LINEAR"] != "0"
    self.fusedRotaryProjection = env["HRM_CUDA_FUSED_ROPE"] != "0"
    self.fusedLinearTile = env["HRM_CUDA_FUSED_TILE"].flatMap { Int($0) }.flatMap { $0 == 192 || $0 == 256 ? $0 : nil }
    self.attentionShort = env["HRM_CUDA_ATTN_SHORT"] != "0"
    self.attentionFusedRoPE = env["HRM_CUDA_ATTN_ROPE"] != "0"
    self.attentionWarpgroups = env["HRM_CUDA_ATTN_WGS"].flatMap { Int($0) }.flatMap { (0...4).contains($0) ? $0 : nil }
    self.attentionBackwardWarpgroups = env["HRM_CUDA_ATTN_BWD_WGS"].flatMap { Int($0) }.flatMap { (0...2).contains($0) ? $0 : nil }
    self.attentionBackwardQWarpgroups = env["HRM_CUDA_ATTN_BWDQ_WGS"].flatMap { Int($0) }.flatMap { (0...2).contains($0) ? $0 : nil }
    self.gemmTune = env["HRM_CUDA_GEMM_TUNE"] != "0"
    self.attentionRowGroups = env["HRM_CUDA_ATTN_ROWS"].flatMap { Int($0) }.flatMap { $0 == 1 || $0 == 2 ? $0 : nil }
    if !forceSimpleGemm { _ = ensureCublasLt() }
  }

  /// One line describing the device and the libraries in use.
  public var summary: String {
    let (maj, min) = nvrtc.version
    let target = compiler.emitCubin ? "sm_\(compiler.targetArch) cubin" : "compute_\(compiler.targetArch) PTX"
    let gemm: String
    if forceSimpleGemm { gemm = "built-in tiled GEMM (HRM_CUDA_GEMM=simple)" }
    else if let lt = cublasLt { gemm = lt.libraryName }
    else if let err = cublasLtLoadError { gemm = "built-in tiled GEMM (\(err))" }
    else { gemm = "cuBLASLt (not loaded yet)" }
    let attention = computeCapability >= 80 && !forceSimpleAttention
      ? (compiler.hopperFeatures && attentionWarpgroups != 0 ? "tensor cores for bf16 (wgmma forward), CUDA cores for f32"
                         : "tensor cores for bf16, CUDA cores for f32")
      : "CUDA cores (f32 math)"
    return "\(name): \(deviceName), compute \(computeCapability / 10).\(computeCapability % 10), \(multiprocessorCount) SMs, driver \(driverVersion / 1000).\((driverVersion % 1000) / 10), NVRTC \(maj).\(min) (\(target)), GEMM: \(gemm), attention: \(attention)"
  }

  // MARK: - Error plumbing

  @inline(__always)
  func makeCurrent() {
    let status = driver.cuCtxSetCurrent(context)
    if status != 0 { cudaFatal(HRMError("CUDA cuCtxSetCurrent failed: \(driver.describe(status))")) }
  }

  @inline(__always)
  func checkOrDie(_ status: CUresult, _ call: @autoclosure () -> String) {
    if status != 0 { cudaFatal(HRMError("CUDA \(call()) failed on \(name): \(driver.describe(status))")) }
  }

  // MARK: - Memory

  /// Size classes: multiples of 512 bytes up to 4 KiB, then 4 steps per power of two
  /// (at most 25% slack), so repeated shapes hit the free lists exactly.
  static func sizeClass(_ n: Int) -> Int {
    if n <= 4096 { return max(512, (n + 511) & ~511) }
    var p = 4096
    while p * 2 < n { p *= 2 }
    let step = p / 4
    return ((n + step - 1) / step) * step
  }

  /// Free and total device memory (cuMemGetInfo).
  public func memoryInfo() -> (free: Int, total: Int) {
    makeCurrent()
    var free = 0, total = 0
    _ = driver.cuMemGetInfo(&free, &total)
    return (free, total)
  }

  /// Bytes held by the caching allocator (in use + cached) and cached only.
  public var allocatorStatistics: (held: Int, cached: Int) {
    lock.lock(); defer { lock.unlock() }
    return (allocatedBytes, cachedBytes)
  }

  /// Returns every cached (unused) block to the driver.
  public func emptyCache() {
    makeCurrent()
    _ = driver.cuStreamSynchronize(stream)
    lock.lock(); defer { lock.unlock() }
    emptyCacheLocked()
  }

  private func emptyCacheLocked() {
    for (size, list) in freeLists {
      for address in list { _ = driver.cuMemFree(address); allocatedBytes -= size }
    }
    freeLists.removeAll()
    cachedBytes = 0
  }

  /// Allocates from the size-bucketed cache, else cuMemAlloc. On out-of-memory the cache is
  /// emptied and the call retried once; the error names the size asked for and the free size.
  public func allocate(byteCount: Int) throws -> Buffer {
    precondition(byteCount >= 0, "negative allocation")
    let size = CUDABackend.sizeClass(byteCount)
    lock.lock()
    if var list = freeLists[size], let address = list.popLast() {
      freeLists[size] = list
      cachedBytes -= size
      lock.unlock()
      return Buffer(backend: self, address: address, byteCount: byteCount)
    }
    lock.unlock()
    makeCurrent()
    var address: UInt64 = 0
    var status = driver.cuMemAlloc(&address, size)
    if status == 2 {  // CUDA_ERROR_OUT_OF_MEMORY: give the cache back and try once more
      _ = driver.cuStreamSynchronize(stream)
      lock.lock(); emptyCacheLocked(); lock.unlock()
      status = driver.cuMemAlloc(&address, size)
    }
    if status == 2 {
      let (free, total) = memoryInfo()
      throw HRMError("CUDA out of memory on \(name): asked for \(formatBytes(byteCount)) (\(byteCount) bytes), \(formatBytes(free)) free of \(formatBytes(total))")
    }
    try driver.check(status, "cuMemAlloc(\(size) bytes)")
    lock.lock()
    allocatedBytes += size
    lock.unlock()
    return Buffer(backend: self, address: address, byteCount: byteCount)
  }

  /// Returns a block to its size bucket (stream order makes immediate reuse safe).
  public func release(address: UInt64, byteCount: Int) {
    let size = CUDABackend.sizeClass(byteCount)
    lock.lock()
    freeLists[size, default: []].append(address)
    cachedBytes += size
    lock.unlock()
  }

  /// Host -> device copy on the stream (returns once pageable data is staged).
  public func upload(_ source: UnsafeRawPointer, byteCount: Int, to buffer: Buffer, offset: Int) {
    guard byteCount > 0 else { return }
    precondition(offset >= 0 && offset + byteCount <= buffer.byteCount, "upload outside the buffer")
    makeCurrent()
    // From pageable memory the call returns once the data is staged, so `source` may be reused.
    checkOrDie(driver.cuMemcpyHtoDAsync(buffer.address + UInt64(offset), source, byteCount, stream), "cuMemcpyHtoDAsync(\(byteCount) bytes)")
  }

  /// Device -> host copy; waits for the stream.
  public func download(_ buffer: Buffer, offset: Int, byteCount: Int, to destination: UnsafeMutableRawPointer) {
    guard byteCount > 0 else { return }
    precondition(offset >= 0 && offset + byteCount <= buffer.byteCount, "download outside the buffer")
    makeCurrent()
    checkOrDie(driver.cuMemcpyDtoHAsync(destination, buffer.address + UInt64(offset), byteCount, stream), "cuMemcpyDtoHAsync(\(byteCount) bytes)")
    checkOrDie(driver.cuStreamSynchronize(stream), "cuStreamSynchronize (after a download)")
  }

  /// Waits for all work queued on the backend's stream.
  public func synchronize() {
    makeCurrent()
    checkOrDie(driver.cuStreamSynchronize(stream), "cuStreamSynchronize")
  }

  /// Device-to-device copy on the stream.
  func copyBytes(from src: UInt64, to dst: UInt64, count: Int) {
    guard count > 0 else { return }
    makeCurrent()
    profiled("device copy") {
      checkOrDie(driver.cuMemcpyDtoDAsync(dst, src, count, stream), "cuMemcpyDtoDAsync(\(count) bytes)")
    }
  }

  /// Scratch memory for one op (returned to the cache when the Buffer dies; stream order
  /// keeps the reuse safe).
  func scratch(bytes: Int) -> Buffer {
    do { return try allocate(byteCount: max(bytes, 4)) } catch { cudaFatal(error) }
  }

  // MARK: - Kernels

  /// Compiles (or loads from the disk cache) every kernel of the embedded sources now,
  /// instead of at first use. Throws the NVRTC log on a compile error.
  public func precompileAllKernels() throws {
    for file in CUDAKernelSources.kernelFileNames { _ = try module(file) }
  }

  /// Compiles (or loads) each kernel file, returning the error of every file that failed
  /// (file name -> message with the NVRTC log) instead of stopping at the first.
  public func compileAllKernels() -> [String: String] {
    var failures: [String: String] = [:]
    for file in CUDAKernelSources.kernelFileNames {
      do { _ = try module(file) } catch { failures[file] = "\(error)" }
    }
    return failures
  }

  private func module(_ file: String) throws -> OpaquePointer {
    lock.lock()
    if let m = modules[file] { lock.unlock(); return m }
    lock.unlock()
    let (image, cached) = try compiler.binary(for: file)
    lock.lock()
    if cached { kernelFilesFromCache += 1 } else { kernelFilesCompiled += 1 }
    lock.unlock()
    makeCurrent()
    var module: OpaquePointer?
    let status = image.withUnsafeBytes { driver.cuModuleLoadData(&module, $0.baseAddress!) }
    try driver.check(status, "cuModuleLoadData(\(file))")
    lock.lock()
    defer { lock.unlock() }
    if let existing = modules[file] { return existing }
    modules[file] = module!
    return module!
  }

  func function(_ file: String, _ kernel: String) -> OpaquePointer {
    let key = file + "/" + kernel
    lock.lock()
    if let f = functions[key] { lock.unlock(); return f }
    lock.unlock()
    do {
      let m = try module(file)
      var f: OpaquePointer?
      try kernel.withCString { try driver.check(driver.cuModuleGetFunction(&f, m, $0), "cuModuleGetFunction(\(kernel) in \(file))") }
      lock.lock()
      functions[key] = f!
      lock.unlock()
      return f!
    } catch {
      cudaFatal(error)
    }
  }

  /// Launches `kernel` from kernel file `file` on the stream.
  func launch(_ file: String, _ kernel: String, grid: (Int, Int, Int), block: (Int, Int, Int),
              sharedBytes: Int = 0, _ args: [KernelArg]) {
    precondition(grid.0 > 0 && grid.1 > 0 && grid.2 > 0, "empty grid for \(kernel)")
    let f = function(file, kernel)
    makeCurrent()
    if sharedBytes > 48 * 1024 { allowDynamicShared(f, kernel, bytes: sharedBytes) }
    // Every argument gets an 8-byte slot, a tensor map 128 bytes at a 64-byte boundary: words
    // for each (16 + up to 7 of padding for a map) and 8 to align the start of the storage.
    var storage = [UInt64](repeating: 0, count: 8 + args.reduce(0) { n, arg in
      if case .tensorMap = arg { return n + 24 }
      return n + 1
    })
    let status: CUresult = storage.withUnsafeMutableBytes { raw in
      var offset = (64 - Int(bitPattern: raw.baseAddress!) % 64) % 64
      var pointers = [UnsafeMutableRawPointer?](repeating: nil, count: args.count)
      for (i, arg) in args.enumerated() {
        if case .tensorMap = arg { offset = (offset + 63) / 64 * 64 }
        let slot = raw.baseAddress! + offset
        offset += 8
        switch arg {
        case .ptr(let v): slot.storeBytes(of: v, as: UInt64.self)
        case .i64(let v): slot.storeBytes(of: v, as: Int64.self)
        case .i32(let v): slot.storeBytes(of: v, as: Int32.self)
        case .f32(let v): slot.storeBytes(of: v, as: Float.self)
        case .tensorMap(let words):
          precondition(words.count == 16, "a tensor map is 16 words")
          for (j, w) in words.enumerated() { (slot + 8 * j).storeBytes(of: w, as: UInt64.self) }
          offset += 120
        }
        pointers[i] = slot
      }
      return pointers.withUnsafeMutableBufferPointer { p in
        profiled(kernel) {
          driver.cuLaunchKernel(f, UInt32(grid.0), UInt32(grid.1), UInt32(grid.2),
                                UInt32(block.0), UInt32(block.1), UInt32(block.2),
                                UInt32(sharedBytes), stream, p.baseAddress, nil)
        }
      }
    }
    checkOrDie(status, "cuLaunchKernel(\(kernel), grid \(grid), block \(block))")
    if debugSync {
      checkOrDie(driver.cuStreamSynchronize(stream), "kernel \(kernel) (grid \(grid), block \(block))")
    }
  }

  /// Raises a kernel's dynamic shared-memory limit above the default 48 KB (once per size).
  private func allowDynamicShared(_ f: OpaquePointer, _ kernel: String, bytes: Int) {
    lock.lock()
    let done = sharedLimits[kernel].map { $0 >= bytes } ?? false
    lock.unlock()
    if done { return }
    let maxDynamicSharedSizeBytes: Int32 = 8   // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
    checkOrDie(driver.cuFuncSetAttribute(f, maxDynamicSharedSizeBytes, Int32(bytes)),
               "cuFuncSetAttribute(\(kernel), max dynamic shared memory \(bytes) bytes)")
    lock.lock()
    sharedLimits[kernel] = bytes
    lock.unlock()
  }

  /// Blocks for a grid-stride elementwise kernel over n elements (256 threads each).
  func blocks(_ n: Int, threads: Int = 256) -> Int {
    max(1, min((n + threads - 1) / threads, multiprocessorCount * 64))
  }
}

// MARK: - Tensor helpers

extension Tensor {
  /// Device address of the first element.
  var devicePointer: UInt64 { buffer.address + UInt64(byteOffset) }

  /// Element-type code shared with the kernels (0 f32, 1 bf16, 2 i32).
  var dtypeCode: Int32 {
    switch dtype {
    case .f32: return 0
    case .bf16: return 1
    case .i32: return 2
    }
  }
}
