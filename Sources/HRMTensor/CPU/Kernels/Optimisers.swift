// Optimisers.swift: CPU AdamATan2 (spec §5.2) and sparse sign-SGD for the puzzle table (§5.3).
//
// AdamATan2 is elementwise, split into ranges and computed on eight lanes (atan2 from
// HostMath.atan2NonNegative8, ~2 ulp like CUDA's atan2f). Sparse sign-SGD first sums the
// gradient rows of each distinct id in row order, then updates each distinct row once, so
// duplicate ids are handled deterministically.

extension CPUBackend {
  /// One AdamATan2 step (the reference kernel's form: a = b = 1, 1/bc1 outside the atan2, no
  /// epsilon), in f32:
  ///   p ← p·(1 − lr·wd); m ← m + (1−β1)(g − m); v ← v + (1−β2)(g² − v);
  ///   p ← p − (lr/bc1)·atan2(m, sqrt(v)/sqrt(bc2)),
  /// with bc1 = 1 − β1^t and bc2 = 1 − β2^t supplied by the caller.
  public func adamATan2Step(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, lr: Float, beta1: Float,
                            beta2: Float, weightDecay: Float, biasCorrection1: Float, biasCorrection2: Float) {
    let n = param.count
    precondition(grad.count == n && m.count == n && v.count == n,
                 "adamATan2Step: param \(param.shape), grad \(grad.shape), m \(m.shape), v \(v.shape)")
    let decay = 1 - lr * weightDecay
    let stepSize = lr / biasCorrection1
    let bc2Sqrt = biasCorrection2.squareRoot()
    let (mb1, mb2) = (1 - beta1, 1 - beta2)
    // One step on eight lanes. Loop tails run through the same function on padded vectors,
    // so every element gets the same arithmetic wherever the ranges are cut.
    @inline(__always)
    func lanes(_ p: inout SIMD8<Float>, _ g: SIMD8<Float>, _ m: inout SIMD8<Float>, _ v: inout SIMD8<Float>) {
      // lerp as the reference kernel writes it: m + t·(g − m) = fma(t, g, fma(−t, m, m)).
      m = m.addingProduct(-mb1, m).addingProduct(mb1, g)
      v = v.addingProduct(-mb2, v).addingProduct(mb2, g * g)
      p = p * decay - stepSize * HostMath.atan2NonNegative8(m, v.squareRoot() / bc2Sqrt)
    }
    HostF32.read(grad) { pg in
      HostF32.write(param, load: true) { pp in
        HostF32.write(m, load: true) { pm in
          HostF32.write(v, load: true) { pv in
            CPUParallel.forRanges(n, minPerThread: CPUBackend.elementwiseGrain) { r in
              var i = r.lowerBound
              while i + 8 <= r.upperBound {
                var (p8, m8, v8) = (HostMath.load8(pp + i), HostMath.load8(pm + i), HostMath.load8(pv + i))
                lanes(&p8, HostMath.load8(pg + i), &m8, &v8)
                HostMath.store8(p8, pp + i); HostMath.store8(m8, pm + i); HostMath.store8(v8, pv + i)
                i += 8
              }
              if i < r.upperBound {
                var (p8, g8, m8, v8) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
                for l in 0..<(r.upperBound - i) { p8[l] = pp[i + l]; g8[l] = pg[i + l]; m8[l] = pm[i + l]; v8[l] = pv[i + l] }
                lanes(&p8, g8, &m8, &v8)
                for l in 0..<(r.upperBound - i) { pp[i + l] = p8[l]; pm[i + l] = m8[l]; pv[i + l] = v8[l] }
              }
            }
          }
        }
      }
    }
  }

  /// Sparse sign-SGD on table [R, D]: g_u = Σ grads rows with ids == u (row order), then for
  /// each distinct id u: table[u] ← table[u]·(1 − lr·wd) − lr·sign(g_u), sign(0) = 0
  /// (a NaN sum also counts as 0). Rows not in ids are untouched.
  public func sparseSignSGDStep(table: Tensor, ids: Tensor, grads: Tensor, lr: Float, weightDecay: Float) {
    precondition(table.rank == 2, "sparseSignSGDStep: table must be [R, D], got \(table.shape)")
    let (rows, d) = (table.shape[0], table.shape[1])
    let n = ids.count
    precondition(grads.count == n * d, "sparseSignSGDStep: grads \(grads.shape) for \(n) ids of width \(d)")
    if n == 0 || d == 0 { return }
    let pid = ids.i32Pointer
    for i in 0..<n {
      precondition(pid[i] >= 0 && Int(pid[i]) < rows, "sparse sign-SGD id \(pid[i]) outside a table of \(rows) rows")
    }
    // Positions grouped by id (stable: equal ids keep row order).
    let order = (0..<n).sorted { (pid[$0], $0) < (pid[$1], $1) }
    var groupStarts: [Int] = []
    for k in 0..<n where k == 0 || pid[order[k]] != pid[order[k - 1]] { groupStarts.append(k) }
    groupStarts.append(n)
    let groups = groupStarts.count - 1
    let decay = 1 - lr * weightDecay
    HostF32.read(grads) { pg in
      HostF32.write(table, load: true) { pt in
        order.withUnsafeBufferPointer { ord in
          groupStarts.withUnsafeBufferPointer { starts in
            CPUParallel.forRanges(groups, minPerThread: max(1, CPUBackend.elementwiseGrain / 4 / d)) { range in
              let sum = UnsafeMutablePointer<Float>.allocate(capacity: d)
              defer { sum.deallocate() }
              for gi in range {
                sum.update(repeating: 0, count: d)
                for k in starts[gi]..<starts[gi + 1] {
                  let src = pg + ord[k] * d
                  for j in 0..<d { sum[j] += src[j] }
                }
                let row = pt + Int(pid[ord[starts[gi]]]) * d
                for j in 0..<d {
                  let s: Float = sum[j] > 0 ? 1 : (sum[j] < 0 ? -1 : 0)
                  row[j] = row[j] * decay - lr * s
                }
              }
            }
          }
        }
      }
    }
  }
}
