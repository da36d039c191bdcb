// GEMMTests.swift: checks CPUGEMM.sgemm (blocked, SIMD, threaded) against CPUGEMM.naive.
//
// Tolerance: both sides are float32 sums of k products, in different orders (the fast path
// uses fused multiply-adds and splits k into blocks). For a dot product of length k the
// rounding error of either order is bounded by about k * eps * sum|a_i b_i| (eps = 2^-24),
// so we compare |fast - naive| <= 4 * k * eps * (|alpha| * sum|a_i b_i| + |beta * c|) + tiny.
// That bound is tight enough to catch any wrong index (an error there is O(|a b|), not O(eps))
// and loose enough never to flake on reordering.

import XCTest
@testable import HRMTensor

final class GEMMTests: XCTestCase {
  /// A deterministic pseudo-random generator (SplitMix64) for test data.
  struct Gen {
    var state: UInt64
    mutating func next() -> Float {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      z ^= z >> 31
      return Float(z >> 40) / Float(1 << 24) * 2 - 1  // uniform in [-1, 1)
    }
    mutating func array(_ n: Int) -> [Float] { (0..<n).map { _ in next() } }
  }

  /// One sgemm case: fills A, B, C (C with NaN when beta == 0), runs fast and naive, and
  /// compares with the error bound described at the top of the file. Also checks that the
  /// padding outside the m x n window of C is untouched.
  func check(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
             alpha: Float = 1, beta: Float = 0, pad: Int = 0, threads: Int? = nil,
             blocking: CPUGEMM.Blocking? = nil, seed: UInt64 = 1,
             file: StaticString = #filePath, line: UInt = #line) {
    var g = Gen(state: seed &+ UInt64(m * 1_000_003 + n * 1009 + k))
    let lda = (transA ? m : k) + pad
    let ldb = (transB ? k : n) + pad
    let ldc = n + pad
    let aRows = transA ? k : m, bRows = transB ? n : k
    let a = g.array(max(1, aRows * lda))
    let b = g.array(max(1, bRows * ldb))
    var c0 = g.array(max(1, m * ldc))
    if beta == 0 {
      // Inside the window: NaN, which beta == 0 must ignore. Padding: a sentinel.
      for i in 0..<m { for j in 0..<ldc { c0[i * ldc + j] = j < n ? .nan : 7.5 } }
    }
    var fast = c0, ref = c0
    a.withUnsafeBufferPointer { pa in
      b.withUnsafeBufferPointer { pb in
        fast.withUnsafeMutableBufferPointer { pc in
          if let blk = blocking {
            CPUGEMM.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                          a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb, beta: beta,
                          c: pc.baseAddress!, ldc: ldc, threads: threads ?? 2, blocking: blk)
          } else if let t = threads {
            CPUGEMM.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                          a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb, beta: beta,
                          c: pc.baseAddress!, ldc: ldc, threads: t)
          } else {
            CPUGEMM.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                          a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb, beta: beta,
                          c: pc.baseAddress!, ldc: ldc)
          }
        }
        ref.withUnsafeMutableBufferPointer { pc in
          CPUGEMM.naive(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                        a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb, beta: beta,
                        c: pc.baseAddress!, ldc: ldc)
        }
      }
    }
    let eps: Float = 1.0 / Float(1 << 24)
    var bad = 0
    for i in 0..<m {
      for j in 0..<ldc {
        let got = fast[i * ldc + j], want = ref[i * ldc + j]
        if j >= n {
          if got.bitPattern != c0[i * ldc + j].bitPattern { bad += 1 }
          continue
        }
        var mag: Float = 0
        for p in 0..<k {
          let av = transA ? a[p * lda + i] : a[i * lda + p]
          let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
          mag += abs(av * bv)
        }
        let old = beta == 0 ? 0 : abs(beta * c0[i * ldc + j])
        let tol = 4 * Float(k + 2) * eps * (abs(alpha) * mag + old) + 1e-30
        if !(abs(got - want) <= tol) {
          if bad < 3 {
            XCTFail("tA=\(transA) tB=\(transB) m=\(m) n=\(n) k=\(k) alpha=\(alpha) beta=\(beta) "
                    + "pad=\(pad) at (\(i),\(j)): got \(got), want \(want), tol \(tol)",
                    file: file, line: line)
          }
          bad += 1
        }
      }
    }
    XCTAssertEqual(bad, 0, "mismatches (tA=\(transA) tB=\(transB) m=\(m) n=\(n) k=\(k))",
                   file: file, line: line)
  }

  let transposes: [(Bool, Bool)] = [(false, false), (false, true), (true, false), (true, true)]

  func testAwkwardSizesAllTransposes() {
    let sizes = [1, 7, 13, 31, 33, 65]
    for (ta, tb) in transposes {
      for m in sizes {
        for n in [1, 16, 17, 33] {
          check(ta, tb, m, n, 13 + m % 5)
        }
        check(ta, tb, m, 31, 97)
      }
    }
  }

  func testLargerEdgesCrossBlocks() {
    // With the standard blocking: crosses the K block (512), the M block (96) and edge
    // tiles in both directions.
    for (ta, tb) in transposes {
      check(ta, tb, 100, 35, 530)
      check(ta, tb, 13, 130, 257)
    }
    check(false, true, 97, 97, 520, threads: 2)
  }

  /// Tiny blocks: several N panels (the B panel budget forces NC = 32), K blocks of 8, M
  /// blocks of 12, threaded from the first multiply-add, work split across column chunks.
  static let tiny = CPUGEMM.Blocking(kc: 8, mc: 12, nc: 48, panelFloats: 32 * 30,
                                     minParallelWork: 0, minParallelPack: 0)

  func testEveryLoopWithTinyBlocks() {
    for (ta, tb) in transposes {
      check(ta, tb, 31, 97, 29, blocking: Self.tiny)
      check(ta, tb, 7, 65, 13, alpha: 0.5, beta: 2, pad: 3, threads: 3, blocking: Self.tiny)
      check(ta, tb, 65, 16, 30, alpha: -1, beta: 1, threads: 2, blocking: Self.tiny)
      check(ta, tb, 1, 33, 7, threads: 4, blocking: Self.tiny)
    }
  }

  func testAlphaBetaCombos() {
    for (alpha, beta) in [(Float(1), Float(0)), (1, 1), (0.5, 0), (2, -0.75), (-1, 1), (0.25, 3)] {
      for (ta, tb) in transposes {
        check(ta, tb, 19, 35, 40, alpha: alpha, beta: beta)
      }
      check(false, false, 70, 40, 270, alpha: alpha, beta: beta)
    }
  }

  func testLeadingDimensionsAndThreads() {
    for (ta, tb) in transposes {
      check(ta, tb, 33, 47, 29, alpha: 1.5, beta: 0, pad: 5)
      check(ta, tb, 65, 18, 300, alpha: 1, beta: 0.5, pad: 3, threads: 2)
      check(ta, tb, 7, 130, 300, alpha: 1, beta: 0, pad: 1, threads: 3)
      check(ta, tb, 130, 40, 70, beta: 0, threads: 1)
    }
  }

  func testZeroSizesAndAlphaZero() {
    // k == 0: C = beta * C; with beta == 0, NaN in C becomes 0.
    var c: [Float] = [.nan, 2, 3, .nan]
    let a: [Float] = [1], b: [Float] = [1]
    CPUGEMM.sgemm(transA: false, transB: false, m: 2, n: 2, k: 0, alpha: 1, a: a, lda: 1, b: b,
                  ldb: 2, beta: 0, c: &c, ldc: 2)
    XCTAssertEqual(c, [0, 0, 0, 0])
    c = [1, 2, 3, 4]
    CPUGEMM.sgemm(transA: false, transB: false, m: 2, n: 2, k: 1, alpha: 0, a: [5, 5], lda: 1,
                  b: [5, 5], ldb: 2, beta: 2, c: &c, ldc: 2)
    XCTAssertEqual(c, [2, 4, 6, 8])
    // m == 0 / n == 0: nothing happens.
    CPUGEMM.sgemm(transA: false, transB: false, m: 0, n: 2, k: 1, alpha: 1, a: a, lda: 1, b: b,
                  ldb: 2, beta: 0, c: &c, ldc: 2)
    XCTAssertEqual(c, [2, 4, 6, 8])
  }

  func testDeterministicAcrossRunsAndThreadCounts() {
    /// C's bit patterns for each thread count must equal the first run's.
    func assertSameBits(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, seed: UInt64, blocking: CPUGEMM.Blocking,
                        threads: [Int], _ what: String) {
      var g = Gen(state: seed)
      let a = g.array(m * k), b = g.array(n * k)
      func run(_ t: Int) -> [UInt32] {
        var c = [Float](repeating: 0, count: m * n)
        CPUGEMM.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, a: a, lda: transA ? m : k, b: b,
                      ldb: transB ? k : n, beta: 0, c: &c, ldc: n, threads: t, blocking: blocking)
        return c.map(\.bitPattern)
      }
      let first = run(threads[0])
      for t in threads { XCTAssertEqual(first, run(t), "\(what), \(t) threads") }
    }
    // Tiny blocks give many work items, so the threads really interleave.
    assertSameBits(m: 61, n: 50, k: 40, transA: true, transB: false, seed: 7, blocking: Self.tiny,
                   threads: [2, 2, 2, 1, 3, 4], "tiny blocks")
    // Large enough to take the threaded path; results must be bitwise equal run to run and
    // for every thread count (no thread ever reorders another's sums).
    assertSameBits(m: 100, n: 72, k: 300, transA: false, transB: true, seed: 42, blocking: .standard,
                   threads: [2, 2, 1, 3, CPUParallel.threadCount], "standard blocks")
  }

  /// The worker team behind sgemm's threads: every index runs exactly once per call, back to
  /// back calls and calls after the pool threads have parked work, and a nested call (team
  /// busy) falls back to running on the caller.
  func testTeamRunsEveryIndexOnce() {
    final class Counts: @unchecked Sendable {
      let lock = NSLock()
      var hits = [Int](repeating: 0, count: 8)
      func hit(_ i: Int) { lock.lock(); hits[i] += 1; lock.unlock() }
    }
    let counts = Counts()
    for round in 0..<200 {
      let workers = 1 + round % 4
      CPUParallel.team(workers) { i in counts.hit(i) }
      if round == 100 { usleep(300_000) }  // let the pool threads park
    }
    // round % 4 == 0 -> 1 worker, ... ; each index i ran once per round with workers > i.
    XCTAssertEqual(counts.hits[0], 200)
    XCTAssertEqual(counts.hits[1], 150)
    XCTAssertEqual(counts.hits[2], 100)
    XCTAssertEqual(counts.hits[3], 50)
    let nested = Counts()
    CPUParallel.team(2) { i in
      CPUParallel.team(3) { j in nested.hit(i * 3 + j) }
    }
    XCTAssertEqual(nested.hits[0..<6].reduce(0, +), 6)
    XCTAssertEqual(nested.hits.filter { $0 > 1 }.count, 0)
  }
}
