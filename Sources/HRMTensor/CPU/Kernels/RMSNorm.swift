// RMSNorm.swift: CPU RMSNorm without weight, forward and backward, one row per task.
//
// Forward: rstd = 1/sqrt(mean(x²) + eps) in f32 (saved, always f32), y = x·rstd.
// Backward from the saved output y: dx = rstd·(dy − y·mean(dy·y)), which is the exact
// gradient because y·rstd⁻¹ = x.

extension CPUBackend {
  /// out [N, D] = x·rstd, rstd [N] f32 = 1/sqrt(mean(x²) + eps).
  public func rmsNormForward(_ x: Tensor, out: Tensor, rstd: Tensor, eps: Float) {
    let n = rstd.count
    precondition(x.count == out.count && (n == 0 ? x.count == 0 : x.count % n == 0),
                 "rmsNormForward: x \(x.shape), out \(out.shape), rstd \(rstd.shape)")
    if n == 0 { return }
    let d = x.count / n
    let pr = rstd.f32Pointer
    HostF32.read(x) { px in
      HostF32.write(out, load: false) { po in
        CPUParallel.forEach(n, minPerThread: max(1, CPUBackend.elementwiseGrain / max(d, 1))) { r in
          let xr = px + r * d, yr = po + r * d
          let ms = d == 0 ? 0 : HostMath.dot(xr, xr, d) / Float(d)
          let s = 1 / (ms + eps).squareRoot()
          pr[r] = s
          for j in 0..<d { yr[j] = xr[j] * s }
        }
      }
    }
  }

  /// out [N, D] = s·rstd with s = a + b rounded to out's dtype, rstd [N] f32 = 1/sqrt(mean(s²) + eps):
  /// bit-identical to `addScaled(a, 1, b, 1)` followed by `rmsNormForward`.
  public func addRMSNormForward(_ a: Tensor, _ b: Tensor, out: Tensor, rstd: Tensor, eps: Float) {
    let n = rstd.count
    precondition(a.count == out.count && b.count == out.count && a.dtype == out.dtype && b.dtype == out.dtype
                   && (n == 0 ? out.count == 0 : out.count % n == 0),
                 "addRMSNormForward: a \(a.shape), b \(b.shape), out \(out.shape), rstd \(rstd.shape)")
    if n == 0 { return }
    let d = out.count / n
    let roundSum = out.dtype == .bf16
    let pr = rstd.f32Pointer
    HostF32.read(a) { pa in
      HostF32.read(b) { pb in
        HostF32.write(out, load: false) { po in
          CPUParallel.forEach(n, minPerThread: max(1, CPUBackend.elementwiseGrain / max(d, 1))) { r in
            let ar = pa + r * d, br = pb + r * d, yr = po + r * d
            for j in 0..<d {
              let s = ar[j] + br[j]
              yr[j] = roundSum ? BF16.toFloat(BF16.fromFloat(s)) : s
            }
            let ms = d == 0 ? 0 : HostMath.dot(yr, yr, d) / Float(d)
            let s = 1 / (ms + eps).squareRoot()
            pr[r] = s
            for j in 0..<d { yr[j] *= s }
          }
        }
      }
    }
  }

  /// gradX [N, D] = rstd·(gradOut − y·mean(gradOut·y)), y the forward output.
  public func rmsNormBackward(gradOut: Tensor, y: Tensor, rstd: Tensor, gradX: Tensor) {
    let n = rstd.count
    precondition(gradOut.count == y.count && y.count == gradX.count && (n == 0 ? y.count == 0 : y.count % n == 0),
                 "rmsNormBackward: gradOut \(gradOut.shape), y \(y.shape), rstd \(rstd.shape), gradX \(gradX.shape)")
    if n == 0 { return }
    let d = y.count / n
    let pr = rstd.f32Pointer
    HostF32.read(gradOut) { pg in
      HostF32.read(y) { py in
        HostF32.write(gradX, load: false) { pdx in
          CPUParallel.forEach(n, minPerThread: max(1, CPUBackend.elementwiseGrain / max(d, 1))) { r in
            let gr = pg + r * d, yr = py + r * d, dr = pdx + r * d
            let mean = d == 0 ? 0 : HostMath.dot(gr, yr, d) / Float(d)
            let s = pr[r]
            for j in 0..<d { dr[j] = s * (gr[j] - yr[j] * mean) }
          }
        }
      }
    }
  }
}
