// ACT.swift: CPU bookkeeping of adaptive computation time (spec §3), all on [B] vectors.
//
// actHalt advances the step counters and decides which rows halt; actTarget forms the
// Q-learning target for the continue head. Both are tiny loops on the calling thread.

extension CPUBackend {
  /// steps i32 += 1; halted i32 = steps ≥ maxSteps; when `useQ` (training with
  /// maxSteps > 1): halted |= qHalt > qCont, then halted &= steps ≥ minSteps (minSteps i32,
  /// 0 = no minimum). Without `useQ`, qHalt, qCont and minSteps are not read.
  public func actHalt(steps: Tensor, qHalt: Tensor, qCont: Tensor, minSteps: Tensor, maxSteps: Int,
                      useQ: Bool, halted: Tensor) {
    let b = steps.count
    precondition(halted.count == b && (!useQ || (qHalt.count == b && qCont.count == b && minSteps.count == b)),
                 "actHalt: steps \(steps.shape), qHalt \(qHalt.shape), qCont \(qCont.shape), minSteps \(minSteps.shape), halted \(halted.shape)")
    let ps = steps.i32Pointer, ph = halted.i32Pointer
    if !useQ {
      for i in 0..<b {
        ps[i] += 1
        ph[i] = Int(ps[i]) >= maxSteps ? 1 : 0
      }
      return
    }
    let pm = minSteps.i32Pointer
    HostF32.read(qHalt) { qh in
      HostF32.read(qCont) { qc in
        for i in 0..<b {
          ps[i] += 1
          var h = Int(ps[i]) >= maxSteps || qh[i] > qc[i]
          h = h && ps[i] >= pm[i]
          ph[i] = h ? 1 : 0
        }
      }
    }
  }

  /// target [B] = sigmoid(steps ≥ maxSteps ? nextQHalt : max(nextQHalt, nextQCont)).
  public func actTarget(nextQHalt: Tensor, nextQCont: Tensor, steps: Tensor, maxSteps: Int, target: Tensor) {
    let b = steps.count
    precondition(nextQHalt.count == b && nextQCont.count == b && target.count == b,
                 "actTarget: nextQHalt \(nextQHalt.shape), nextQCont \(nextQCont.shape), steps \(steps.shape), target \(target.shape)")
    let ps = steps.i32Pointer
    HostF32.read(nextQHalt) { qh in
      HostF32.read(nextQCont) { qc in
        HostF32.write(target, load: false) { pt in
          for i in 0..<b {
            let x = Int(ps[i]) >= maxSteps ? qh[i] : max(qh[i], qc[i])
            pt[i] = CPUBackend.sigmoid(x)
          }
        }
      }
    }
  }
}
