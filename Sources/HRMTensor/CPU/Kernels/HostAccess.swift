// HostAccess.swift: how CPU kernels reach tensor memory, and the one place bf16 is handled.
//
// Every float kernel works on f32 pointers. `HostF32.read` hands a kernel an f32 tensor's own
// memory, or an f32 scratch converted from a bf16 (or i32) tensor; `HostF32.write` hands it
// an f32 tensor's own memory, or an f32 scratch that is rounded back to bf16 (round to
// nearest even, BF16.fromFloat) when the kernel returns. Outputs that alias inputs stay
// correct: a bf16 input is copied out before the kernel runs and written back only after.
// Not here: any math; statistics tensors (rstd, lse) and i32 tensors are accessed directly.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HRMSupport

extension Tensor {
  /// Host address of the tensor's first element (offset applied). CPU tensors only.
  @inline(__always)
  var hostBase: UnsafeMutableRawPointer {
    precondition(buffer.backend is CPUBackend, "cpu kernel given a tensor on \(buffer.backend.name)")
    return buffer.hostPointer + byteOffset
  }

  /// The elements of an f32 tensor.
  @inline(__always)
  var f32Pointer: UnsafeMutablePointer<Float> {
    precondition(dtype == .f32, "cpu kernel expects an f32 tensor, got \(dtype) \(shape)")
    return hostBase.assumingMemoryBound(to: Float.self)
  }

  /// The elements of an i32 tensor.
  @inline(__always)
  var i32Pointer: UnsafeMutablePointer<Int32> {
    precondition(dtype == .i32, "cpu kernel expects an i32 tensor, got \(dtype) \(shape)")
    return hostBase.assumingMemoryBound(to: Int32.self)
  }

  /// The raw 16-bit elements of a bf16 tensor.
  @inline(__always)
  var bf16Pointer: UnsafeMutablePointer<UInt16> {
    precondition(dtype == .bf16, "cpu kernel expects a bf16 tensor, got \(dtype) \(shape)")
    return hostBase.assumingMemoryBound(to: UInt16.self)
  }
}

/// f32 access to float tensors of any storage dtype (the CPU backend's bf16 policy).
enum HostF32 {
  /// Conversions below this many elements stay on the calling thread.
  static let conversionGrain = 1 << 16

  /// Runs `body` with the values of `t` as f32: its own memory when f32, otherwise a
  /// converted scratch (bf16 widened exactly, i32 converted to Float).
  @inline(__always)
  static func read<R>(_ t: Tensor, _ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
    if t.dtype == .f32 { return try body(UnsafePointer(t.f32Pointer)) }
    let n = t.count
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
    defer { scratch.deallocate() }
    load(t, into: scratch)
    return try body(UnsafePointer(scratch))
  }

  /// Runs `body` with f32 storage for the output `t`: its own memory when f32, otherwise a
  /// scratch that is rounded into `t` after `body` returns. `load` fills the scratch with the
  /// current contents first (needed when the kernel accumulates or leaves elements alone);
  /// without it the kernel must write every element.
  @inline(__always)
  static func write<R>(_ t: Tensor, load shouldLoad: Bool,
                       _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
    if t.dtype == .f32 { return try body(t.f32Pointer) }
    precondition(t.dtype == .bf16, "cpu kernel expects a float output, got \(t.dtype) \(t.shape)")
    let n = t.count
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
    defer { scratch.deallocate() }
    if shouldLoad { load(t, into: scratch) }
    let result = try body(scratch)
    store(UnsafePointer(scratch), into: t)
    return result
  }

  /// Converts the elements of `t` (any dtype) to f32 at `dst`.
  static func load(_ t: Tensor, into dst: UnsafeMutablePointer<Float>) {
    let n = t.count
    switch t.dtype {
    case .f32:
      dst.update(from: t.f32Pointer, count: n)
    case .bf16:
      let src = t.bf16Pointer
      CPUParallel.forRanges(n, minPerThread: conversionGrain) { r in
        for i in r { dst[i] = Float(bitPattern: UInt32(src[i]) << 16) }
      }
    case .i32:
      let src = t.i32Pointer
      for i in 0..<n { dst[i] = Float(src[i]) }
    }
  }

  /// Writes f32 values into the float tensor `t`, rounding to nearest even for bf16.
  static func store(_ src: UnsafePointer<Float>, into t: Tensor) {
    let n = t.count
    switch t.dtype {
    case .f32:
      t.f32Pointer.update(from: src, count: n)
    case .bf16:
      let dst = t.bf16Pointer
      CPUParallel.forRanges(n, minPerThread: conversionGrain) { r in
        for i in r { dst[i] = BF16.fromFloat(src[i]) }
      }
    case .i32:
      preconditionFailure("cpu kernel cannot store float results into an i32 tensor \(t.shape)")
    }
  }

  // MARK: - Element copies with conversion

  /// Float to i32 the way `Tensor(_:shape:dtype:)` does it (truncation), but total: NaN
  /// becomes 0 and out-of-range values saturate.
  @inline(__always)
  static func int32(_ v: Float) -> Int32 {
    if v.isNaN { return 0 }
    if v >= 2_147_483_520 { return Int32.max }
    if v <= -2_147_483_648 { return Int32.min }
    return Int32(v)
  }

  /// Copies `count` elements from element `srcIndex` of `src` to element `dstIndex` of
  /// `dst`, converting between any two dtypes (a plain byte copy when they match; f32 ->
  /// bf16 rounds to nearest even; float -> i32 truncates). Single-threaded: callers split
  /// large copies into ranges.
  static func convert(_ src: Tensor, from srcIndex: Int, to dst: Tensor, at dstIndex: Int, count: Int) {
    if count <= 0 { return }
    precondition(srcIndex >= 0 && srcIndex + count <= src.count && dstIndex >= 0 && dstIndex + count <= dst.count,
                 "cpu copy of \(count) elements outside \(src.shape) or \(dst.shape)")
    if src.dtype == dst.dtype {
      let size = src.dtype.size
      memmove(dst.hostBase + dstIndex * size, src.hostBase + srcIndex * size, count * size)
      return
    }
    switch (src.dtype, dst.dtype) {
    case (.f32, .bf16):
      let s = src.f32Pointer + srcIndex, d = dst.bf16Pointer + dstIndex
      for i in 0..<count { d[i] = BF16.fromFloat(s[i]) }
    case (.bf16, .f32):
      let s = src.bf16Pointer + srcIndex, d = dst.f32Pointer + dstIndex
      for i in 0..<count { d[i] = Float(bitPattern: UInt32(s[i]) << 16) }
    case (.i32, .f32):
      let s = src.i32Pointer + srcIndex, d = dst.f32Pointer + dstIndex
      for i in 0..<count { d[i] = Float(s[i]) }
    case (.i32, .bf16):
      let s = src.i32Pointer + srcIndex, d = dst.bf16Pointer + dstIndex
      for i in 0..<count { d[i] = BF16.fromFloat(Float(s[i])) }
    case (.f32, .i32):
      let s = src.f32Pointer + srcIndex, d = dst.i32Pointer + dstIndex
      for i in 0..<count { d[i] = int32(s[i]) }
    case (.bf16, .i32):
      let s = src.bf16Pointer + srcIndex, d = dst.i32Pointer + dstIndex
      for i in 0..<count { d[i] = int32(Float(bitPattern: UInt32(s[i]) << 16)) }
    default:
      preconditionFailure("unreachable dtype pair \(src.dtype) -> \(dst.dtype)")
    }
  }
}
