// Reductions.swift: CPU scalar reductions (sum, dot, sum of squares), argmax and the LM
// accuracy counts.
//
// Scalar reductions add in f64 over fixed blocks of `reductionBlock` elements, then add the
// block sums in block order: the result is deterministic and the same for any thread count.
// argmax breaks ties toward the lowest index (a later value must be strictly larger).

extension CPUBackend {
  /// Elements per block of a scalar reduction (fixed, so results do not depend on threads).
  static let reductionBlock = 4096

  /// Σ over 0..<n in f64, blockwise as described above: `block(range)` returns the f64 sum of
  /// one block (ranges are fixed `reductionBlock` windows, added in order).
  static func blockedSum(_ n: Int, _ block: (Range<Int>) -> Double) -> Double {
    if n <= 0 { return 0 }
    let blocks = (n + reductionBlock - 1) / reductionBlock
    if blocks == 1 { return block(0..<n) }
    let partial = UnsafeMutablePointer<Double>.allocate(capacity: blocks)
    defer { partial.deallocate() }
    CPUParallel.forEach(blocks, minPerThread: 8) { blk in
      partial[blk] = block((blk * reductionBlock)..<min(n, (blk + 1) * reductionBlock))
    }
    var total = 0.0
    for blk in 0..<blocks { total += partial[blk] }
    return total
  }

  /// Σ f(i) over `range` in f64 with four interleaved accumulators (a fixed order).
  @inline(__always)
  static func sum4(_ range: Range<Int>, _ f: (Int) -> Double) -> Double {
    var (s0, s1, s2, s3) = (0.0, 0.0, 0.0, 0.0)
    var i = range.lowerBound
    while i + 4 <= range.upperBound {
      s0 += f(i); s1 += f(i + 1); s2 += f(i + 2); s3 += f(i + 3)
      i += 4
    }
    while i < range.upperBound { s0 += f(i); i += 1 }
    return (s0 + s1) + (s2 + s3)
  }

  /// Writes (or adds) a scalar into the one-element float tensor `out`.
  static func storeScalar(_ value: Double, into out: Tensor, accumulate: Bool) {
    precondition(out.count == 1, "reduction output must have one element, got \(out.shape)")
    HostF32.write(out, load: accumulate) { po in
      po[0] = accumulate ? Float(Double(po[0]) + value) : Float(value)
    }
  }

  /// out [1] f32 (+)= Σ x (f64 accumulation).
  public func sum(_ x: Tensor, out: Tensor, accumulate: Bool) {
    let total = HostF32.read(x) { px in
      CPUBackend.blockedSum(x.count) { r in CPUBackend.sum4(r) { Double(px[$0]) } }
    }
    CPUBackend.storeScalar(total, into: out, accumulate: accumulate)
  }

  /// out [1] f32 (+)= Σ a·b (same element count; f64 accumulation).
  public func dot(_ a: Tensor, _ b: Tensor, out: Tensor, accumulate: Bool) {
    precondition(a.count == b.count, "dot: \(a.shape) vs \(b.shape)")
    let total = HostF32.read(a) { pa in
      HostF32.read(b) { pb in
        CPUBackend.blockedSum(a.count) { r in CPUBackend.sum4(r) { Double(pa[$0]) * Double(pb[$0]) } }
      }
    }
    CPUBackend.storeScalar(total, into: out, accumulate: accumulate)
  }

  /// out [1] f32 (+)= Σ x² (f64 accumulation).
  public func sumOfSquares(_ x: Tensor, out: Tensor, accumulate: Bool) {
    let total = HostF32.read(x) { px in
      CPUBackend.blockedSum(x.count) { r in CPUBackend.sum4(r) { let v = Double(px[$0]); return v * v } }
    }
    CPUBackend.storeScalar(total, into: out, accumulate: accumulate)
  }

  /// Index of the largest of z[0..<v] (ties: lowest index; NaN never wins).
  @inline(__always)
  static func argmaxRow(_ z: UnsafePointer<Float>, _ v: Int) -> Int {
    var best = 0
    var bestValue = z[0]
    for j in 1..<max(v, 1) where z[j] > bestValue || (bestValue.isNaN && !z[j].isNaN) {
      best = j
      bestValue = z[j]
    }
    return best
  }

  /// logits [B, S, V], labels [B, S] i32 -> valid [B] i32 (labels != −100), correct [B] i32
  /// (valid positions whose argmax equals the label), seqCorrect [B] f32 (correct == valid).
  public func tokenCorrectness(logits: Tensor, labels: Tensor, valid: Tensor, correct: Tensor, seqCorrect: Tensor) {
    let b = valid.count
    precondition(correct.count == b && seqCorrect.count == b && (b == 0 ? labels.count == 0 : labels.count % b == 0),
                 "tokenCorrectness: labels \(labels.shape), valid \(valid.shape), correct \(correct.shape), seqCorrect \(seqCorrect.shape)")
    if b == 0 { return }
    let s = labels.count / b
    precondition(s == 0 ? logits.count == 0 : logits.count % (b * s) == 0,
                 "tokenCorrectness: logits \(logits.shape) for labels \(labels.shape)")
    let v = s == 0 ? 0 : logits.count / (b * s)
    let pl = labels.i32Pointer, pv = valid.i32Pointer, pc = correct.i32Pointer
    HostF32.read(logits) { pz in
      HostF32.write(seqCorrect, load: false) { ps in
        CPUParallel.forEach(b, minPerThread: max(1, CPUBackend.elementwiseGrain / 4 / max(s * v, 1))) { r in
          var nValid: Int32 = 0, nCorrect: Int32 = 0
          for t in 0..<s {
            let label = pl[r * s + t]
            if label == CPUBackend.ignoreLabel { continue }
            nValid += 1
            if v > 0 && Int(label) == CPUBackend.argmaxRow(pz + (r * s + t) * v, v) { nCorrect += 1 }
          }
          pv[r] = nValid
          pc[r] = nCorrect
          ps[r] = nCorrect == nValid ? 1 : 0
        }
      }
    }
  }

  /// out [N] i32 = argmax over the last axis of logits [N, V] (ties: lowest index).
  public func argmax(_ logits: Tensor, out: Tensor) {
    let n = out.count
    precondition(n == 0 ? true : logits.count % n == 0 && logits.count > 0,
                 "argmax: logits \(logits.shape) -> out \(out.shape)")
    if n == 0 { return }
    let v = logits.count / n
    let po = out.i32Pointer
    HostF32.read(logits) { pz in
      CPUParallel.forEach(n, minPerThread: max(1, CPUBackend.elementwiseGrain / 4 / v)) { r in
        po[r] = Int32(CPUBackend.argmaxRow(pz + r * v, v))
      }
    }
  }
}
