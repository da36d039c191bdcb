// VectorMath.swift: the CPU kernels' small f32 vector helpers on eight SIMD lanes.
//
// A dot product, a row maximum, exp / sigmoid (Cephes' expf polynomial) and atan2 for a
// non-negative x (Cephes' atanf), written on SIMD8<Float> so the hot loops of attention,
// SwiGLU and AdamATan2 vectorise. Every helper is a pure function with a fixed order of
// operations, so results are deterministic and do not depend on where a loop is split.
// Not here: memory access (HostAccess.swift) or any kernel.

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

  /// σ(x) = 1/(1 + e^−x) on eight lanes (saturates cleanly: e^−x is clamped to [e^−87, e^88]).
  @inline(__always)
  static func sigmoid8(_ x: SIMD8<Float>) -> SIMD8<Float> { 1 / (1 + exp8(-x)) }

  /// σ(x) for one value, bit-identical to a lane of `sigmoid8` (used for loop tails).
  @inline(__always)
  static func sigmoid(_ x: Float) -> Float { sigmoid8(SIMD8(repeating: x))[0] }

  @inline(__always)
  static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
  }

  @inline(__always)
  static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
  }

  /// atan2(y, x) on eight lanes for x ≥ 0 (the only case AdamATan2 needs): Cephes' atanf
  /// polynomial after reduction to [0, tan(π/8)], about 2 ulp. atan2(±0, 0) = ±0,
  /// atan2(±∞, finite) = ±π/2, NaN in gives NaN out. Negative x is not supported.
  @inline(__always)
  static func atan2NonNegative8(_ y: SIMD8<Float>, _ x: SIMD8<Float>) -> SIMD8<Float> {
    let a = y.replacing(with: -y, where: y .< 0)        // |y| (NaN stays NaN)
    let aLarger = a .> x
    let num = a.replacing(with: x, where: aLarger)      // min(|y|, x)
    let den = x.replacing(with: a, where: aLarger)      // max(|y|, x)
    var z = num / den                                   // in [0, 1]
    z = z.replacing(with: 1, where: num .== den)        // ∞/∞ (and 0/0, fixed below)
    // atan(z) on [0, 1]: reduce z > tan(π/8) with atan(z) = π/4 + atan((z − 1)/(z + 1)).
    let reduce = z .> 0.414_213_562_373_095_0
    let w = z.replacing(with: (z - 1) / (z + 1), where: reduce)
    let base = SIMD8<Float>(repeating: 0).replacing(with: .pi / 4, where: reduce)
    let ww = w * w
    var poly = SIMD8<Float>(repeating: 8.053_744_495_38e-2) * ww - 1.387_768_560_32e-1
    poly = poly * ww + 1.997_771_064_78e-1
    poly = poly * ww - 3.333_294_915_39e-1
    var t = base + (poly * ww * w + w)
    t = t.replacing(with: .pi / 2 - t, where: aLarger)
    t = t.replacing(with: 0, where: (a .== 0) .& (x .== 0))
    // t ≥ 0 here: give it y's sign bit.
    let sign = unsafeBitCast(y, to: SIMD8<UInt32>.self) & 0x8000_0000
    return unsafeBitCast(unsafeBitCast(t, to: SIMD8<UInt32>.self) | sign, to: SIMD8<Float>.self)
  }
}
