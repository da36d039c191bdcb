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

/// Small f32 vector helpers shared by the kernels (8-lane partial sums: fast, and the
/// summation order is fixed, so results are deterministic).
enum HostMath {
  /// Σ a[i]·b[i] in f32 with eight interleaved partial sums.
  @inline(__always)
  static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 8 <= n {
      let va = ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
      let vb = rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
      acc = acc.addingProduct(va, vb)
      i += 8
    }
    var s = acc.sum()
    while i < n { s = s.addingProduct(a[i], b[i]); i += 1 }
    return s
  }

  /// e^x on eight lanes (Cephes' expf polynomial after Cody-Waite reduction; < 1 ulp
  /// relative error on [−87, 88]). Inputs are clamped to that range, so e^x for x < −87 is
  /// returned as e^−87 ≈ 1.6e-38 rather than a subnormal; NaN stays NaN. Several times
  /// faster than calling expf per element, and a pure function, so deterministic.
  @inline(__always)
  static func exp8(_ v: SIMD8<Float>) -> SIMD8<Float> {
    let lo = SIMD8<Float>(repeating: -87), hi = SIMD8<Float>(repeating: 88)
    var x = v.replacing(with: lo, where: v .< lo)
    x = x.replacing(with: hi, where: x .> hi)
    // Round x·log2(e) to the nearest integer with the 1.5·2²³ shifter.
    let shifter = SIMD8<Float>(repeating: 12_582_912)
    let t = x * 1.442_695_04 + shifter
    let k = t - shifter
    var r = x.addingProduct(k, SIMD8(repeating: -0.693_359_375))
    r = r.addingProduct(k, SIMD8(repeating: 2.121_944_4e-4))
    var p = SIMD8<Float>(repeating: 1.987_569_15e-4) * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    let y = (p * r * r + r) + 1
    let n = unsafeBitCast(t, to: SIMD8<Int32>.self) &- unsafeBitCast(shifter, to: SIMD8<Int32>.self)
    return y * unsafeBitCast((n &+ 127) &<< 23, to: SIMD8<Float>.self)
  }

  /// row[j] = e^(row[j] − shift) for j in 0..<n; returns Σ_j of the new values (eight
  /// lane partial sums, then the tail: a fixed order).
  @inline(__always)
  static func expShifted(_ row: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
    let raw = UnsafeMutableRawPointer(row)
    var acc = SIMD8<Float>(repeating: 0)
    var j = 0
    while j + 8 <= n {
      let e = exp8(raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) - shift)
      raw.storeBytes(of: e, toByteOffset: j * 4, as: SIMD8<Float>.self)
      acc += e
      j += 8
    }
    var sum = acc.sum()
    if j < n {
      var v = SIMD8<Float>(repeating: 0)
      for l in 0..<(n - j) { v[l] = row[j + l] - shift }
      let e = exp8(v)
      for l in 0..<(n - j) { row[j + l] = e[l]; sum += e[l] }
    }
    return sum
  }

  /// The largest of row[0..<n] (n ≥ 1; NaN elements are skipped unless all are NaN).
  @inline(__always)
  static func maximum(_ row: UnsafePointer<Float>, _ n: Int) -> Float {
    let raw = UnsafeRawPointer(row)
    var m = SIMD8<Float>(repeating: -.infinity)
    var j = 0
    while j + 8 <= n {
      let v = raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
      m = m.replacing(with: v, where: v .> m)
      j += 8
    }
    var best = m.max()
    while j < n { if row[j] > best { best = row[j] }; j += 1 }
    return best
  }
}
