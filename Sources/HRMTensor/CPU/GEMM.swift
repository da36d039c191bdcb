// GEMM.swift: single-precision matrix multiply (SGEMM) for the CPU backend, in pure Swift.
//
// Design (Goto/BLIS-style blocking; docs/perf-cpu.md has the measurements behind each choice):
//
//   for jc in N by NC:                          one B panel [K x NC], packed once, shared
//     phase 1 (threads take sliver groups):  pack op(B)[:, jc..] as KC-blocks of NR-wide
//                                             column slivers
//     phase 2 (threads take items in turn):  item = MC rows x a run of slivers of C
//       for pc in K by KC:
//         pack op(A)[ic.., pc..] into MR-tall row slivers   (MC x KC block, stays in L2)
//         for jr in slivers of the item:                     (KC x NR sliver of B)
//           for ir in MC by MR:
//             micro-kernel: C[6 x 16 tile] (+)= A sliver x B sliver
//
// The micro-kernel keeps a 6x16 tile of C in twelve SIMD8<Float> accumulators (12 of the 16
// ymm registers); per k step it loads two 8-wide vectors of B, broadcasts six elements of A
// and issues 12 vfmadd231ps. Packing handles the four transpose combinations (transposing
// 8x8 pieces in registers where the source is the wrong way round) and zero-pads ragged
// slivers, so the kernel never sees a transpose or an edge; edge tiles are computed into a
// small scratch tile and copied out with the same arithmetic.
//
// Determinism: every element of C is written by exactly one item, and its value depends only
// on K (the KC split, then sequential FMAs in k order) — not on which thread ran the item or
// how M and N were cut. So the result is bit-identical for any thread count or schedule, and
// items can be handed out dynamically (a thread slowed down by another process simply takes
// fewer of them). The threads are CPUParallel.team's persistent pool, which starts a
// parallel section in microseconds where DispatchQueue.concurrentPerform took 30-90 µs.

import Foundation

public enum CPUGEMM {
  /// Rows of the register tile.
  static let mr = 6
  /// Columns of the register tile (two SIMD8 vectors).
  static let nr = 16

  /// Cache blocking and threading thresholds (the defaults were measured on Zen 4, see
  /// docs/perf-cpu.md; tests shrink them to reach every loop with small matrices).
  struct Blocking: Sendable {
    /// Largest K block. 512 measured best: one block for HRM's K = 512 layers (C written
    /// once), and the 6 x KC A sliver (12 KiB) plus 16 x KC B sliver (32 KiB) stream from L2.
    var kc: Int
    /// Largest M block (multiple of mr): the MC x KC packed A block (192 KiB) lives in L2.
    var mc: Int
    /// Largest N panel (multiple of nr).
    var nc: Int
    /// Budget in floats for the packed B panel, which spans all of K (8 MiB: L3 is 32 MiB).
    var panelFloats: Int
    /// Problems with fewer multiply-adds than this run on the calling thread only.
    var minParallelWork: Int
    /// B panels with fewer floats than this are packed by the calling thread alone.
    var minParallelPack: Int

    /// The measured defaults.
    static let standard = Blocking(kc: 512, mc: 96, nc: 4096, panelFloats: 1 << 21,
                                   minParallelWork: 1 << 18, minParallelPack: 1 << 16)
  }

  // MARK: - Public entry points

  /// C = alpha * op(A) * op(B) + beta * C, row-major with leading dimensions.
  /// op(A) is [m, k]: A is [m, k] (lda >= k) or, when transA, [k, m] (lda >= m).
  /// op(B) is [k, n]: B is [k, n] (ldb >= n) or, when transB, [n, k] (ldb >= k).
  /// beta == 0 ignores C's old contents.
  ///
  /// Runs on `CPUParallel.threadCount` threads; the result is bit-identical for any count.
  public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
          b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, threads: CPUParallel.threadCount)
  }

  /// Same as `sgemm(transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)` with an explicit
  /// thread count (the benchmark uses it). The result is bit-identical for every `threads`.
  public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) {
    sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
          b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, threads: threads, blocking: .standard)
  }

  /// The implementation, with explicit blocking (tests pass tiny blocks).
  static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int,
                    blocking: Blocking) {
    precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative size")
    if m == 0 || n == 0 { return }
    precondition(ldc >= n, "sgemm: ldc < n")
    if k == 0 || alpha == 0 {
      scaleC(m: m, n: n, beta: beta, c: c, ldc: ldc)
      return
    }
    precondition(lda >= (transA ? m : k), "sgemm: lda too small")
    precondition(ldb >= (transB ? k : n), "sgemm: ldb too small")

    let work = m.multipliedReportingOverflow(by: n)
    let small = !work.overflow && work.partialValue < blocking.minParallelWork / k
    // No more threads than 6x16 tiles (each thread also gets its own packing buffer).
    let tiles = ((m + mr - 1) / mr).multipliedReportingOverflow(by: (n + nr - 1) / nr)
    let workers = small ? 1 : min(max(1, threads), tiles.overflow ? Int.max : tiles.partialValue)
    let d = Driver(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                   b: b, ldb: ldb, beta: beta, c: c, ldc: ldc,
                   threads: workers, blocking: blocking)
    d.run()
  }

  /// Reference implementation (the oracle for the fast path).
  public static func naive(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    for i in 0..<m {
      for j in 0..<n {
        var acc: Float = 0
        for p in 0..<k {
          let av = transA ? a[p * lda + i] : a[i * lda + p]
          let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
          acc += av * bv
        }
        let old = beta == 0 ? 0 : beta * c[i * ldc + j]
        c[i * ldc + j] = alpha * acc + old
      }
    }
  }

  // MARK: - Helpers

  /// C = beta * C (zeros when beta == 0), for k == 0 or alpha == 0.
  static func scaleC(m: Int, n: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if beta == 1 { return }
    for i in 0..<m {
      let row = c + i * ldc
      if beta == 0 {
        row.update(repeating: 0, count: n)
      } else {
        for j in 0..<n { row[j] = beta * row[j] }
      }
    }
  }

  /// Splits `total` into `ceil(total / maxBlock)` nearly equal blocks, each rounded up to a
  /// multiple of `multiple`; returns the block size.
  @inline(__always)
  static func blockSize(_ total: Int, max maxBlock: Int, multiple: Int) -> Int {
    let count = (total + maxBlock - 1) / maxBlock
    let even = (total + count - 1) / count
    return min(maxBlock, (even + multiple - 1) / multiple * multiple)
  }

  /// One multiply: operands, blocking and the two-phase threaded loop.
  struct Driver: @unchecked Sendable {
    let transA: Bool, transB: Bool
    let m: Int, n: Int, k: Int
    let alpha: Float
    let a: UnsafePointer<Float>, lda: Int
    let b: UnsafePointer<Float>, ldb: Int
    let beta: Float
    let c: UnsafeMutablePointer<Float>, ldc: Int
    let threads: Int
    let blocking: Blocking

    func run() {
      let kcB = blockSize(k, max: blocking.kc, multiple: 1)
      // Row blocks: whole 6-row tiles, at most blocking.mc rows, block sizes differing by at
      // most one tile, and (with threads) a multiple of the thread count, so the items
      // divide evenly. At least 2 per thread; 8 when B is small (under 1 MiB, so re-reading
      // it per item is cheap), which shortens the wait for the last item on small problems.
      let mTiles = (m + mr - 1) / mr
      var rowBlocks = (mTiles + blocking.mc / mr - 1) / (blocking.mc / mr)
      if threads > 1 {
        let perThread = k * n < 1 << 18 ? 8 : 2
        rowBlocks = (max(rowBlocks, perThread * threads) + threads - 1) / threads * threads
        rowBlocks = min(rowBlocks, mTiles)
      }
      let mcB = (mTiles + rowBlocks - 1) / rowBlocks * mr
      // The packed B panel holds all of K, so cap its width to keep it in L3.
      let ncCap = max(nr, min(blocking.nc, blocking.panelFloats / k / nr * nr))
      let ncB = blockSize(n, max: ncCap, multiple: nr)
      let bFloats = k * ncB
      let perWorker = mcB * kcB + mr * nr  // packed A block + edge tile
      let scratch = ScratchPool.take(floats: bFloats + threads * perWorker)
      defer { ScratchPool.give(scratch) }
      let bp = scratch.base

      var jc = 0
      while jc < n {
        let nc = min(ncB, n - jc)
        let slivers = (nc + nr - 1) / nr

        // Phase 1: pack op(B)[:, jc..<jc+nc] for every K block, in groups of slivers taken
        // in turn by the threads (each sliver is written by exactly one thread).
        let groupSlivers = 4
        let groups = (slivers + groupSlivers - 1) / groupSlivers
        let packers = k * nc >= blocking.minParallelPack ? min(threads, groups) : 1
        let packQueue = WorkCounter(count: groups)
        forEachWorker(packers) { _ in
          while let g = packQueue.next() {
            let s0 = g * groupSlivers
            let s1 = min(slivers, s0 + groupSlivers)
            var pc = 0
            while pc < k {
              let kc = min(kcB, k - pc)
              packB(transB: transB, b: b, ldb: ldb, k0: pc, kc: kc, j0: jc + s0 * nr,
                    nc: min(nc, s1 * nr) - s0 * nr, into: bp + pc * ncB + s0 * nr * kc)
              pc += kc
            }
          }
        }

        // Phase 2: work items are (MC row block, column chunk) pairs, handed out in order to
        // whichever thread is free. Each item owns its C elements and runs the whole K loop,
        // so the arithmetic of every element is the same whichever thread does it.
        // Too few row blocks to go round (short M): also cut the slivers into chunks.
        var chunks = 1
        if threads > 1 && rowBlocks < 2 * threads {
          chunks = min(slivers, (2 * threads + rowBlocks - 1) / rowBlocks)
        }
        let items = rowBlocks * chunks
        let queue = WorkCounter(count: items)
        forEachWorker(min(threads, items)) { w in
          let ap = bp + bFloats + w * perWorker
          let tile = ap + mcB * kcB
          while let item = queue.next() {
            let rb = item / chunks, ch = item % chunks
            let ic = rb * mTiles / rowBlocks * mr
            let mc = min(m, (rb + 1) * mTiles / rowBlocks * mr) - ic
            let s0 = ch * slivers / chunks
            let s1 = (ch + 1) * slivers / chunks
            var pc = 0
            while pc < k {
              let kc = min(kcB, k - pc)
              let betaHere: Float = pc == 0 ? beta : 1
              packA(transA: transA, a: a, lda: lda, i0: ic, mc: mc, k0: pc, kc: kc, into: ap)
              let bBlock = bp + pc * ncB
              for s in s0..<s1 {
                let jr = s * nr
                let nn = min(nr, nc - jr)
                let bSliver = UnsafeRawPointer(bBlock + jr * kc)
                let cCol = c + ic * ldc + jc + jr
                var ir = 0
                while ir < mc {
                  let mm = min(mr, mc - ir)
                  let aSliver = UnsafePointer(ap + ir * kc)
                  let cTile = cCol + ir * ldc
                  if mm == mr && nn == nr {
                    CPUGEMM.kernel6x16(kc: kc, a: aSliver, b: bSliver, c: cTile, ldc: ldc,
                                       alpha: alpha, beta: betaHere)
                  } else {
                    CPUGEMM.kernel6x16(kc: kc, a: aSliver, b: bSliver, c: tile, ldc: nr, alpha: 1, beta: 0)
                    CPUGEMM.storeEdge(tile: tile, rows: mm, cols: nn, c: cTile, ldc: ldc,
                                      alpha: alpha, beta: betaHere)
                  }
                  ir += mr
                }
              }
              pc += kc
            }
          }
        }
        jc += nc
      }
    }
  }

  /// Runs body(0..<workers) concurrently (on the calling thread alone when workers == 1).
  @inline(__always)
  static func forEachWorker(_ workers: Int, _ body: (Int) -> Void) {
    CPUParallel.team(workers, body)
  }

  // MARK: - Packing

  /// Packs op(A)[i0..<i0+mc, k0..<k0+kc] into slivers of mr rows: sliver s holds
  /// dst[s*mr*kc + p*mr + r] = op(A)[i0 + s*mr + r, k0 + p], zero past row mc.
  static func packA(transA: Bool, a: UnsafePointer<Float>, lda: Int, i0: Int, mc: Int,
                    k0: Int, kc: Int, into dst: UnsafeMutablePointer<Float>) {
    let full = mc / mr
    if !transA {
      // A row-major [m, k]: each sliver is a 6 x kc strip of rows; transpose 6x8 pieces.
      for s in 0..<full {
        packRowsTransposed(a + (i0 + s * mr) * lda + k0, ld: lda, rows: mr, kc: kc,
                           into: dst + s * mr * kc)
      }
    } else {
      // A stored [k, m]: for each p the sliver's 6 values are contiguous in row p. Walk four
      // slivers (24 floats, 1.5 cache lines) per row of A so every line fetched is used up.
      let ld = lda * 4
      let step = mr * kc * 4
      var s = 0
      while s + 4 <= full {
        var src = UnsafeRawPointer(a + k0 * lda + i0 + s * mr)
        var o = UnsafeMutableRawPointer(dst + s * mr * kc)
        for _ in 0..<kc {
          copy6(src, o)
          copy6(src + 24, o + step)
          copy6(src + 48, o + 2 * step)
          copy6(src + 72, o + 3 * step)
          o += mr * 4
          src += ld
        }
        s += 4
      }
      while s < full {
        var src = UnsafeRawPointer(a + k0 * lda + i0 + s * mr)
        var o = UnsafeMutableRawPointer(dst + s * mr * kc)
        for _ in 0..<kc {
          copy6(src, o)
          o += mr * 4
          src += ld
        }
        s += 1
      }
    }
    packTail(a, ld: lda, kMajor: transA, k0: k0, kc: kc, first: i0 + full * mr, count: mc - full * mr, width: mr,
             into: dst + full * mr * kc)
  }

  /// The ragged last sliver of a panel (scalar copy, zero padding): out[p * width + r] =
  /// X[k0 + p, first + r] for r < count, 0 for count <= r < width, where X is stored k-major
  /// (x[k * ld + i]) or index-major (x[i * ld + k]). Nothing when count is 0.
  static func packTail(_ x: UnsafePointer<Float>, ld: Int, kMajor: Bool, k0: Int, kc: Int, first: Int, count: Int,
                       width: Int, into out: UnsafeMutablePointer<Float>) {
    guard count > 0 else { return }
    for p in 0..<kc {
      for r in 0..<width {
        let i = first + r
        out[p * width + r] = r < count ? (kMajor ? x[(k0 + p) * ld + i] : x[i * ld + k0 + p]) : 0
      }
    }
  }

  /// Packs op(B)[k0..<k0+kc, j0..<j0+nc] into slivers of nr columns: sliver s holds
  /// dst[s*nr*kc + p*nr + c] = op(B)[k0 + p, j0 + s*nr + c], zero past column nc.
  static func packB(transB: Bool, b: UnsafePointer<Float>, ldb: Int, k0: Int, kc: Int,
                    j0: Int, nc: Int, into dst: UnsafeMutablePointer<Float>) {
    let full = nc / nr
    for s in 0..<full {
      let out = dst + s * nr * kc
      if !transB {
        // B row-major [k, n]: each k row of the sliver is 16 contiguous floats.
        var src = UnsafeRawPointer(b + k0 * ldb + j0 + s * nr)
        var o = UnsafeMutableRawPointer(out)
        for _ in 0..<kc {
          o.storeBytes(of: src.loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
          o.storeBytes(of: src.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self),
                       toByteOffset: 32, as: SIMD8<Float>.self)
          o += nr * 4
          src += ldb * 4
        }
      } else {
        // B stored [n, k] (y = x Wᵀ): transpose two 8-row strips in 8x8 pieces.
        for half in 0..<2 {
          packRowsTransposed(b + (j0 + s * nr + half * 8) * ldb + k0, ld: ldb, rows: 8, kc: kc,
                             into: out + half * 8, outStride: nr)
        }
      }
    }
    packTail(b, ld: ldb, kMajor: !transB, k0: k0, kc: kc, first: j0 + full * nr, count: nc - full * nr, width: nr,
             into: dst + full * nr * kc)
  }

  /// Transposes a strip of `rows` (6 or 8) rows x kc columns, src[r * ld + p], into
  /// out[p * outStride + r] (outStride defaults to rows), eight columns at a time.
  @inline(__always)
  static func packRowsTransposed(_ src: UnsafePointer<Float>, ld: Int, rows: Int, kc: Int,
                                 into out: UnsafeMutablePointer<Float>, outStride: Int? = nil) {
    let os = outStride ?? rows
    let raw = UnsafeRawPointer(src)
    let ldBytes = ld * 4
    var p = 0
    while p + 8 <= kc {
      let q = raw + p * 4
      let z = SIMD8<Float>()
      var t = (q.loadUnaligned(as: SIMD8<Float>.self),
               q.loadUnaligned(fromByteOffset: ldBytes, as: SIMD8<Float>.self),
               q.loadUnaligned(fromByteOffset: 2 * ldBytes, as: SIMD8<Float>.self),
               q.loadUnaligned(fromByteOffset: 3 * ldBytes, as: SIMD8<Float>.self),
               q.loadUnaligned(fromByteOffset: 4 * ldBytes, as: SIMD8<Float>.self),
               q.loadUnaligned(fromByteOffset: 5 * ldBytes, as: SIMD8<Float>.self),
               rows == 8 ? q.loadUnaligned(fromByteOffset: 6 * ldBytes, as: SIMD8<Float>.self) : z,
               rows == 8 ? q.loadUnaligned(fromByteOffset: 7 * ldBytes, as: SIMD8<Float>.self) : z)
      transpose8x8(&t)
      let o = UnsafeMutableRawPointer(out + p * os)
      let ob = os * 4
      if rows == 8 {
        o.storeBytes(of: t.0, as: SIMD8<Float>.self)
        o.storeBytes(of: t.1, toByteOffset: ob, as: SIMD8<Float>.self)
        o.storeBytes(of: t.2, toByteOffset: 2 * ob, as: SIMD8<Float>.self)
        o.storeBytes(of: t.3, toByteOffset: 3 * ob, as: SIMD8<Float>.self)
        o.storeBytes(of: t.4, toByteOffset: 4 * ob, as: SIMD8<Float>.self)
        o.storeBytes(of: t.5, toByteOffset: 5 * ob, as: SIMD8<Float>.self)
        o.storeBytes(of: t.6, toByteOffset: 6 * ob, as: SIMD8<Float>.self)
        o.storeBytes(of: t.7, toByteOffset: 7 * ob, as: SIMD8<Float>.self)
      } else {
        store6(t.0, o)
        store6(t.1, o + ob)
        store6(t.2, o + 2 * ob)
        store6(t.3, o + 3 * ob)
        store6(t.4, o + 4 * ob)
        store6(t.5, o + 5 * ob)
        store6(t.6, o + 6 * ob)
        store6(t.7, o + 7 * ob)
      }
      p += 8
    }
    while p < kc {
      for r in 0..<rows { out[p * os + r] = src[r * ld + p] }
      p += 1
    }
  }

  /// Eight SIMD8 rows.
  typealias Rows8 = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>,
                     SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

  /// In-register 8x8 transpose. Seen as one 64-element array indexed (row << 3 | col), an
  /// even/odd unshuffle rotates the 6-bit index right by one; three of them swap row and
  /// column. Each unshuffle step is 8 vshufps + 8 vpermpd.
  @inline(__always)
  static func transpose8x8(_ r: inout Rows8) {
    for _ in 0..<3 {
      let p0 = SIMD16(lowHalf: r.0, highHalf: r.1), p1 = SIMD16(lowHalf: r.2, highHalf: r.3)
      let p2 = SIMD16(lowHalf: r.4, highHalf: r.5), p3 = SIMD16(lowHalf: r.6, highHalf: r.7)
      r = (p0.evenHalf, p1.evenHalf, p2.evenHalf, p3.evenHalf,
           p0.oddHalf, p1.oddHalf, p2.oddHalf, p3.oddHalf)
    }
  }

  /// Stores the first six lanes of v at o.
  @inline(__always)
  static func store6(_ v: SIMD8<Float>, _ o: UnsafeMutableRawPointer) {
    o.storeBytes(of: v.lowHalf, as: SIMD4<Float>.self)
    o.storeBytes(of: v.highHalf.lowHalf, toByteOffset: 16, as: SIMD2<Float>.self)
  }

  /// Copies six floats.
  @inline(__always)
  static func copy6(_ src: UnsafeRawPointer, _ o: UnsafeMutableRawPointer) {
    o.storeBytes(of: src.loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
    o.storeBytes(of: src.loadUnaligned(fromByteOffset: 16, as: SIMD2<Float>.self),
                 toByteOffset: 16, as: SIMD2<Float>.self)
  }

  // MARK: - Micro-kernel

  /// C[0..<6, 0..<16] = alpha * (Ap sliver x Bp sliver) + beta * C (beta == 0: C not read).
  /// `a` is a packed 6-row sliver ([kc][6]), `b` a packed 16-column sliver ([kc][16],
  /// 64-byte aligned).
  @inline(never)
  static func kernel6x16(kc: Int, a: UnsafePointer<Float>, b: UnsafeRawPointer,
                         c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float) {
    var c00 = SIMD8<Float>(), c01 = SIMD8<Float>()
    var c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
    var c20 = SIMD8<Float>(), c21 = SIMD8<Float>()
    var c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
    var c40 = SIMD8<Float>(), c41 = SIMD8<Float>()
    var c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
    var pa = a
    var pb = b
    for _ in 0..<kc {
      let b0 = pb.load(as: SIMD8<Float>.self)
      let b1 = pb.load(fromByteOffset: 32, as: SIMD8<Float>.self)
      var x = SIMD8<Float>(repeating: pa[0])
      c00.addProduct(x, b0); c01.addProduct(x, b1)
      x = SIMD8<Float>(repeating: pa[1])
      c10.addProduct(x, b0); c11.addProduct(x, b1)
      x = SIMD8<Float>(repeating: pa[2])
      c20.addProduct(x, b0); c21.addProduct(x, b1)
      x = SIMD8<Float>(repeating: pa[3])
      c30.addProduct(x, b0); c31.addProduct(x, b1)
      x = SIMD8<Float>(repeating: pa[4])
      c40.addProduct(x, b0); c41.addProduct(x, b1)
      x = SIMD8<Float>(repeating: pa[5])
      c50.addProduct(x, b0); c51.addProduct(x, b1)
      pa += mr
      pb += nr * 4
    }
    let va = SIMD8<Float>(repeating: alpha)
    if beta == 0 {
      store(c, c00 * va, c01 * va)
      store(c + ldc, c10 * va, c11 * va)
      store(c + 2 * ldc, c20 * va, c21 * va)
      store(c + 3 * ldc, c30 * va, c31 * va)
      store(c + 4 * ldc, c40 * va, c41 * va)
      store(c + 5 * ldc, c50 * va, c51 * va)
    } else {
      let vb = SIMD8<Float>(repeating: beta)
      update(c, c00, c01, va, vb)
      update(c + ldc, c10, c11, va, vb)
      update(c + 2 * ldc, c20, c21, va, vb)
      update(c + 3 * ldc, c30, c31, va, vb)
      update(c + 4 * ldc, c40, c41, va, vb)
      update(c + 5 * ldc, c50, c51, va, vb)
    }
  }

  /// Stores 16 floats at c.
  @inline(__always)
  static func store(_ c: UnsafeMutablePointer<Float>, _ lo: SIMD8<Float>, _ hi: SIMD8<Float>) {
    let raw = UnsafeMutableRawPointer(c)
    raw.storeBytes(of: lo, as: SIMD8<Float>.self)
    raw.storeBytes(of: hi, toByteOffset: 32, as: SIMD8<Float>.self)
  }

  /// c[0..<16] = fma(alpha, acc, beta * c) — the same rounding as `storeEdge`.
  @inline(__always)
  static func update(_ c: UnsafeMutablePointer<Float>, _ lo: SIMD8<Float>, _ hi: SIMD8<Float>,
                     _ va: SIMD8<Float>, _ vb: SIMD8<Float>) {
    let raw = UnsafeMutableRawPointer(c)
    var o0 = raw.loadUnaligned(as: SIMD8<Float>.self) * vb
    var o1 = raw.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self) * vb
    o0.addProduct(va, lo)
    o1.addProduct(va, hi)
    raw.storeBytes(of: o0, as: SIMD8<Float>.self)
    raw.storeBytes(of: o1, toByteOffset: 32, as: SIMD8<Float>.self)
  }

  /// Copies the valid rows x cols corner of a 6x16 scratch tile into C with the same
  /// arithmetic as the full-tile kernel store.
  static func storeEdge(tile: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
                        c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float) {
    for r in 0..<rows {
      let src = tile + r * nr
      let dst = c + r * ldc
      if beta == 0 {
        for j in 0..<cols { dst[j] = alpha * src[j] }
      } else {
        for j in 0..<cols { dst[j] = (beta * dst[j]).addingProduct(alpha, src[j]) }
      }
    }
  }
}

// MARK: - Scratch memory and work distribution

/// Hands out item indices 0, 1, 2, ... to whichever thread asks first. Which thread computes
/// an item never changes its result, so this keeps sgemm deterministic while letting a
/// thread that is not slowed down by other processes take more of the work.
final class WorkCounter: @unchecked Sendable {
  private let lock = NSLock()
  private var nextItem = 0
  private let count: Int

  init(count: Int) { self.count = count }

  /// The next unclaimed item, or nil when all are taken.
  func next() -> Int? {
    lock.lock()
    defer { lock.unlock() }
    if nextItem >= count { return nil }
    nextItem += 1
    return nextItem - 1
  }
}

/// A 64-byte aligned float buffer reused across calls (packing buffers are a few MiB;
/// allocating them per call would cost page faults on every multiply).
final class GEMMScratch: @unchecked Sendable {
  let base: UnsafeMutablePointer<Float>
  let floats: Int

  init(floats: Int) {
    self.floats = floats
    base = UnsafeMutableRawPointer.allocate(byteCount: floats * 4, alignment: 64)
      .bindMemory(to: Float.self, capacity: floats)
  }

  deinit { base.deallocate() }
}

/// Lock-protected free list of scratch buffers, so concurrent sgemm calls never share one.
enum ScratchPool {
  private static let lock = NSLock()
  nonisolated(unsafe) private static var free: [GEMMScratch] = []
  /// Free buffers kept for reuse; more are released.
  private static let keep = 8

  /// A buffer of at least `floats` floats (reused when one is free and big enough).
  static func take(floats: Int) -> GEMMScratch {
    lock.lock()
    if let i = free.firstIndex(where: { $0.floats >= floats }) {
      let s = free.remove(at: i)
      lock.unlock()
      return s
    }
    lock.unlock()
    return GEMMScratch(floats: floats)
  }

  /// Returns a buffer to the pool.
  static func give(_ s: GEMMScratch) {
    lock.lock()
    defer { lock.unlock() }
    free.append(s)
    if free.count > keep {
      // Drop the smallest so large problems keep their buffers.
      if let i = free.indices.min(by: { free[$0].floats < free[$1].floats }) { free.remove(at: i) }
    }
  }
}
