// Losses.swift: differentiable scalar losses and their reductions.
//
// Every loss returns a one-element f32 tensor on the device; the upstream gradient of a
// scalar stays on the device as well (the kernels take it as `gradScale`), so a training
// step needs no host round trip until metrics are read.

import Foundation

/// Σ_n weights[n] · ce(logits[n], labels[n]) -> [1] f32.
/// logits [N, V] (or [B, S, V]), labels [N] i32 with -100 = ignore, weights [N] f32.
public func weightedCrossEntropy(_ kind: CrossEntropyKind, logits: Tensor, labels: Tensor,
                                 weights: Tensor) -> Tensor {
  let v = logits.shape.last ?? 1
  let n = logits.count / v
  check(labels.dtype == .i32 && labels.count == n, "crossEntropy: labels \(labels.shape) for logits \(logits.shape)")
  check(weights.count == n && weights.dtype == .f32, "crossEntropy: weights \(weights.shape) for \(n) rows")
  let backend = logits.backend
  let flat = logits.reshapedRaw([n, v])
  let losses = Tensor.empty([n], .f32, on: backend)
  backend.crossEntropyForward(kind: kind, logits: flat, labels: labels, losses: losses)
  let out = Tensor.empty([1], .f32, on: backend)
  backend.dot(losses, weights, out: out, accumulate: false)
  return Autodiff.record(out, inputs: [logits]) { g in
    let gl = Tensor.empty(logits.shape, logits.dtype, on: backend)
    backend.crossEntropyBackward(kind: kind, logits: flat, labels: labels, weights: weights, gradScale: g,
                                 gradLogits: gl.reshapedRaw([n, v]))
    return [gl]
  }
}

/// Σ_n BCEWithLogits(logits[n], targets[n]) -> [1] f32. logits, targets [N] f32.
public func bceWithLogitsSum(logits: Tensor, targets: Tensor) -> Tensor {
  check(logits.count == targets.count, "bce: logits \(logits.shape) vs targets \(targets.shape)")
  check(logits.dtype == .f32 && targets.dtype == .f32, "bce: logits and targets must be f32")
  let backend = logits.backend
  let losses = Tensor.empty([logits.count], .f32, on: backend)
  backend.bceWithLogitsForward(logits: logits, targets: targets, losses: losses)
  let out = Tensor.empty([1], .f32, on: backend)
  backend.sum(losses, out: out, accumulate: false)
  return Autodiff.record(out, inputs: [logits]) { g in
    let gl = Tensor.empty(logits.shape, .f32, on: backend)
    backend.bceWithLogitsBackward(logits: logits, targets: targets, gradScale: g, gradLogits: gl)
    return [gl]
  }
}

/// Sum of all elements -> [1] f32 (gradient: the upstream scalar broadcast).
public func sumAll(_ x: Tensor) -> Tensor {
  let backend = x.backend
  let out = Tensor.empty([1], .f32, on: backend)
  backend.sum(x, out: out, accumulate: false)
  return Autodiff.record(out, inputs: [x]) { g in
    // d sum / dx = 1: broadcast the upstream scalar with a [N,1]x[1,1] product.
    let ones = Tensor.full([x.count, 1], 1, .f32, on: backend)
    let gx = Tensor.empty([x.count, 1], .f32, on: backend)
    backend.gemm(transA: false, transB: false, m: x.count, n: 1, k: 1, alpha: 1, ones, g.reshapedRaw([1, 1]),
                 beta: 0, gx)
    let r = gx.reshapedRaw(x.shape)
    if x.dtype == .f32 { return [r] }
    let c = Tensor.empty(x.shape, x.dtype, on: backend)
    backend.copy(r, to: c)
    return [c]
  }
}

/// Σ a ⊙ w for a constant weight tensor w (same element count) -> [1] f32.
public func weightedSum(_ a: Tensor, weights w: Tensor) -> Tensor {
  check(a.count == w.count, "weightedSum: \(a.shape) vs \(w.shape)")
  let backend = a.backend
  let out = Tensor.empty([1], .f32, on: backend)
  backend.dot(a, w, out: out, accumulate: false)
  return Autodiff.record(out, inputs: [a]) { g in
    // d/da = g · w: a [N,1]x[1,1] product keeps the scalar on the device.
    let gx = Tensor.empty([a.count, 1], .f32, on: backend)
    let wf = w.dtype == .f32 ? w : w.detachedCopyAs(.f32)
    backend.gemm(transA: false, transB: false, m: a.count, n: 1, k: 1, alpha: 1, wf.reshapedRaw([a.count, 1]),
                 g.reshapedRaw([1, 1]), beta: 0, gx)
    if a.dtype == .f32 { return [gx.reshapedRaw(a.shape)] }
    let c = Tensor.empty(a.shape, a.dtype, on: backend)
    backend.copy(gx.reshapedRaw(a.shape), to: c)
    return [c]
  }
}

extension Tensor {
  func detachedCopyAs(_ dtype: DType) -> Tensor {
    let t = Tensor.empty(shape, dtype, on: backend)
    backend.copy(self, to: t)
    return t
  }
}
