// NCCLCommunicator.swift: the `Communicator` of multi-GPU training, over NCCL (libnccl.so.2,
// dlopen'd at run time like the other CUDA libraries, so the binary runs without it).
//
// One process per GPU. Rank 0 makes the unique id (`NCCLCommunicator.uniqueId()`); the caller
// hands it to every rank (HRMTrain's TCP rendezvous); each rank then builds its communicator
// over its CUDA backend's stream. Collectives are queued on that stream, so they are ordered
// with the kernels around them; every call then waits for the stream with a watchdog:
// cuStreamQuery polling plus ncclCommGetAsyncError, and ncclCommAbort + a one-line error when
// NCCL reports a failure or `timeout` seconds pass (a dead or hung peer), never a silent hang.
// ncclCommInitRank runs on a helper thread under the same timeout.
//
// NVLink multicast (NVLS) is kept off: NCCL_NVLS_ENABLE=0 is set before NCCL initialises.
//
// ncclCommInitRank takes the 128-byte ncclUniqueId by value, which @convention(c) cannot
// spell. The C ABI is used directly: on x86-64 (System V) a struct over 16 bytes is copied
// to the stack argument area while the scalars after it still take the next registers, so
// the call is declared as (comm*, nranks, rank, 3 unused register words, 16 u64 stack words);
// on arm64 (AAPCS64) such a struct is passed as a pointer to a caller-made copy.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HRMSupport
import HRMTensor

typealias NCCLResult = Int32

/// The NCCL entry points the communicator uses (nccl.h), and ncclComm_t as OpaquePointer.
struct NCCLAPI {
  let libraryName: String
  let ncclGetVersion: @convention(c) (UnsafeMutablePointer<Int32>) -> NCCLResult
  let ncclGetUniqueId: @convention(c) (UnsafeMutableRawPointer) -> NCCLResult
  #if arch(x86_64)
  let ncclCommInitRank: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, Int32, Int32, UInt64, UInt64, UInt64,
                                        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                                        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) -> NCCLResult
  #else
  let ncclCommInitRank: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, Int32, UnsafeRawPointer, Int32) -> NCCLResult
  #endif
  let ncclCommDestroy: @convention(c) (OpaquePointer?) -> NCCLResult
  let ncclCommAbort: @convention(c) (OpaquePointer?) -> NCCLResult
  let ncclCommGetAsyncError: @convention(c) (OpaquePointer?, UnsafeMutablePointer<NCCLResult>) -> NCCLResult
  let ncclGetErrorString: @convention(c) (NCCLResult) -> UnsafePointer<CChar>?
  /// (sendbuff, recvbuff, count, datatype, op, comm, stream)
  let ncclAllReduce: @convention(c) (UInt64, UInt64, Int, Int32, Int32, OpaquePointer?, OpaquePointer?) -> NCCLResult
  /// (sendbuff, recvbuff, count, datatype, root, comm, stream)
  let ncclBroadcast: @convention(c) (UInt64, UInt64, Int, Int32, Int32, OpaquePointer?, OpaquePointer?) -> NCCLResult
  /// (sendbuff, recvbuff, sendcount, datatype, comm, stream)
  let ncclAllGather: @convention(c) (UInt64, UInt64, Int, Int32, OpaquePointer?, OpaquePointer?) -> NCCLResult
  let ncclGroupStart: @convention(c) () -> NCCLResult
  let ncclGroupEnd: @convention(c) () -> NCCLResult
  /// The driver's cuStreamQuery (0 = done, 600 = CUDA_ERROR_NOT_READY), for the watchdog.
  let cuStreamQuery: @convention(c) (OpaquePointer?) -> Int32

  // nccl.h enum values.
  static let success: NCCLResult = 0
  static let inProgress: NCCLResult = 7
  static let sum: Int32 = 0  // ncclSum

  /// ncclDataType_t of a dtype: ncclInt32 = 2, ncclFloat32 = 7, ncclBfloat16 = 9.
  static func dataType(_ d: DType) -> Int32 {
    switch d {
    case .i32: return 2
    case .f32: return 7
    case .bf16: return 9
    }
  }

  /// Loads libnccl.so.2 (and cuStreamQuery from libcuda.so.1).
  static func load() throws -> NCCLAPI {
    guard let (h, name) = openLibrary(["libnccl.so.2", "libnccl.so"] + cudaLibraryDirectories().map { $0 + "/libnccl.so.2" }) else {
      throw HRMError("multi-GPU training needs NCCL: libnccl.so.2 not found (install NCCL 2 or add its folder to LD_LIBRARY_PATH)")
    }
    guard let (cuda, cudaName) = openLibrary(["libcuda.so.1", "libcuda.so"]) else {
      throw HRMError("multi-GPU training needs the NVIDIA driver: libcuda.so.1 not found")
    }
    func s<T>(_ symbol: String, _ t: T.Type) throws -> T { try loadSymbol(h, symbol, library: name, as: t) }
    return NCCLAPI(
      libraryName: name,
      ncclGetVersion: try s("ncclGetVersion", (@convention(c) (UnsafeMutablePointer<Int32>) -> NCCLResult).self),
      ncclGetUniqueId: try s("ncclGetUniqueId", (@convention(c) (UnsafeMutableRawPointer) -> NCCLResult).self),
      ncclCommInitRank: try s("ncclCommInitRank", NCCLAPI.InitRank.self),
      ncclCommDestroy: try s("ncclCommDestroy", (@convention(c) (OpaquePointer?) -> NCCLResult).self),
      ncclCommAbort: try s("ncclCommAbort", (@convention(c) (OpaquePointer?) -> NCCLResult).self),
      ncclCommGetAsyncError: try s("ncclCommGetAsyncError", (@convention(c) (OpaquePointer?, UnsafeMutablePointer<NCCLResult>) -> NCCLResult).self),
      ncclGetErrorString: try s("ncclGetErrorString", (@convention(c) (NCCLResult) -> UnsafePointer<CChar>?).self),
      ncclAllReduce: try s("ncclAllReduce", (@convention(c) (UInt64, UInt64, Int, Int32, Int32, OpaquePointer?, OpaquePointer?) -> NCCLResult).self),
      ncclBroadcast: try s("ncclBroadcast", (@convention(c) (UInt64, UInt64, Int, Int32, Int32, OpaquePointer?, OpaquePointer?) -> NCCLResult).self),
      ncclAllGather: try s("ncclAllGather", (@convention(c) (UInt64, UInt64, Int, Int32, OpaquePointer?, OpaquePointer?) -> NCCLResult).self),
      ncclGroupStart: try s("ncclGroupStart", (@convention(c) () -> NCCLResult).self),
      ncclGroupEnd: try s("ncclGroupEnd", (@convention(c) () -> NCCLResult).self),
      cuStreamQuery: try loadSymbol(cuda, "cuStreamQuery", library: cudaName, as: (@convention(c) (OpaquePointer?) -> Int32).self))
  }

  #if arch(x86_64)
  typealias InitRank = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, Int32, Int32, UInt64, UInt64, UInt64,
                                       UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                                       UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) -> NCCLResult
  #else
  typealias InitRank = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, Int32, UnsafeRawPointer, Int32) -> NCCLResult
  #endif

  /// ncclCommInitRank(comm, nranks, id /* 128 bytes by value */, rank).
  func commInitRank(_ comm: UnsafeMutablePointer<OpaquePointer?>, nranks: Int32, id: [UInt8], rank: Int32) -> NCCLResult {
    precondition(id.count == NCCLCommunicator.uniqueIdBytes)
    #if arch(x86_64)
    var w = [UInt64](repeating: 0, count: 16)
    w.withUnsafeMutableBytes { dst in id.withUnsafeBytes { dst.copyMemory(from: $0) } }
    return ncclCommInitRank(comm, nranks, rank, 0, 0, 0, w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7],
                            w[8], w[9], w[10], w[11], w[12], w[13], w[14], w[15])
    #else
    return id.withUnsafeBytes { ncclCommInitRank(comm, nranks, $0.baseAddress!, rank) }
    #endif
  }

  /// "ncclX: text" for a result code.
  func describe(_ r: NCCLResult) -> String {
    let text = ncclGetErrorString(r).map { String(cString: $0) } ?? "unknown error"
    return "NCCL error \(r) (\(text))"
  }
}

/// Data-parallel collectives among GPUs (one process per GPU) over NCCL.
public final class NCCLCommunicator: Communicator, @unchecked Sendable {
  /// Bytes of an ncclUniqueId.
  public static let uniqueIdBytes = 128
  /// This process's rank.
  public let rank: Int
  /// Number of ranks.
  public let worldSize: Int
  /// Seconds a collective (or the initialisation) may take before the job is declared dead.
  public let timeout: Double
  let api: NCCLAPI
  let backend: CUDABackend
  var comm: OpaquePointer?
  var aborted = false

  /// Keeps NVLink multicast off (sets NCCL_NVLS_ENABLE=0); call before NCCL initialises.
  public static func configureEnvironment() {
    setenv("NCCL_NVLS_ENABLE", "0", 1)
  }

  /// A new unique id (rank 0 calls this and sends it to the others).
  public static func uniqueId() throws -> [UInt8] {
    configureEnvironment()
    let api = try NCCLAPI.load()
    var id = [UInt8](repeating: 0, count: uniqueIdBytes)
    let r = id.withUnsafeMutableBytes { api.ncclGetUniqueId($0.baseAddress!) }
    if r != NCCLAPI.success { throw HRMError("ncclGetUniqueId failed: \(api.describe(r))") }
    return id
  }

  /// Joins the communicator of `uniqueId` as `rank` of `worldSize` on `backend`'s GPU.
  /// Throws a one-line error when NCCL is missing, the backend is not CUDA, or the other ranks
  /// do not all join within `timeout` seconds.
  public init(backend: Backend, rank: Int, worldSize: Int, uniqueId: [UInt8], timeout: Double) throws {
    NCCLCommunicator.configureEnvironment()
    guard let cuda = backend as? CUDABackend else {
      throw HRMError("multi-GPU training needs device=cuda (this rank has \(backend.name))")
    }
    guard uniqueId.count == NCCLCommunicator.uniqueIdBytes else {
      throw HRMError("NCCL unique id has \(uniqueId.count) bytes, expected \(NCCLCommunicator.uniqueIdBytes)")
    }
    let api = try NCCLAPI.load()
    self.api = api
    self.backend = cuda
    self.rank = rank
    self.worldSize = worldSize
    self.timeout = timeout
    // ncclCommInitRank blocks until every rank has joined: run it on a helper thread so a rank
    // that died after the rendezvous gives an error here instead of a hang.
    final class Box: @unchecked Sendable { var comm: OpaquePointer?; var result: NCCLResult = -1 }
    let box = Box()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
      cuda.makeCurrent()
      var c: OpaquePointer?
      box.result = api.commInitRank(&c, nranks: Int32(worldSize), id: uniqueId, rank: Int32(rank))
      box.comm = c
      done.signal()
    }
    thread.stackSize = 8 << 20
    thread.start()
    if done.wait(timeout: .now() + timeout) == .timedOut {
      throw HRMError("NCCL initialisation timed out after \(Int(timeout)) s on rank \(rank) of \(worldSize): another rank died or never joined")
    }
    if box.result != NCCLAPI.success {
      throw HRMError("ncclCommInitRank failed on rank \(rank) of \(worldSize): \(api.describe(box.result))")
    }
    comm = box.comm
  }

  deinit {
    if let c = comm, !aborted { _ = api.ncclCommDestroy(c) }
  }

  /// Sums f32/bf16/i32 tensors over all ranks in place (one NCCL group).
  public func allReduceSum(_ tensors: [Tensor]) throws {
    if tensors.isEmpty { return }
    try run("all-reduce") {
      for t in tensors {
        let p = t.buffer.address + UInt64(t.byteOffset)
        try check(api.ncclAllReduce(p, p, t.count, NCCLAPI.dataType(t.dtype), NCCLAPI.sum, comm, backend.stream), "ncclAllReduce")
      }
    }
  }

  /// Copies rank `root`'s tensors to every rank, in place.
  public func broadcast(_ tensors: [Tensor], root: Int) throws {
    if tensors.isEmpty { return }
    try run("broadcast") {
      for t in tensors {
        let p = t.buffer.address + UInt64(t.byteOffset)
        try check(api.ncclBroadcast(p, p, t.count, NCCLAPI.dataType(t.dtype), Int32(root), comm, backend.stream), "ncclBroadcast")
      }
    }
  }

  /// Concatenates every rank's tensor along the first axis, in rank order.
  public func allGather(_ tensor: Tensor) throws -> Tensor {
    var shape = tensor.shape
    if shape.isEmpty { shape = [1] }
    shape[0] *= worldSize
    let out = Tensor.empty(shape, tensor.dtype, on: backend)
    try run("all-gather") {
      try check(api.ncclAllGather(tensor.buffer.address + UInt64(tensor.byteOffset), out.buffer.address + UInt64(out.byteOffset),
                                  tensor.count, NCCLAPI.dataType(tensor.dtype), comm, backend.stream), "ncclAllGather")
    }
    return out
  }

  /// An all-reduce of one value: returns once every rank has arrived.
  public func barrier() throws {
    try allReduceSum([Tensor.zeros([1], .f32, on: backend)])
  }

  // MARK: - Queueing and the watchdog

  func check(_ r: NCCLResult, _ call: String) throws {
    if r != NCCLAPI.success && r != NCCLAPI.inProgress {
      throw HRMError("\(call) failed on rank \(rank): \(api.describe(r))")
    }
  }

  /// Queues `body`'s calls as one NCCL group on the backend's stream, then waits for the
  /// stream under the watchdog.
  func run(_ what: String, _ body: () throws -> Void) throws {
    if aborted { throw HRMError("NCCL \(what) on rank \(rank): the communicator was aborted after an earlier failure") }
    backend.makeCurrent()
    try check(api.ncclGroupStart(), "ncclGroupStart")
    do { try body() } catch {
      _ = api.ncclGroupEnd()
      abort()
      throw error
    }
    try check(api.ncclGroupEnd(), "ncclGroupEnd")
    let deadline = Date().addingTimeInterval(timeout)
    var spins = 0
    while true {
      let s = api.cuStreamQuery(backend.stream)
      if s == 0 { return }
      if s != 600 {  // not CUDA_ERROR_NOT_READY
        abort()
        throw HRMError("NCCL \(what) on rank \(rank): the CUDA stream failed: \(backend.driver.describe(s))")
      }
      var async: NCCLResult = 0
      _ = api.ncclCommGetAsyncError(comm, &async)
      if async != NCCLAPI.success && async != NCCLAPI.inProgress {
        abort()
        throw HRMError("NCCL \(what) failed on rank \(rank) of \(worldSize): \(api.describe(async)) (a peer died?)")
      }
      spins += 1
      if spins % 1024 == 0, Date() > deadline {
        abort()
        throw HRMError("NCCL \(what) did not finish within dist_timeout=\(Int(timeout)) s on rank \(rank) of \(worldSize): another rank died or hung")
      }
      if spins > 64 { usleep(20) }
    }
  }

  /// ncclCommAbort: frees the communicator and unblocks its queued kernels.
  func abort() {
    guard !aborted, let c = comm else { return }
    aborted = true
    _ = api.ncclCommAbort(c)
  }
}
