// SelfTest+Cases.swift: the self-test's checks, one small function per op family. Every
// case draws fresh random host inputs, then hands `check` a body that builds the tensors on
// whichever backend it is given and returns the outputs to compare.

import Foundation
import HRMSupport
import HRMTensor

private typealias S = BackendSelfTest

extension BackendSelfTest {
  // MARK: - Memory, elementwise, data movement

  func memoryAndElementwise() {
    for (dtype, value) in [(DType.f32, Float(3.25)), (.bf16, -1.5), (.i32, 7)] {
      check("fill", "\(dtype) [1001]") { be in
        let t = S.poisoned([1001], dtype, on: be)
        be.fill(t, value: value)
        return [t]
      }
    }
    let n = 4099
    let x = normal(n, 2)
    for (from, to) in [(DType.f32, DType.bf16), (.bf16, .f32), (.f32, .f32), (.bf16, .bf16)] {
      check("copy", "\(from)->\(to) [\(n)] offset 17") { be in
        let src = S.offsetTensor(x, [n], from, offset: 17, on: be)
        let dst = S.poisoned([n], to, on: be)
        be.copy(src, to: dst)
        return [dst]
      }
    }
    let a = normal(5000), b = normal(5000)
    for (da, db, dout) in [(DType.f32, DType.f32, DType.f32), (.bf16, .bf16, .bf16), (.bf16, .f32, .f32)] {
      check("addScaled", "\(da)+\(db)->\(dout) [5000]") { be in
        let ta = S.make(a, [5000], da, on: be), tb = S.make(b, [5000], db, on: be)
        let out = S.poisoned([5000], dout, on: be)
        be.addScaled(ta, alpha: 0.75, tb, beta: -1.25, out: out)
        return [out]
      }
    }
    let a1 = normal(5001), b1 = normal(5001)
    check("addScaled", "bf16 [5001] (scalar path)") { be in
      let ta = S.make(a1, [5001], .bf16, on: be), tb = S.make(b1, [5001], .bf16, on: be)
      let out = S.poisoned([5001], .bf16, on: be)
      be.addScaled(ta, alpha: 0.5, tb, beta: 2, out: out)
      return [out]
    }
    check("addScaled", "bf16 out aliases b") { be in
      let ta = S.make(a, [5000], .bf16, on: be), tb = S.make(b, [5000], .bf16, on: be)
      be.addScaled(ta, alpha: 1, tb, beta: 1, out: tb)
      return [tb]
    }
    check("addScaled", "f32 out aliases a") { be in
      let ta = S.make(a, [5000], .f32, on: be), tb = S.make(b, [5000], .f32, on: be)
      be.addScaled(ta, alpha: 1, tb, beta: 0.5, out: ta)
      return [ta]
    }
    for dtype in [DType.f32, .bf16] {
      check("scale", "\(dtype) [5000]") { be in
        let t = S.make(a, [5000], dtype, on: be)
        let out = S.poisoned([5000], dtype, on: be)
        be.scale(t, by: -0.3, out: out)
        return [out]
      }
    }
    check("scale", "f32 in place") { be in
      let t = S.make(a, [5000], .f32, on: be)
      be.scale(t, by: 2.5, out: t)
      return [t]
    }

    let src = normal(3 * 10 * 24), dst = normal(3 * 12 * 24)
    for (dtype, accumulate) in [(DType.f32, false), (.bf16, true), (.f32, true)] {
      check("copySequence", "\(dtype) [3,10,24]->[3,12,24]\(accumulate ? " accumulate" : "")") { be in
        let s = S.make(src, [3, 10, 24], dtype, on: be)
        let d = S.make(dst, [3, 12, 24], dtype, on: be)
        be.copySequence(s, srcStart: 2, to: d, dstStart: 1, length: 7, accumulate: accumulate)
        return [d]
      }
    }

    let mask: [Int32] = [1, 0, 0, 1, 1, 0]
    let rowsA = normal(6 * 40), rowB = normal(40), rowsB = normal(6 * 40)
    check("selectRows", "f32 a [1,40] broadcast") { be in
      let m = S.make(ints: mask, [6], on: be)
      let ta = S.make(rowB, [1, 40], .f32, on: be), tb = S.make(rowsB, [6, 40], .f32, on: be)
      let out = S.poisoned([6, 40], .f32, on: be)
      be.selectRows(mask: m, ta, tb, out: out)
      return [out]
    }
    let intsA = ints(6 * 40, -1000, 1000), intsB = ints(6 * 40, -1000, 1000)
    check("selectRows", "i32 [6,40]") { be in
      let m = S.make(ints: mask, [6], on: be)
      let ta = S.make(ints: intsA, [6, 40], on: be), tb = S.make(ints: intsB, [6, 40], on: be)
      let out = S.poisoned([6, 40], .i32, on: be)
      be.selectRows(mask: m, ta, tb, out: out)
      return [out]
    }
    check("selectRows", "bf16 out aliases b") { be in
      let m = S.make(ints: mask, [6], on: be)
      let ta = S.make(rowsA, [6, 40], .bf16, on: be), tb = S.make(rowsB, [6, 40], .bf16, on: be)
      be.selectRows(mask: m, ta, tb, out: tb)
      return [tb]
    }
  }

  // MARK: - GEMM, bias, column sums

  func linearAlgebra() {
    let (m, n, k) = (37, 53, 71)
    for transA in [false, true] {
      for transB in [false, true] {
        let a = normal(m * k), b = normal(k * n), c = normal(m * n)
        let shapeA = transA ? [k, m] : [m, k], shapeB = transB ? [n, k] : [k, n]
        check("gemm", "f32 \(m)x\(n)x\(k) tA\(transA ? 1 : 0) tB\(transB ? 1 : 0) beta0") { be in
          let ta = S.make(a, shapeA, .f32, on: be), tb = S.make(b, shapeB, .f32, on: be)
          let tc = S.poisoned([m, n], .f32, on: be)
          be.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1.3, ta, tb, beta: 0, tc)
          return [tc]
        }
        check("gemm", "f32 \(m)x\(n)x\(k) tA\(transA ? 1 : 0) tB\(transB ? 1 : 0) beta0.5") { be in
          let ta = S.make(a, shapeA, .f32, on: be), tb = S.make(b, shapeB, .f32, on: be)
          let tc = S.make(c, [m, n], .f32, on: be)
          be.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: -0.7, ta, tb, beta: 0.5, tc)
          return [tc]
        }
      }
    }
    // Model-sized products: x [B*T, D] . W^T (W f32 master weights, x bf16) and the weight gradient.
    let (rows, d, out) = (656, 512, 1536)
    let x = normal(rows * d), w = normal(out * d, 0.044), dy = normal(rows * out, 0.1)
    check("gemm", "bf16 x . f32 W^T -> bf16 \(rows)x\(out)x\(d)") { be in
      let tx = S.make(x, [rows, d], .bf16, on: be), tw = S.make(w, [out, d], .f32, on: be)
      let ty = S.poisoned([rows, out], .bf16, on: be)
      be.gemm(transA: false, transB: true, m: rows, n: out, k: d, alpha: 1, tx, tw, beta: 0, ty)
      return [ty]
    }
    let wg = normal(out * d, 0.01)
    check("gemm", "bf16 dY^T . X -> f32 += \(out)x\(d)x\(rows)") { be in
      let tdy = S.make(dy, [rows, out], .bf16, on: be), tx = S.make(x, [rows, d], .bf16, on: be)
      let tg = S.make(wg, [out, d], .f32, on: be)
      be.gemm(transA: true, transB: false, m: out, n: d, k: rows, alpha: 1, tdy, tx, beta: 1, tg)
      return [tg]
    }
    check("gemm", "bf16 dY . W -> bf16 \(rows)x\(d)x\(out)") { be in
      let tdy = S.make(dy, [rows, out], .bf16, on: be), tw = S.make(w, [out, d], .bf16, on: be)
      let tx = S.poisoned([rows, d], .bf16, on: be)
      be.gemm(transA: false, transB: false, m: rows, n: d, k: out, alpha: 1, tdy, tw, beta: 0, tx)
      return [tx]
    }
    let a2 = normal(m * k), b2 = normal(k * n)
    check("gemm", "f32 in, bf16 out \(m)x\(n)x\(k)") { be in
      let ta = S.make(a2, [m, k], .f32, on: be), tb = S.make(b2, [k, n], .f32, on: be)
      let tc = S.poisoned([m, n], .bf16, on: be)
      be.gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, ta, tb, beta: 0, tc)
      return [tc]
    }
    check("gemm", "f32 operands at odd offsets") { be in
      let ta = S.offsetTensor(a2, [m, k], .f32, offset: 3, on: be), tb = S.offsetTensor(b2, [k, n], .f32, offset: 5, on: be)
      let tc = S.poisoned([m, n], .f32, on: be)
      be.gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, ta, tb, beta: 0, tc)
      return [tc]
    }

    let xb = normal(50 * 33), bias = normal(33)
    for (dx, db) in [(DType.f32, DType.f32), (.bf16, .f32)] {
      check("addBias", "\(dx) x [50,33] + \(db) bias") { be in
        let t = S.make(xb, [50, 33], dx, on: be)
        be.addBias(t, bias: S.make(bias, [33], db, on: be))
        return [t]
      }
    }
    let xs = normal(700 * 33), prior = normal(33)
    for (dtype, accumulate) in [(DType.f32, false), (.f32, true), (.bf16, false)] {
      check("sumRows", "\(dtype) [700,33]\(accumulate ? " accumulate" : "")") { be in
        let t = S.make(xs, [700, 33], dtype, on: be)
        let o = accumulate ? S.make(prior, [33], .f32, on: be) : S.poisoned([33], .f32, on: be)
        be.sumRows(t, out: o, accumulate: accumulate)
        return [o]
      }
    }
  }

  // MARK: - Embeddings

  func embeddings() {
    let table = normal(11 * 64), ids = ints(300, 0, 10)
    for dtype in [DType.f32, .bf16] {
      check("embeddingForward", "f32 table -> \(dtype) [300,64]") { be in
        let out = S.poisoned([300, 64], dtype, on: be)
        be.embeddingForward(table: S.make(table, [11, 64], .f32, on: be), ids: S.make(ints: ids, [300], on: be), out: out)
        return [out]
      }
    }
    let grad = normal(300 * 64), gtab = normal(11 * 64)
    for dtype in [DType.f32, .bf16] {
      check("embeddingBackward", "\(dtype) grad, f32 table [11,64] (two-pass kernel)") { be in
        let g = S.make(gtab, [11, 64], .f32, on: be)
        be.embeddingBackward(gradOut: S.make(grad, [300, 64], dtype, on: be), ids: S.make(ints: ids, [300], on: be), gradTable: g)
        return [g]
      }
    }
    let ids64 = ints(700, 0, 63), grad64 = normal(700 * 100), gtab64 = normal(64 * 100)
    check("embeddingBackward", "f32 grad, bf16 table [64,100] (two-pass kernel)") { be in
      let g = S.make(gtab64, [64, 100], .bf16, on: be)
      be.embeddingBackward(gradOut: S.make(grad64, [700, 100], .f32, on: be), ids: S.make(ints: ids64, [700], on: be), gradTable: g)
      return [g]
    }
    // A large table takes the atomic path (R > 64).
    let bigRows = 70_000
    var bigIds = ints(300, 0, bigRows - 1)
    for i in 0..<20 { bigIds[i + 100] = bigIds[i] }   // duplicates
    let bigGrad = normal(300 * 8), bigTable = normal(bigRows * 8)
    check("embeddingBackward", "f32 table [70000,8] (atomic kernel)") { be in
      let g = S.make(bigTable, [bigRows, 8], .f32, on: be)
      be.embeddingBackward(gradOut: S.make(bigGrad, [300, 8], .f32, on: be), ids: S.make(ints: bigIds, [300], on: be), gradTable: g)
      return [g]
    }
  }

  // MARK: - RMSNorm and RoPE

  func normalisationAndRope() {
    for (dtype, rows, d) in [(DType.f32, 200, 512), (.bf16, 200, 512), (.f32, 37, 100), (.bf16, 64, 1024)] {
      let x = normal(rows * d, 3)
      check("rmsNormForward", "\(dtype) [\(rows),\(d)]") { be in
        let out = S.poisoned([rows, d], dtype, on: be), rstd = S.poisoned([rows], .f32, on: be)
        be.rmsNormForward(S.make(x, [rows, d], dtype, on: be), out: out, rstd: rstd, eps: 1e-5)
        return [out, rstd]
      }
    }
    // Fused residual add + norm: the vectorised bf16 kernel (D = 256, 512, 1024) and the
    // composed fallback (f32, other widths).
    for (dtype, rows, d) in [(DType.bf16, 200, 512), (.bf16, 37, 256), (.bf16, 64, 1024), (.f32, 50, 512), (.bf16, 37, 100)] {
      let x = normal(rows * d, 3), y = normal(rows * d)
      check("addRMSNormForward", "\(dtype) [\(rows),\(d)]") { be in
        let out = S.poisoned([rows, d], dtype, on: be), rstd = S.poisoned([rows], .f32, on: be)
        be.addRMSNormForward(S.make(x, [rows, d], dtype, on: be), S.make(y, [rows, d], dtype, on: be), out: out,
                             rstd: rstd, eps: 1e-5)
        return [out, rstd]
      }
    }
    for (dtype, rows, d) in [(DType.f32, 200, 512), (.bf16, 200, 512), (.f32, 37, 100), (.bf16, 64, 256)] {
      let g = normal(rows * d), y = normal(rows * d), r = uniform(rows, 0.2, 2)
      check("rmsNormBackward", "\(dtype) [\(rows),\(d)]") { be in
        let gx = S.poisoned([rows, d], dtype, on: be)
        be.rmsNormBackward(gradOut: S.make(g, [rows, d], dtype, on: be), y: S.make(y, [rows, d], dtype, on: be),
                           rstd: S.make(r, [rows], .f32, on: be), gradX: gx)
        return [gx]
      }
    }
    for (dtype, headDim, heads) in [(DType.f32, 64, 4), (.bf16, 32, 3), (.bf16, 64, 2), (.bf16, 24, 2)] {
      let (batch, seq) = (2, 9)
      let width = 3 * heads * headDim
      let qkv = normal(batch * seq * width)
      // Independent random tables (halves differ), so the inverse must be the exact transpose.
      let cosT = uniform(seq * headDim, -1, 1), sinT = uniform(seq * headDim, -1, 1)
      for inverse in [false, true] {
        check("rope", "\(dtype) Dh\(headDim) H\(heads)\(inverse ? " inverse" : "")") { be in
          let out = S.poisoned([batch, seq, width], dtype, on: be)
          be.rope(S.make(qkv, [batch, seq, width], dtype, on: be), cos: S.make(cosT, [seq, headDim], .f32, on: be),
                  sin: S.make(sinT, [seq, headDim], .f32, on: be), heads: heads, headDim: headDim, inverse: inverse, out: out)
          return [out]
        }
      }
      check("rope", "\(dtype) Dh\(headDim) H\(heads) in place") { be in
        let t = S.make(qkv, [batch, seq, width], dtype, on: be)
        be.rope(t, cos: S.make(cosT, [seq, headDim], .f32, on: be), sin: S.make(sinT, [seq, headDim], .f32, on: be),
                heads: heads, headDim: headDim, inverse: false, out: t)
        return [t]
      }
    }
  }

  // MARK: - Attention

  func attention() {
    let configs: [(DType, Int, Int, Int, Int)] = [
      (.f32, 2, 82, 4, 64), (.f32, 2, 33, 3, 32), (.bf16, 2, 200, 2, 64), (.bf16, 3, 82, 8, 64),
      (.f32, 1, 1024, 2, 64), (.f32, 3, 1, 4, 64), (.bf16, 2, 130, 2, 32), (.bf16, 1, 1024, 2, 64),
      (.bf16, 2, 64, 2, 64), (.bf16, 3, 1, 4, 32), (.bf16, 2, 100, 3, 32), (.bf16, 2, 901, 2, 64),
      (.bf16, 2, 7, 2, 64), (.bf16, 1, 129, 3, 64), (.bf16, 2, 128, 2, 64), (.bf16, 1, 17, 3, 64),
    ]
    for (dtype, batch, seq, heads, headDim) in configs {
      let variant = "\(dtype) B\(batch) T\(seq) H\(heads) Dh\(headDim)"
      let width = 3 * heads * headDim
      let qkv = normal(batch * seq * width)
      let scale = 1 / Float(headDim).squareRoot()
      check("attentionForward", variant) { be in
        let out = S.poisoned([batch, seq, heads * headDim], dtype, on: be)
        let lse = S.poisoned([batch, heads, seq], .f32, on: be)
        be.attentionForward(qkv: S.make(qkv, [batch, seq, width], dtype, on: be), out: out, lse: lse,
                            batch: batch, seq: seq, heads: heads, headDim: headDim, scale: scale)
        return [out, lse]
      }
      if headDim == 64 && wants("attentionForwardRotary") && !skipped.contains("attentionForwardRotary") {
        // Independent random tables (halves differ), as in the rope checks.
        let cosT = uniform(seq * headDim, -1, 1), sinT = uniform(seq * headDim, -1, 1)
        for store in ["", " into a copy", " in place"] {
          check("attentionForwardRotary", variant + store) { be in
            let q = S.make(qkv, [batch, seq, width], dtype, on: be)
            let rotated = store == " in place" ? q : store.isEmpty ? nil : S.poisoned([batch, seq, width], dtype, on: be)
            let out = S.poisoned([batch, seq, heads * headDim], dtype, on: be)
            let lse = S.poisoned([batch, heads, seq], .f32, on: be)
            be.attentionForwardRotary(qkv: q, cos: S.make(cosT, [seq, headDim], .f32, on: be),
                                      sin: S.make(sinT, [seq, headDim], .f32, on: be), rotated: rotated, out: out,
                                      lse: lse, batch: batch, seq: seq, heads: heads, headDim: headDim, scale: scale)
            return [out, lse, q] + (rotated.map { [$0] } ?? [])
          }
        }
      }
      // The backward gets the same forward results on both backends (the reference's).
      if !wants("attentionBackward") || skipped.contains("attentionBackward") { continue }
      let ref = reference
      let tq = S.make(qkv, [batch, seq, width], dtype, on: ref)
      let tout = Tensor.empty([batch, seq, heads * headDim], dtype, on: ref)
      let tlse = Tensor.empty([batch, heads, seq], .f32, on: ref)
      ref.attentionForward(qkv: tq, out: tout, lse: tlse, batch: batch, seq: seq, heads: heads, headDim: headDim, scale: scale)
      let outValues = tout.toArray(), lseValues = tlse.toArray()
      let gradOut = normal(batch * seq * heads * headDim)
      check("attentionBackward", variant) { be in
        let g = S.poisoned([batch, seq, width], dtype, on: be)
        be.attentionBackward(qkv: S.make(qkv, [batch, seq, width], dtype, on: be),
                             out: S.make(outValues, [batch, seq, heads * headDim], dtype, on: be),
                             lse: S.make(lseValues, [batch, heads, seq], .f32, on: be),
                             gradOut: S.make(gradOut, [batch, seq, heads * headDim], dtype, on: be), gradQKV: g,
                             batch: batch, seq: seq, heads: heads, headDim: headDim, scale: scale)
        return [g]
      }
    }
  }

  // MARK: - SwiGLU

  func swiglu() {
    for (dtype, rows, inner) in [(DType.f32, 100, 96), (.bf16, 100, 96), (.bf16, 30, 36), (.bf16, 9000, 2048)] {
      let gu = normal(rows * 2 * inner, 2), gout = normal(rows * inner)
      check("swigluForward", "\(dtype) [\(rows),\(2 * inner)]") { be in
        let out = S.poisoned([rows, inner], dtype, on: be)
        be.swigluForward(S.make(gu, [rows, 2 * inner], dtype, on: be), out: out)
        return [out]
      }
      check("swigluBackward", "\(dtype) [\(rows),\(2 * inner)]") { be in
        let g = S.poisoned([rows, 2 * inner], dtype, on: be)
        be.swigluBackward(gateUp: S.make(gu, [rows, 2 * inner], dtype, on: be),
                          gradOut: S.make(gout, [rows, inner], dtype, on: be), gradGateUp: g)
        return [g]
      }
    }
  }

  // MARK: - Projections with their element-wise op

  /// linearSwiGLU and linearRotary (the fused-epilogue GEMMs on Hopper unless
  /// HRM_CUDA_FUSED_LINEAR=0, once per column tile, 192 and 256; else the composition). Rows
  /// not a multiple of the 128-row tile, more k-steps (64 each) than the kernels' stages,
  /// several column tiles, and shapes with more tiles than an H200 has SMs (each block walks
  /// several, handing its output tile over more than once); the rotary cases hold query, key
  /// and value heads. Shapes a kernel does not take (inner 64, f32; inner 128 for the
  /// 192-column tile, inner 192 and two heads for the 256-column one) check the composition.
  /// Inputs scaled so products stay O(1).
  func fusedProjections() {
    let cuda = device as? CUDABackend, savedTile = cuda?.fusedLinearTile
    defer { cuda?.fusedLinearTile = savedTile }
    let tiles: [Int?] = cuda?.compiler.hopperFeatures == true ? [192, 256] : [nil]
    for tile in tiles {
      cuda?.fusedLinearTile = tile
      let kernel = tile.map { " tile \($0)" } ?? ""
      for (dtype, rows, k, inner) in [(DType.bf16, 300, 320, 128), (.bf16, 300, 320, 192), (.bf16, 9001, 128, 384),
                                      (.bf16, 128, 64, 64), (.f32, 37, 96, 40)] {
        let x = normal(rows * k, 1), w = normal(2 * inner * k, 1 / Float(k).squareRoot())
        check("linearSwiGLU", "\(dtype) [\(rows),\(k)] x [\(2 * inner),\(k)]\(kernel)") { be in
          let out = S.poisoned([rows, inner], dtype, on: be)
          be.linearSwiGLU(S.make(x, [rows, k], dtype, on: be), weight: S.make(w, [2 * inner, k], dtype, on: be),
                          out: out)
          return [out]
        }
      }
      for (dtype, batch, seq, heads, k) in [(DType.bf16, 3, 100, 2, 192), (.bf16, 2, 901, 4, 64),
                                            (.bf16, 2, 150, 4, 320), (.bf16, 10, 901, 4, 64), (.f32, 2, 9, 2, 64)] {
        let (headDim, rows) = (64, batch * seq)
        let width = 3 * heads * headDim
        let x = normal(rows * k, 1), w = normal(width * k, 1 / Float(k).squareRoot())
        let cosT = uniform(seq * headDim, -1, 1), sinT = uniform(seq * headDim, -1, 1)
        check("linearRotary", "\(dtype) B\(batch) T\(seq) H\(heads) K\(k)\(kernel)") { be in
          let out = S.poisoned([rows, width], dtype, on: be)
          be.linearRotary(S.make(x, [rows, k], dtype, on: be), weight: S.make(w, [width, k], dtype, on: be),
                          cos: S.make(cosT, [seq, headDim], .f32, on: be),
                          sin: S.make(sinT, [seq, headDim], .f32, on: be), seq: seq, heads: heads, headDim: headDim,
                          out: out)
          return [out]
        }
      }
    }
  }

  // MARK: - Losses

  func losses() {
    let cases: [(CrossEntropyKind, DType, Int, Int)] = [
      (.stablemax, .f32, 500, 11), (.stablemax, .bf16, 500, 11), (.softmax, .f32, 500, 11),
      (.stablemax, .f32, 40, 1000), (.softmax, .bf16, 40, 1000),
    ]
    for (kind, dtype, rows, vocab) in cases {
      let logits = normal(rows * vocab, 3), labels = labels(rows, vocab: vocab)
      let weights = uniform(rows, 0, 1), gradScale: [Float] = [0.37]
      let variant = "\(kind == .stablemax ? "stablemax" : "softmax") \(dtype) [\(rows),\(vocab)]"
      check("crossEntropyForward", variant, tolerance: BackendSelfTest.f32Tolerance) { be in
        let losses = S.poisoned([rows], .f32, on: be)
        be.crossEntropyForward(kind: kind, logits: S.make(logits, [rows, vocab], dtype, on: be),
                               labels: S.make(ints: labels, [rows], on: be), losses: losses)
        return [losses]
      }
      check("crossEntropyBackward", variant) { be in
        let g = S.poisoned([rows, vocab], dtype, on: be)
        be.crossEntropyBackward(kind: kind, logits: S.make(logits, [rows, vocab], dtype, on: be),
                                labels: S.make(ints: labels, [rows], on: be), weights: S.make(weights, [rows], .f32, on: be),
                                gradScale: S.make(gradScale, [1], .f32, on: be), gradLogits: g)
        return [g]
      }
    }
    let n = 333
    let x = normal(n, 4), t = (0..<n).map { _ in Float(rng.uniform()) }
    check("bceWithLogitsForward", "f32 [\(n)]") { be in
      let l = S.poisoned([n], .f32, on: be)
      be.bceWithLogitsForward(logits: S.make(x, [n], .f32, on: be), targets: S.make(t, [n], .f32, on: be), losses: l)
      return [l]
    }
    check("bceWithLogitsBackward", "f32 [\(n)]") { be in
      let g = S.poisoned([n], .f32, on: be)
      be.bceWithLogitsBackward(logits: S.make(x, [n], .f32, on: be), targets: S.make(t, [n], .f32, on: be),
                               gradScale: S.make([0.5], [1], .f32, on: be), gradLogits: g)
      return [g]
    }
    var lab = labels(16 * 81, vocab: 11, ignoreFraction: 0.3)
    for s in 0..<81 { lab[3 * 81 + s] = -100 }   // a fully ignored row
    check("rowNormalizedWeights", "[16,81] one row all -100") { be in
      let w = S.poisoned([16, 81], .f32, on: be)
      be.rowNormalizedWeights(labels: S.make(ints: lab, [16, 81], on: be), weights: w)
      return [w]
    }
  }

  // MARK: - Reductions and metrics

  func reductions() {
    for (dtype, n) in [(DType.f32, 100_003), (.bf16, 5000), (.f32, 1)] {
      let a = normal(n), b = normal(n)
      for accumulate in [false, true] {
        let suffix = "\(dtype) [\(n)]\(accumulate ? " accumulate" : "")"
        check("sum", suffix, tolerance: BackendSelfTest.f32Tolerance) { be in
          let o = accumulate ? S.make([1.5], [1], .f32, on: be) : S.poisoned([1], .f32, on: be)
          be.sum(S.make(a, [n], dtype, on: be), out: o, accumulate: accumulate)
          return [o]
        }
        check("dot", suffix, tolerance: BackendSelfTest.f32Tolerance) { be in
          let o = accumulate ? S.make([1.5], [1], .f32, on: be) : S.poisoned([1], .f32, on: be)
          be.dot(S.make(a, [n], dtype, on: be), S.make(b, [n], dtype, on: be), out: o, accumulate: accumulate)
          return [o]
        }
        check("sumOfSquares", suffix, tolerance: BackendSelfTest.f32Tolerance) { be in
          let o = accumulate ? S.make([1.5], [1], .f32, on: be) : S.poisoned([1], .f32, on: be)
          be.sumOfSquares(S.make(a, [n], dtype, on: be), out: o, accumulate: accumulate)
          return [o]
        }
      }
    }
    let (batch, seq, vocab) = (16, 81, 11)
    for dtype in [DType.f32, .bf16] {
      // Round the logits to the tested dtype first, so the host argmax below is exact.
      let logits = normal(batch * seq * vocab).map { dtype == .bf16 ? BF16.round($0) : $0 }
      var lab = labels(batch * seq, vocab: vocab, ignoreFraction: 0.2)
      for b in 0..<4 {   // fully correct rows
        for s in 0..<seq where lab[b * seq + s] != -100 {
          let row = Array(logits[((b * seq + s) * vocab)..<((b * seq + s + 1) * vocab)])
          lab[b * seq + s] = Int32(row.firstIndex(of: row.max()!)!)
        }
      }
      for s in 0..<seq { lab[5 * seq + s] = -100 }
      check("tokenCorrectness", "\(dtype) [\(batch),\(seq),\(vocab)]") { be in
        let valid = S.poisoned([batch], .i32, on: be), correct = S.poisoned([batch], .i32, on: be)
        let seqCorrect = S.poisoned([batch], .f32, on: be)
        be.tokenCorrectness(logits: S.make(logits, [batch, seq, vocab], dtype, on: be),
                            labels: S.make(ints: lab, [batch, seq], on: be), valid: valid, correct: correct, seqCorrect: seqCorrect)
        return [valid, correct, seqCorrect]
      }
    }
    for (dtype, rows, vocab) in [(DType.f32, 777, 11), (.bf16, 100, 1000)] {
      let logits = normal(rows * vocab)
      check("argmax", "\(dtype) [\(rows),\(vocab)]") { be in
        let o = S.poisoned([rows], .i32, on: be)
        be.argmax(S.make(logits, [rows, vocab], dtype, on: be), out: o)
        return [o]
      }
    }
  }

  // MARK: - ACT

  func act() {
    let n = 64
    let steps = ints(n, 0, 16), qh = normal(n), qc = normal(n)
    let minSteps = (0..<n).map { _ in rng.uniform() < 0.3 ? Int32(rng.int(2, 16)) : 0 }
    for useQ in [false, true] {
      check("actHalt", "[\(n)] useQ \(useQ)") { be in
        let s = S.make(ints: steps, [n], on: be)
        let halted = S.poisoned([n], .i32, on: be)
        be.actHalt(steps: s, qHalt: S.make(qh, [n], .f32, on: be), qCont: S.make(qc, [n], .f32, on: be),
                   minSteps: S.make(ints: minSteps, [n], on: be), maxSteps: 16, useQ: useQ, halted: halted)
        return [s, halted]
      }
    }
    check("actTarget", "[\(n)]") { be in
      let t = S.poisoned([n], .f32, on: be)
      be.actTarget(nextQHalt: S.make(qh, [n], .f32, on: be), nextQCont: S.make(qc, [n], .f32, on: be),
                   steps: S.make(ints: steps, [n], on: be), maxSteps: 16, target: t)
      return [t]
    }
  }

  // MARK: - Optimisers

  func optimisers() {
    let n = 10_007
    let param = normal(n, 0.05), grad = normal(n, 0.01), m = normal(n, 0.001), v = uniform(n, 0, 1e-4)
    let t: Float = 3
    let bc1 = 1 - powf(0.9, t), bc2 = 1 - powf(0.95, t)
    check("adamATan2Step", "f32 [\(n)]") { be in
      let p = S.make(param, [n], .f32, on: be), tm = S.make(m, [n], .f32, on: be), tv = S.make(v, [n], .f32, on: be)
      be.adamATan2Step(param: p, grad: S.make(grad, [n], .f32, on: be), m: tm, v: tv, lr: 1e-3, beta1: 0.9, beta2: 0.95,
                       weightDecay: 0.1, biasCorrection1: bc1, biasCorrection2: bc2)
      return [p, tm, tv]
    }
    let (rows, d, ids) = (50, 64, ints(40, 0, 49))
    let table = normal(rows * d), grads = normal(40 * d)
    check("sparseSignSGDStep", "f32 table [\(rows),\(d)], 40 ids with duplicates") { be in
      let tt = S.make(table, [rows, d], .f32, on: be)
      be.sparseSignSGDStep(table: tt, ids: S.make(ints: ids, [40], on: be), grads: S.make(grads, [40, d], .f32, on: be),
                           lr: 0.01, weightDecay: 0.1)
      return [tt]
    }
  }
}
