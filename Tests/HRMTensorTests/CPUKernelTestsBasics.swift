// CPUKernelTestsBasics.swift: CPU backend memory, data movement, elementwise ops, gemm, bias,
// column sums and embeddings against Double references (offsets and guards checked).

import XCTest
import HRMSupport
import HRMTensor

final class CPUKernelTestsBasics: XCTestCase {
  let cpu = KT.cpu

  // MARK: - Memory

  func testAllocationIsAlignedAndRoundTrips() throws {
    XCTAssertEqual(cpu.name, "cpu")
    for bytes in [0, 1, 3, 64, 1000, 4097] {
      let b = try cpu.allocate(byteCount: bytes)
      XCTAssertEqual(b.address % 64, 0, "\(bytes)-byte allocation is not 64-byte aligned")
      XCTAssertNotEqual(b.address, 0)
      XCTAssertEqual(b.byteCount, bytes)
      if bytes >= 8 {
        let src: [UInt8] = (0..<bytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        src.withUnsafeBytes { cpu.upload($0.baseAddress!, byteCount: bytes, to: b, offset: 0) }
        var back = [UInt8](repeating: 0, count: bytes - 3)
        back.withUnsafeMutableBytes { cpu.download(b, offset: 3, byteCount: bytes - 3, to: $0.baseAddress!) }
        XCTAssertEqual(back, Array(src[3...]))
      }
    }
    cpu.synchronize()
    XCTAssertTrue(CPUBackend.shared === CPUBackend.shared)
  }

  // MARK: - Fill and copy

  func testFillEveryDtype() {
    for dtype in [DType.f32, .bf16, .i32] {
      let t = KT.guarded([3, 7], dtype)
      cpu.fill(t, value: dtype == .i32 ? -100 : 1.3)
      let want: Float = dtype == .i32 ? -100 : (dtype == .bf16 ? BF16.round(1.3) : 1.3)
      XCTAssertEqual(t.toArray(), [Float](repeating: want, count: 21), "\(dtype)")
      KT.assertGuards(t, "fill \(dtype)")
    }
  }

  func testCopyConvertsBetweenDtypes() {
    var rng = HRMRandom(seed: 1)
    let values = KT.normals(37, &rng, scale: 3) + [0, -0, .infinity, -.infinity, Float(bitPattern: 0x0001_2345)]
    let n = values.count
    let f = KT.tensor(values, [n])
    let h = KT.guarded([n], .bf16)
    cpu.copy(f, to: h)
    // f32 -> bf16 must be exactly BF16.fromFloat (round to nearest even).
    KT.assertBitEqual(h.toArray(), values.map(BF16.round), "f32 -> bf16")
    KT.assertGuards(h, "copy f32 -> bf16")
    let back = KT.guarded([n], .f32)
    cpu.copy(h, to: back)
    KT.assertBitEqual(back.toArray(), values.map(BF16.round), "bf16 -> f32 is exact")
    let same = KT.guarded([n], .f32)
    cpu.copy(f, to: same)
    KT.assertBitEqual(same.toArray(), values, "f32 -> f32")
    let ids = KT.ints([3, -100, 7, 2_000_000], [4])
    let ids2 = KT.guarded([2, 2], .i32)
    cpu.copy(ids, to: ids2)
    XCTAssertEqual(ids2.toInt32Array(), [3, -100, 7, 2_000_000])
    KT.assertGuards(ids2, "copy i32")
  }

  // MARK: - Elementwise

  func testAddScaledAndScaleIncludingAliasing() {
    var rng = HRMRandom(seed: 2)
    let n = 1000
    let a = KT.normals(n, &rng), b = KT.normals(n, &rng)
    let ref = (0..<n).map { 0.7 * Double(a[$0]) - 1.9 * Double(b[$0]) }
    // One f32 multiply-add of f32 inputs: a few ulps.
    let out = KT.guarded([n])
    cpu.addScaled(KT.tensor(a, [n]), alpha: 0.7, KT.tensor(b, [n]), beta: -1.9, out: out)
    KT.assertClose(out.toArray(), ref, atol: 1e-6, rtol: 1e-6, "addScaled")
    KT.assertGuards(out, "addScaled")
    let ta = KT.tensor(a, [n])
    cpu.addScaled(ta, alpha: 0.7, KT.tensor(b, [n]), beta: -1.9, out: ta)
    KT.assertClose(ta.toArray(), ref, atol: 1e-6, rtol: 1e-6, "addScaled in place")
    cpu.scale(ta, by: 2, out: ta)
    KT.assertClose(ta.toArray(), ref.map { 2 * $0 }, atol: 2e-6, rtol: 1e-6, "scale in place")
    // bf16 in place: the result is the f32 result rounded once to bf16.
    let ha = KT.tensor(a, [n], .bf16), hb = KT.tensor(b, [n], .bf16)
    cpu.addScaled(ha, alpha: 0.7, hb, beta: -1.9, out: hb)
    let ra = KT.bf16Rounded(a), rb = KT.bf16Rounded(b)
    KT.assertBitEqual(hb.toArray(), (0..<n).map { BF16.round(0.7 * ra[$0] + -1.9 * rb[$0]) }, "addScaled bf16 aliasing b")
    KT.assertGuards(hb, "addScaled bf16")
  }

  func testCopySequenceWindowsAndAccumulation() {
    var rng = HRMRandom(seed: 3)
    let (b, ts, td, d) = (3, 13, 9, 5)
    let src = KT.normals(b * ts * d, &rng), dst0 = KT.normals(b * td * d, &rng)
    for dtype in [DType.f32, .bf16] {
      for accumulate in [false, true] {
        let s = KT.tensor(src, [b, ts, d], dtype), t = KT.tensor(dst0, [b, td, d], dtype)
        cpu.copySequence(s, srcStart: 4, to: t, dstStart: 2, length: 6, accumulate: accumulate)
        let rs = dtype == .bf16 ? KT.bf16Rounded(src) : src
        var want = dtype == .bf16 ? KT.bf16Rounded(dst0) : dst0
        for bi in 0..<b { for i in 0..<6 { for j in 0..<d {
          let o = (bi * td + 2 + i) * d + j, v = rs[(bi * ts + 4 + i) * d + j]
          want[o] = accumulate ? want[o] + v : v
        } } }
        if dtype == .bf16 { want = KT.bf16Rounded(want) }
        KT.assertBitEqual(t.toArray(), want, "copySequence \(dtype) accumulate \(accumulate)")
        KT.assertGuards(t, "copySequence")
      }
    }
    // Integer windows are plain copies.
    let ids = KT.ints((0..<(2 * 4)).map { Int32($0) }, [2, 4, 1])
    let out = KT.ints([Int32](repeating: -1, count: 2 * 3), [2, 3, 1])
    cpu.copySequence(ids, srcStart: 1, to: out, dstStart: 1, length: 2, accumulate: false)
    XCTAssertEqual(out.toInt32Array(), [-1, 1, 2, -1, 5, 6])
  }

  func testSelectRowsBroadcastAliasAndIntegers() {
    var rng = HRMRandom(seed: 4)
    let (rows, x) = (5, 7)
    let a = KT.normals(rows * x, &rng), a1 = KT.normals(x, &rng), b = KT.normals(rows * x, &rng)
    let mask: [Int32] = [1, 0, 0, 3, 0]
    let m = KT.ints(mask, [rows])
    let out = KT.guarded([rows, x])
    cpu.selectRows(mask: m, KT.tensor(a, [rows, x]), KT.tensor(b, [rows, x]), out: out)
    var want = [Float]()
    for i in 0..<rows { want += mask[i] != 0 ? Array(a[(i * x)..<((i + 1) * x)]) : Array(b[(i * x)..<((i + 1) * x)]) }
    KT.assertBitEqual(out.toArray(), want, "selectRows")
    KT.assertGuards(out, "selectRows")
    // Broadcast row, out aliasing b (the carry reset pattern).
    let tb = KT.tensor(b, [rows, x], .bf16)
    cpu.selectRows(mask: m, KT.tensor(a1, [1, x], .bf16), tb, out: tb)
    var want2 = [Float]()
    for i in 0..<rows { want2 += mask[i] != 0 ? KT.bf16Rounded(a1) : KT.bf16Rounded(Array(b[(i * x)..<((i + 1) * x)])) }
    KT.assertBitEqual(tb.toArray(), want2, "selectRows broadcast in place")
    // i32 rows (the data slot replacement).
    let ia = KT.ints((0..<(rows * 2)).map { Int32($0) }, [rows, 2])
    let ib = KT.ints([Int32](repeating: -7, count: rows * 2), [rows, 2])
    let io = KT.guarded([rows, 2], .i32)
    cpu.selectRows(mask: m, ia, ib, out: io)
    XCTAssertEqual(io.toInt32Array(), [0, 1, -7, -7, -7, -7, 6, 7, -7, -7])
  }

  // MARK: - Linear algebra

  func testGemmAllTransposesAgainstDouble() {
    var rng = HRMRandom(seed: 5)
    for (m, n, k) in [(7, 13, 5), (1, 9, 17), (13, 1, 3), (11, 6, 1)] {
      for transA in [false, true] {
        for transB in [false, true] {
          let a = KT.normals(m * k, &rng), b = KT.normals(k * n, &rng), c0 = KT.normals(m * n, &rng)
          func av(_ i: Int, _ p: Int) -> Double { Double(transA ? a[p * m + i] : a[i * k + p]) }
          func bv(_ p: Int, _ j: Int) -> Double { Double(transB ? b[j * k + p] : b[p * n + j]) }
          for beta: Float in [0, 0.5] {
            var ref = [Double](repeating: 0, count: m * n)
            for i in 0..<m { for j in 0..<n {
              var s = 0.0
              for p in 0..<k { s += av(i, p) * bv(p, j) }
              ref[i * n + j] = 1.5 * s + Double(beta) * Double(c0[i * n + j])
            } }
            let c = KT.tensor(beta == 0 ? [Float](repeating: .nan, count: m * n) : c0, [m, n])
            cpu.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1.5,
                     KT.tensor(a, transA ? [k, m] : [m, k]), KT.tensor(b, transB ? [n, k] : [k, n]), beta: beta, c)
            // f32 dot products of length k ≤ 17 of unit normals: error ~ k·ulp·Σ|terms|.
            KT.assertClose(c.toArray(), ref, atol: 1e-5, rtol: 1e-5,
                           "gemm m\(m) n\(n) k\(k) tA \(transA) tB \(transB) beta \(beta)")
            KT.assertGuards(c, "gemm")
          }
        }
      }
    }
  }

  func testGemmBF16IsTheRoundedF32Result() {
    var rng = HRMRandom(seed: 6)
    let (m, n, k) = (9, 11, 13)
    let a = KT.bf16Rounded(KT.normals(m * k, &rng)), b = KT.bf16Rounded(KT.normals(n * k, &rng))
    let cf = KT.guarded([m, n]), ch = KT.guarded([m, n], .bf16)
    cpu.gemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, KT.tensor(a, [m, k]), KT.tensor(b, [n, k]), beta: 0, cf)
    cpu.gemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, KT.tensor(a, [m, k], .bf16),
             KT.tensor(b, [n, k], .bf16), beta: 0, ch)
    KT.assertBitEqual(ch.toArray(), cf.toArray().map(BF16.round), "bf16 gemm")
    KT.assertGuards(ch, "bf16 gemm")
  }

  func testAddBiasAndSumRows() {
    var rng = HRMRandom(seed: 7)
    let (rows, c) = (13, 7)
    let x = KT.normals(rows * c, &rng), bias = KT.normals(c, &rng)
    let tx = KT.tensor(x, [rows, c])
    cpu.addBias(tx, bias: KT.tensor(bias, [c]))
    // One f32 addition per element: exact to half an ulp.
    KT.assertClose(tx.toArray(), (0..<(rows * c)).map { Double(x[$0]) + Double(bias[$0 % c]) },
                   atol: 1e-6, rtol: 1e-6, "addBias")
    KT.assertGuards(tx, "addBias")
    let out = KT.tensor([Float](repeating: 0.25, count: c), [c])
    let colSums = (0..<c).map { j in (0..<rows).reduce(0.0) { $0 + Double(x[$1 * c + j]) } }
    cpu.sumRows(KT.tensor(x, [rows, c]), out: out, accumulate: false)
    // f64 accumulation, one final rounding to f32.
    KT.assertClose(out.toArray(), colSums, atol: 1e-6, rtol: 1e-6, "sumRows")
    cpu.sumRows(KT.tensor(x, [rows, c]), out: out, accumulate: true)
    KT.assertClose(out.toArray(), colSums.map { 2 * $0 }, atol: 2e-6, rtol: 1e-6, "sumRows accumulate")
    KT.assertGuards(out, "sumRows")
  }

  // MARK: - Embedding

  func testEmbeddingGatherAndScatterWithDuplicates() {
    var rng = HRMRandom(seed: 8)
    let (r, d) = (6, 13)
    let table = KT.normals(r * d, &rng)
    let idList: [Int32] = [4, 0, 4, 5, 2, 4, 0]
    let n = idList.count
    let ids = KT.ints(idList, [n])
    for dtype in [DType.f32, .bf16] {
      let out = KT.guarded([n, d], dtype)
      cpu.embeddingForward(table: KT.tensor(table, [r, d]), ids: ids, out: out)
      var want = [Float]()
      for id in idList { want += table[(Int(id) * d)..<((Int(id) + 1) * d)] }
      KT.assertBitEqual(out.toArray(), dtype == .bf16 ? KT.bf16Rounded(want) : want, "embedding forward \(dtype)")
      KT.assertGuards(out, "embedding forward")
    }
    let g = KT.normals(n * d, &rng)
    let grad0 = KT.normals(r * d, &rng)
    let gradTable = KT.tensor(grad0, [r, d])
    cpu.embeddingBackward(gradOut: KT.tensor(g, [n, d]), ids: ids, gradTable: gradTable)
    var ref = grad0.map(Double.init)
    for (i, id) in idList.enumerated() { for j in 0..<d { ref[Int(id) * d + j] += Double(g[i * d + j]) } }
    // At most four f32 additions per element.
    KT.assertClose(gradTable.toArray(), ref, atol: 1e-6, rtol: 1e-6, "embedding backward")
    KT.assertGuards(gradTable, "embedding backward")
    // The scatter is the exact adjoint of the gather.
    let zero = KT.tensor([Float](repeating: 0, count: r * d), [r, d])
    cpu.embeddingBackward(gradOut: KT.tensor(g, [n, d]), ids: ids, gradTable: zero)
    KT.checkDirectional(x: table.map(Double.init), gradOut: g.map(Double.init), gradX: zero.toArray(), rng: &rng,
                        "embedding") { t in idList.flatMap { id in t[(Int(id) * d)..<((Int(id) + 1) * d)] } }
  }
}

/// Sizes large enough that the kernels split work over several threads (the grains are
/// 2¹⁵ elements for elementwise loops and 2¹⁶ for bf16 conversion).
final class CPUKernelTestsParallelPaths: XCTestCase {
  let cpu = KT.cpu

  func testLargeElementwiseAndConversions() {
    var rng = HRMRandom(seed: 61)
    let n = 200_003
    let a = KT.normals(n, &rng), b = KT.normals(n, &rng)
    let out = KT.guarded([n], .bf16)
    cpu.addScaled(KT.tensor(a, [n], .bf16), alpha: 2, KT.tensor(b, [n], .bf16), beta: -0.5, out: out)
    let ra = KT.bf16Rounded(a), rb = KT.bf16Rounded(b)
    KT.assertBitEqual(out.toArray(), (0..<n).map { BF16.round(2 * ra[$0] + -0.5 * rb[$0]) }, "large bf16 addScaled")
    KT.assertGuards(out, "large bf16 addScaled")
    let f = KT.guarded([n])
    cpu.copy(out, to: f)
    KT.assertBitEqual(f.toArray(), out.toArray(), "large bf16 -> f32")
    cpu.fill(f, value: 3)
    XCTAssert(f.toArray().allSatisfy { $0 == 3 })
    KT.assertGuards(f, "large fill")
  }

  func testLargeRowKernels() {
    var rng = HRMRandom(seed: 62)
    let (rows, d) = (1500, 64)
    let x = KT.normals(rows * d, &rng)
    let y = KT.guarded([rows, d]), rstd = KT.guarded([rows])
    cpu.rmsNormForward(KT.tensor(x, [rows, d]), out: y, rstd: rstd, eps: 1e-5)
    let ref = CPUKernelTestsLayers.refRMSNorm(x.map(Double.init), rows: rows, eps: 1e-5)
    // As in the small RMSNorm test.
    KT.assertClose(y.toArray(), ref.y, atol: 1e-6, rtol: 1e-5, "large rmsnorm")
    KT.assertGuards(y, "large rmsnorm")
    let sums = KT.guarded([d])
    cpu.sumRows(KT.tensor(x, [rows, d]), out: sums, accumulate: false)
    let colSums = (0..<d).map { j in (0..<rows).reduce(0.0) { $0 + Double(x[$1 * d + j]) } }
    // f64 accumulation, one rounding.
    KT.assertClose(sums.toArray(), colSums, atol: 1e-5, rtol: 1e-6, "large sumRows")
    let table = KT.guarded([7, d])
    cpu.fill(table, value: 0)
    let ids = (0..<rows).map { _ in Int32(rng.int(0, 6)) }
    cpu.embeddingBackward(gradOut: KT.tensor(x, [rows, d]), ids: KT.ints(ids, [rows]), gradTable: table)
    var want = [Double](repeating: 0, count: 7 * d)
    for (i, id) in ids.enumerated() { for j in 0..<d { want[Int(id) * d + j] += Double(x[i * d + j]) } }
    // ~200 f32 additions per element in row order: error ~ 200·ulp·Σ|terms|.
    KT.assertClose(table.toArray(), want, atol: 1e-4, rtol: 1e-5, "large embedding backward")
  }
}
