// Linear.swift: CPU matrix multiply (mapped onto CPUGEMM.sgemm), bias add and column sums.
//
// gemm only works out leading dimensions and routes bf16 through f32; the multiply itself is
// CPUGEMM's. sumRows adds each column's rows in row order in f64, so it is deterministic and
// independent of the thread count.

extension CPUBackend {
  /// C = alpha·op(A)·op(B) + beta·C, row-major. A stored [m, k] ([k, m] when transA), B stored
  /// [k, n] ([n, k] when transB), C [m, n]. beta == 0 ignores C's old contents.
  public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                   alpha: Float, _ a: Tensor, _ b: Tensor, beta: Float, _ c: Tensor) {
    precondition(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m \(m) n \(n) k \(k)")
    precondition(a.count >= m * k && b.count >= k * n && c.count >= m * n,
                 "gemm: m \(m) n \(n) k \(k) does not fit A \(a.shape), B \(b.shape), C \(c.shape)")
    if m == 0 || n == 0 { return }
    HostF32.write(c, load: beta != 0) { pc in
      if k == 0 {
        // op(A)·op(B) is empty: C = beta·C (beta == 0 clears it, NaN included).
        for i in 0..<(m * n) { pc[i] = beta == 0 ? 0 : beta * pc[i] }
        return
      }
      HostF32.read(a) { pa in
        HostF32.read(b) { pb in
          CPUGEMM.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                        a: pa, lda: transA ? m : k, b: pb, ldb: transB ? k : n,
                        beta: beta, c: pc, ldc: n)
        }
      }
    }
  }

  /// x [N, C] += bias [C] broadcast over rows.
  public func addBias(_ x: Tensor, bias: Tensor) {
    let c = bias.count
    precondition(c > 0 ? x.count % c == 0 : x.count == 0, "addBias: x \(x.shape) with bias \(bias.shape)")
    if c == 0 { return }
    let rows = x.count / c
    HostF32.read(bias) { pb in
      HostF32.write(x, load: true) { px in
        CPUParallel.forEach(rows, minPerThread: max(1, CPUBackend.elementwiseGrain / c)) { r in
          let row = px + r * c
          for j in 0..<c { row[j] += pb[j] }
        }
      }
    }
  }

  /// out [C] (+)= Σ over rows of x [N, C] (f64 accumulation, rows in order).
  public func sumRows(_ x: Tensor, out: Tensor, accumulate: Bool) {
    let c = out.count
    precondition(c > 0 ? x.count % c == 0 : x.count == 0, "sumRows: x \(x.shape) into \(out.shape)")
    if c == 0 { return }
    let rows = x.count / c
    HostF32.read(x) { px in
      HostF32.write(out, load: accumulate) { po in
        // Each thread owns a range of columns and walks all rows in order.
        CPUParallel.forRanges(c, minPerThread: max(1, CPUBackend.elementwiseGrain / max(rows, 1))) { cols in
          var acc = [Double](repeating: 0, count: cols.count)
          acc.withUnsafeMutableBufferPointer { s in
            for r in 0..<rows {
              let row = px + r * c + cols.lowerBound
              for j in 0..<cols.count { s[j] += Double(row[j]) }
            }
            for j in 0..<cols.count {
              let col = cols.lowerBound + j
              po[col] = accumulate ? Float(Double(po[col]) + s[j]) : Float(s[j])
            }
          }
        }
      }
    }
  }
}
