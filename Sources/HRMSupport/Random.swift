// Random.swift: the project's one pseudo-random generator (xoshiro256**, seeded by SplitMix64).
//
// Every random choice (initialisation, data generation, augmentation, sampling, ACT
// exploration) draws from an explicitly seeded `HRMRandom`, so a seed fixes a run bit for bit.
// It does not reproduce numpy's or PyTorch's streams.

import Foundation

public struct HRMRandom: RandomNumberGenerator, Codable, Equatable, Sendable {
  public private(set) var state: [UInt64]

  public init(seed: UInt64) {
    var z = seed
    var s = [UInt64]()
    for _ in 0..<4 {
      z &+= 0x9E37_79B9_7F4A_7C15
      var x = z
      x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
      x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
      s.append(x ^ (x >> 31))
    }
    state = s
  }

  /// A generator continuing from a saved `state` (four words, as `state` returns them).
  public init(state: [UInt64]) {
    precondition(state.count == 4, "xoshiro256** has four state words, got \(state.count)")
    self.state = state
  }

  /// Derives an independent stream, e.g. one per epoch or per purpose.
  public init(seed: UInt64, stream: UInt64) {
    self.init(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03) &+ stream)
  }

  @inline(__always)
  private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

  public mutating func next() -> UInt64 {
    let result = HRMRandom.rotl(state[1] &* 5, 7) &* 9
    let t = state[1] << 17
    state[2] ^= state[0]
    state[3] ^= state[1]
    state[1] ^= state[2]
    state[0] ^= state[3]
    state[2] ^= t
    state[3] = HRMRandom.rotl(state[3], 45)
    return result
  }

  /// Uniform in [0, 1) with 53 random bits.
  public mutating func uniform() -> Double {
    Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
  }

  /// Uniform integer in lo...hi (inclusive), unbiased.
  public mutating func int(_ lo: Int, _ hi: Int) -> Int {
    precondition(hi >= lo)
    let span = UInt64(hi - lo) &+ 1
    if span == 0 { return lo &+ Int(bitPattern: UInt(next())) }
    return lo + Int(next(upperBound: span))
  }

  /// Standard normal (Box-Muller).
  public mutating func normal() -> Double {
    var u1 = uniform()
    while u1 <= 0 { u1 = uniform() }
    let u2 = uniform()
    return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
  }

  /// A random permutation of 0..<n (Fisher-Yates).
  public mutating func permutation(_ n: Int) -> [Int] {
    var p = Array(0..<n)
    shuffle(&p)
    return p
  }

  public mutating func shuffle<T>(_ a: inout [T]) {
    if a.count < 2 { return }
    for i in stride(from: a.count - 1, to: 0, by: -1) {
      let j = int(0, i)
      if i != j { a.swapAt(i, j) }
    }
  }
}
