// Attention.swift: CPU fused non-causal multi-head attention, forward and backward.
//
// One task per (batch, head); each thread keeps its own [T, T] scratch and writes only its
// head's columns, so results are deterministic. The per-head products go through
// CPUGEMM.sgemm on strided views of the fused qkv rows (row stride 3·H·Dh):
//   forward   S = scale·Q·Kᵀ, lse_i = logsumexp_j S_ij, P = exp(S − lse), O = P·V
// (exponentials on eight lanes, HostMath.exp8)
//   backward  P recomputed from lse; dP = dO·Vᵀ; D_i = rowsum(dO ∘ O); dS = P ∘ (dP − D);
//             dQ = scale·dS·K; dK = scale·dSᵀ·Q; dV = Pᵀ·dO.
// Not here: masks, dropout, causal attention (HRM uses none of them).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension CPUBackend {
  /// qkv [B, T, 3·H·Dh] -> out [B, T, H·Dh] = softmax(scale·Q·Kᵀ)·V per head (head-major
  /// columns); lse [B, H, T] f32 receives each query row's log-sum-exp of scale·Q·Kᵀ.
  public func attentionForward(qkv: Tensor, out: Tensor, lse: Tensor, batch: Int, seq: Int,
                               heads: Int, headDim: Int, scale: Float) {
    let ld = 3 * heads * headDim, ldo = heads * headDim
    precondition(qkv.count == batch * seq * ld && out.count == batch * seq * ldo && lse.count == batch * heads * seq,
                 "attentionForward: qkv \(qkv.shape), out \(out.shape), lse \(lse.shape) for B \(batch) T \(seq) H \(heads) Dh \(headDim)")
    if batch == 0 || seq == 0 || heads == 0 { return }
    if headDim == 0 {
      // Empty heads: scores are all 0, so lse = log T and the output is empty.
      let pl = lse.f32Pointer
      for i in 0..<(batch * heads * seq) { pl[i] = logf(Float(seq)) }
      return
    }
    let pl = lse.f32Pointer
    HostF32.read(qkv) { px in
      HostF32.write(out, load: false) { po in
        CPUParallel.forRanges(batch * heads) { tasks in
          let p = UnsafeMutablePointer<Float>.allocate(capacity: seq * seq)
          defer { p.deallocate() }
          for task in tasks {
            let (b, h) = (task / heads, task % heads)
            let q = px + b * seq * ld + h * headDim
            let k = q + heads * headDim, v = q + 2 * heads * headDim
            CPUGEMM.sgemm(transA: false, transB: true, m: seq, n: seq, k: headDim, alpha: scale,
                          a: q, lda: ld, b: k, ldb: ld, beta: 0, c: p, ldc: seq)
            let lseRow = pl + task * seq
            for i in 0..<seq {
              let row = p + i * seq
              let mx = HostMath.maximum(row, seq)
              let sum = HostMath.expShifted(row, seq, shift: mx)
              lseRow[i] = mx + logf(sum)
              let inv = 1 / sum
              for j in 0..<seq { row[j] *= inv }
            }
            CPUGEMM.sgemm(transA: false, transB: false, m: seq, n: headDim, k: seq, alpha: 1,
                          a: p, lda: seq, b: v, ldb: ld, beta: 0, c: po + b * seq * ldo + h * headDim, ldc: ldo)
          }
        }
      }
    }
  }

  /// gradQKV [B, T, 3·H·Dh] (overwritten) from gradOut [B, T, H·Dh], using the forward's
  /// qkv, out and lse.
  public func attentionBackward(qkv: Tensor, out: Tensor, lse: Tensor, gradOut: Tensor, gradQKV: Tensor,
                                batch: Int, seq: Int, heads: Int, headDim: Int, scale: Float) {
    let ld = 3 * heads * headDim, ldo = heads * headDim
    precondition(qkv.count == batch * seq * ld && gradQKV.count == qkv.count && out.count == batch * seq * ldo
                   && gradOut.count == out.count && lse.count == batch * heads * seq,
                 "attentionBackward: qkv \(qkv.shape), out \(out.shape), lse \(lse.shape), gradOut \(gradOut.shape), gradQKV \(gradQKV.shape)")
    if batch == 0 || seq == 0 || heads == 0 || headDim == 0 { return }
    let pl = lse.f32Pointer
    HostF32.read(qkv) { px in
      HostF32.read(out) { pout in
        HostF32.read(gradOut) { pgo in
          HostF32.write(gradQKV, load: false) { pgx in
            CPUParallel.forRanges(batch * heads) { tasks in
              let p = UnsafeMutablePointer<Float>.allocate(capacity: seq * seq)
              let ds = UnsafeMutablePointer<Float>.allocate(capacity: seq * seq)
              let rowD = UnsafeMutablePointer<Float>.allocate(capacity: seq)
              defer { p.deallocate(); ds.deallocate(); rowD.deallocate() }
              for task in tasks {
                let (b, h) = (task / heads, task % heads)
                let q = px + b * seq * ld + h * headDim
                let k = q + heads * headDim, v = q + 2 * heads * headDim
                let o = pout + b * seq * ldo + h * headDim
                let dO = pgo + b * seq * ldo + h * headDim
                let dq = pgx + b * seq * ld + h * headDim
                let dk = dq + heads * headDim, dv = dq + 2 * heads * headDim
                let lseRow = pl + task * seq
                // P = exp(scale·Q·Kᵀ − lse), recomputed.
                CPUGEMM.sgemm(transA: false, transB: true, m: seq, n: seq, k: headDim, alpha: scale,
                              a: q, lda: ld, b: k, ldb: ld, beta: 0, c: p, ldc: seq)
                for i in 0..<seq {
                  _ = HostMath.expShifted(p + i * seq, seq, shift: lseRow[i])
                  rowD[i] = HostMath.dot(dO + i * ldo, o + i * ldo, headDim)
                }
                // dP = dO·Vᵀ, then dS = P ∘ (dP − D) in place.
                CPUGEMM.sgemm(transA: false, transB: true, m: seq, n: seq, k: headDim, alpha: 1,
                              a: dO, lda: ldo, b: v, ldb: ld, beta: 0, c: ds, ldc: seq)
                for i in 0..<seq {
                  let pr = p + i * seq, dr = ds + i * seq, d = rowD[i]
                  for j in 0..<seq { dr[j] = pr[j] * (dr[j] - d) }
                }
                CPUGEMM.sgemm(transA: false, transB: false, m: seq, n: headDim, k: seq, alpha: scale,
                              a: ds, lda: seq, b: k, ldb: ld, beta: 0, c: dq, ldc: ld)
                CPUGEMM.sgemm(transA: true, transB: false, m: seq, n: headDim, k: seq, alpha: scale,
                              a: ds, lda: seq, b: q, ldb: ld, beta: 0, c: dk, ldc: ld)
                CPUGEMM.sgemm(transA: true, transB: false, m: seq, n: headDim, k: seq, alpha: 1,
                              a: p, lda: seq, b: dO, ldb: ldo, beta: 0, c: dv, ldc: ld)
              }
            }
          }
        }
      }
    }
  }
}
