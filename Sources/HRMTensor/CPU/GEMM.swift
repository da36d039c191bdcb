// GEMM.swift: single-precision matrix multiply for the CPU backend.
// (Placeholder: a plain triple loop; the blocked SIMD version replaces it.)

public enum CPUGEMM {
  /// C = alpha * op(A) * op(B) + beta * C, row-major with leading dimensions.
  /// op(A) is [m, k]: A is [m, k] (lda >= k) or, when transA, [k, m] (lda >= m).
  /// op(B) is [k, n]: B is [k, n] (ldb >= n) or, when transB, [n, k] (ldb >= k).
  /// beta == 0 ignores C's old contents.
  public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    naive(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
          b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
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
}
