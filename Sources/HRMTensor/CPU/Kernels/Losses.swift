// Losses.swift: CPU cross-entropy (stablemax in f64, softmax in f32), BCE with logits, and
// the reference's per-sequence loss weights.
//
// Stablemax (the reference's default): s(x) = x + 1 for x ≥ 0, 1/(1 − x + 1e-30) for x < 0,
// ce = −log(s(z_c) / Σ_j s(z_j)). Its gradient, with s'(x) = 1 (x ≥ 0) or s(x)² (x < 0):
//   d ce / d z_j = s'(z_j) / Σ s − [j = c]·s'(z_c)/s(z_c)
// where s'(z_c)/s(z_c) = 1/(z_c + 1) for z_c ≥ 0 and s(z_c) for z_c < 0.
// Rows whose label is −100 have loss 0 and gradient 0. Rows are independent tasks.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension CPUBackend {
  /// The label that marks an ignored position.
  public static let ignoreLabel: Int32 = -100

  /// Rows per thread below which the loss kernels stay on the calling thread.
  static func lossGrain(_ vocab: Int) -> Int { max(1, CPUBackend.elementwiseGrain / 4 / max(vocab, 1)) }

  @inline(__always)
  static func stablemaxS(_ x: Double) -> Double { x >= 0 ? x + 1 : 1 / (1 - x + 1e-30) }

  @inline(__always)
  static func checkedLabel(_ label: Int32, vocab: Int) -> Int? {
    if label == ignoreLabel { return nil }
    precondition(label >= 0 && Int(label) < vocab, "cross-entropy label \(label) outside 0..<\(vocab) (and not -100)")
    return Int(label)
  }

  /// losses [N] f32 = ce(logits[n], labels[n]) (0 where labels[n] == −100). logits [N, V].
  public func crossEntropyForward(kind: CrossEntropyKind, logits: Tensor, labels: Tensor, losses: Tensor) {
    let n = labels.count
    precondition(losses.count == n && (n == 0 ? true : logits.count % n == 0),
                 "crossEntropyForward: logits \(logits.shape), labels \(labels.shape), losses \(losses.shape)")
    if n == 0 { return }
    let v = logits.count / n
    let pl = labels.i32Pointer
    HostF32.read(logits) { pz in
      HostF32.write(losses, load: false) { pout in
        CPUParallel.forEach(n, minPerThread: CPUBackend.lossGrain(v)) { r in
          guard let c = CPUBackend.checkedLabel(pl[r], vocab: v) else { pout[r] = 0; return }
          let z = pz + r * v
          switch kind {
          case .stablemax:
            var total = 0.0
            for j in 0..<v { total += CPUBackend.stablemaxS(Double(z[j])) }
            pout[r] = Float(-log(CPUBackend.stablemaxS(Double(z[c])) / total))
          case .softmax:
            var mx = -Float.infinity
            for j in 0..<v { mx = max(mx, z[j]) }
            var sum: Float = 0
            for j in 0..<v { sum += expf(z[j] - mx) }
            pout[r] = (mx + logf(sum)) - z[c]
          }
        }
      }
    }
  }

  /// gradLogits [N, V] (overwritten) = gradScale[0]·weights[n]·d ce(n)/d logits[n];
  /// 0 on rows labelled −100. weights [N] f32, gradScale [1] f32.
  public func crossEntropyBackward(kind: CrossEntropyKind, logits: Tensor, labels: Tensor, weights: Tensor,
                                   gradScale: Tensor, gradLogits: Tensor) {
    let n = labels.count
    precondition(weights.count == n && gradScale.count == 1 && gradLogits.count == logits.count
                   && (n == 0 ? true : logits.count % n == 0),
                 "crossEntropyBackward: logits \(logits.shape), labels \(labels.shape), weights \(weights.shape), gradLogits \(gradLogits.shape)")
    if n == 0 { return }
    let v = logits.count / n
    let pl = labels.i32Pointer
    let upstream = HostF32.read(gradScale) { $0[0] }
    HostF32.read(logits) { pz in
      HostF32.read(weights) { pw in
        HostF32.write(gradLogits, load: false) { pg in
          CPUParallel.forEach(n, minPerThread: CPUBackend.lossGrain(v)) { r in
            let g = pg + r * v
            guard let c = CPUBackend.checkedLabel(pl[r], vocab: v) else {
              for j in 0..<v { g[j] = 0 }
              return
            }
            let z = pz + r * v
            switch kind {
            case .stablemax:
              let factor = Double(upstream) * Double(pw[r])
              var total = 0.0
              for j in 0..<v { total += CPUBackend.stablemaxS(Double(z[j])) }
              for j in 0..<v {
                let x = Double(z[j])
                let ds = x >= 0 ? 1 : CPUBackend.stablemaxS(x) * CPUBackend.stablemaxS(x)
                var d = ds / total
                if j == c { d -= x >= 0 ? 1 / (x + 1) : CPUBackend.stablemaxS(x) }
                g[j] = Float(factor * d)
              }
            case .softmax:
              let factor = upstream * pw[r]
              var mx = -Float.infinity
              for j in 0..<v { mx = max(mx, z[j]) }
              var sum: Float = 0
              for j in 0..<v { sum += expf(z[j] - mx) }
              let inv = 1 / sum
              for j in 0..<v {
                let p = expf(z[j] - mx) * inv
                g[j] = factor * (j == c ? p - 1 : p)
              }
            }
          }
        }
      }
    }
  }

  /// losses [N] = max(x, 0) − x·t + log(1 + exp(−|x|)) for logits x and targets t [N].
  public func bceWithLogitsForward(logits: Tensor, targets: Tensor, losses: Tensor) {
    let n = logits.count
    precondition(targets.count == n && losses.count == n,
                 "bceWithLogitsForward: logits \(logits.shape), targets \(targets.shape), losses \(losses.shape)")
    HostF32.read(logits) { px in
      HostF32.read(targets) { pt in
        HostF32.write(losses, load: false) { po in
          for i in 0..<n {
            let x = px[i]
            po[i] = max(x, 0) - x * pt[i] + log1pf(expf(-abs(x)))
          }
        }
      }
    }
  }

  /// gradLogits [N] = gradScale[0]·(sigmoid(logits) − targets).
  public func bceWithLogitsBackward(logits: Tensor, targets: Tensor, gradScale: Tensor, gradLogits: Tensor) {
    let n = logits.count
    precondition(targets.count == n && gradLogits.count == n && gradScale.count == 1,
                 "bceWithLogitsBackward: logits \(logits.shape), targets \(targets.shape), gradLogits \(gradLogits.shape)")
    let upstream = HostF32.read(gradScale) { $0[0] }
    HostF32.read(logits) { px in
      HostF32.read(targets) { pt in
        HostF32.write(gradLogits, load: false) { pg in
          for i in 0..<n { pg[i] = upstream * (CPUBackend.sigmoid(px[i]) - pt[i]) }
        }
      }
    }
  }

  /// weights [B, S] = labels != −100 ? 1/max(n_b, 1) : 0, n_b the valid labels of row b.
  public func rowNormalizedWeights(labels: Tensor, weights: Tensor) {
    precondition(labels.count == weights.count && labels.rank >= 1,
                 "rowNormalizedWeights: labels \(labels.shape), weights \(weights.shape)")
    let b = labels.shape[0]
    if b == 0 || labels.count == 0 { return }
    let s = labels.count / b
    let pl = labels.i32Pointer
    HostF32.write(weights, load: false) { pw in
      for r in 0..<b {
        let row = pl + r * s
        var valid = 0
        for j in 0..<s where row[j] != CPUBackend.ignoreLabel { valid += 1 }
        let w = 1 / Float(max(valid, 1))
        for j in 0..<s { pw[r * s + j] = row[j] != CPUBackend.ignoreLabel ? w : 0 }
      }
    }
  }
}
