// CPUBackend.swift: the host implementation of `Backend`, and the oracle for every other one.
//
// Memory is 64-byte aligned host memory (posix_memalign); upload/download are memcpy and
// `synchronize` has nothing to wait for. The kernels live in CPU/Kernels/, one file per op
// family with each forward next to its backward; they compute in f32 (f64 where the
// contract says so), read bf16 tensors through an f32 scratch (Kernels/HostAccess.swift),
// and are deterministic: work is split into row or block ranges that never write the same
// memory, and every reduction runs in a fixed order that does not depend on thread count.
// Not here: the matrix multiply itself (CPUGEMM, CPU/GEMM.swift) and the thread pool
// (CPUParallel, CPU/Parallel.swift).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HRMSupport

/// The CPU backend: host memory and f32 kernels (bf16 is a storage format here).
public final class CPUBackend: Backend {
  /// The process-wide instance (the backend holds no state, so one is enough).
  public static let shared = CPUBackend()

  /// Alignment of every allocation, in bytes (one cache line; enough for any SIMD load).
  public static let alignment = 64

  /// Creates a CPU backend. Instances are interchangeable; prefer `shared`.
  public init() {}

  /// "cpu".
  public var name: String { "cpu" }

  // MARK: - Memory

  /// Allocates `byteCount` bytes of 64-byte aligned host memory (contents undefined).
  public func allocate(byteCount: Int) throws -> Buffer {
    guard byteCount >= 0 else { throw HRMError("cpu: cannot allocate \(byteCount) bytes") }
    var raw: UnsafeMutableRawPointer? = nil
    // A zero-byte request still gets a real (unique, non-null) block.
    let status = posix_memalign(&raw, CPUBackend.alignment, max(byteCount, CPUBackend.alignment))
    guard status == 0, let pointer = raw else {
      throw HRMError("cpu: out of memory allocating \(byteCount) bytes")
    }
    return Buffer(backend: self, address: UInt64(UInt(bitPattern: pointer)), byteCount: byteCount)
  }

  /// Frees a block returned by `allocate`.
  public func release(address: UInt64, byteCount: Int) {
    free(UnsafeMutableRawPointer(bitPattern: UInt(address)))
  }

  /// Copies `byteCount` host bytes into `buffer` at byte `offset`.
  public func upload(_ source: UnsafeRawPointer, byteCount: Int, to buffer: Buffer, offset: Int) {
    precondition(offset >= 0 && byteCount >= 0 && offset + byteCount <= buffer.byteCount,
                 "cpu upload: \(byteCount) bytes at \(offset) overflow a \(buffer.byteCount)-byte buffer")
    if byteCount == 0 { return }
    memcpy(buffer.hostPointer + offset, source, byteCount)
  }

  /// Copies `byteCount` bytes at byte `offset` of `buffer` to host memory.
  public func download(_ buffer: Buffer, offset: Int, byteCount: Int, to destination: UnsafeMutableRawPointer) {
    precondition(offset >= 0 && byteCount >= 0 && offset + byteCount <= buffer.byteCount,
                 "cpu download: \(byteCount) bytes at \(offset) overflow a \(buffer.byteCount)-byte buffer")
    if byteCount == 0 { return }
    memcpy(destination, buffer.hostPointer + offset, byteCount)
  }

  /// Nothing is queued on the CPU: every kernel has finished when it returns.
  public func synchronize() {}
}
