// Buffer.swift: a block of memory owned by one backend.
//
// The address is opaque to everything but its backend: a host pointer for the CPU
// backend, a CUdeviceptr for CUDA. Memory returns to the backend when the last
// reference goes away.

/// A block of backend memory of `byteCount` bytes.
public final class Buffer: @unchecked Sendable {
  public let backend: Backend
  public let address: UInt64
  public let byteCount: Int

  public init(backend: Backend, address: UInt64, byteCount: Int) {
    self.backend = backend
    self.address = address
    self.byteCount = byteCount
  }

  deinit { backend.release(address: address, byteCount: byteCount) }

  /// The host pointer of a CPU buffer. Only the CPU backend may call this.
  @inline(__always)
  public var hostPointer: UnsafeMutableRawPointer {
    UnsafeMutableRawPointer(bitPattern: UInt(address))!
  }
}
