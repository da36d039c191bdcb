// Layers.swift: differentiable linear, embedding, RMSNorm, RoPE, attention and SwiGLU.
//
// Shape letters: N rows, B batch, T sequence, D hidden, H heads, Dh head dim, I SwiGLU width.
// Weights are stored [out, in] as in PyTorch; `linear` computes y = x Wᵀ (+ b).
// Weights in another dtype than the activations are cast at use (the reference casts its
// f32 parameters to the forward dtype at every use).

import Foundation

/// The checked pieces of a projection x [..., in] · weightᵀ (weight [_, in]): the weight in
/// x's dtype, the row count and a fresh output [..., width].
private func projection(_ op: String, _ x: Tensor, _ weight: Tensor, width: Int) -> (w: Tensor, rows: Int, out: Tensor) {
  let inF = weight.shape[1]
  check(x.shape.last == inF, "\(op): input \(x.shape) does not end in \(inF) (weight \(weight.shape))")
  let w = weight.dtype == x.dtype ? weight : castTensor(weight, to: x.dtype)
  var shape = x.shape
  shape[shape.count - 1] = width
  return (w, x.count / inF, Tensor.empty(shape, x.dtype, on: x.backend))
}

/// y [..., out] = x [..., in] · weightᵀ (+ bias). weight [out, in].
public func linear(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil) -> Tensor {
  check(weight.rank == 2, "linear: weight must be [out, in], got \(weight.shape)")
  let inF = weight.shape[1], outF = weight.shape[0]
  let (w, rows, out) = projection("linear", x, weight, width: outF)
  let backend = x.backend
  backend.gemm(transA: false, transB: true, m: rows, n: outF, k: inF, alpha: 1, x, w, beta: 0, out)
  var inputs = [x, w]
  if let bias = bias {
    check(bias.count == outF, "linear: bias \(bias.shape) for \(outF) outputs")
    let b = bias.dtype == x.dtype ? bias : castTensor(bias, to: x.dtype)
    backend.addBias(out.reshapedRaw([rows, outF]), bias: b)
    inputs.append(b)
  }
  let hasBias = bias != nil
  return Autodiff.record(out, inputs: inputs) { g in
    var gx: Tensor? = nil
    var gw: Tensor? = nil
    if x.requiresGrad {
      let t = Tensor.empty(x.shape, x.dtype, on: backend)
      backend.gemm(transA: false, transB: false, m: rows, n: inF, k: outF, alpha: 1, g, w, beta: 0, t)
      gx = t
    }
    if w.requiresGrad {
      let t = Tensor.empty(w.shape, w.dtype, on: backend)
      backend.gemm(transA: true, transB: false, m: outF, n: inF, k: rows, alpha: 1, g, x, beta: 0, t)
      gw = t
    }
    var result = [gx, gw]
    if hasBias {
      let b = inputs[2]
      var gb: Tensor? = nil
      if b.requiresGrad {
        let t = Tensor.empty(b.shape, b.dtype, on: backend)
        backend.sumRows(g.reshapedRaw([rows, outF]), out: t, accumulate: false)
        gb = t
      }
      result.append(gb)
    }
    return result
  }
}

/// table [R, D] rows gathered by ids [N] (i32) -> [N, D] in the table's dtype.
public func embedding(_ table: Tensor, ids: Tensor) -> Tensor {
  check(table.rank == 2, "embedding: table must be [R, D], got \(table.shape)")
  check(ids.dtype == .i32, "embedding: ids must be i32, got \(ids.dtype)")
  let out = Tensor.empty([ids.count, table.shape[1]], table.dtype, on: table.backend)
  table.backend.embeddingForward(table: table, ids: ids, out: out)
  return Autodiff.record(out, inputs: [table]) { g in
    let gt = Tensor.zeros(table.shape, table.dtype, on: g.backend)
    g.backend.embeddingBackward(gradOut: g, ids: ids, gradTable: gt)
    return [gt]
  }
}

/// RMSNorm without weight over the last axis: x / sqrt(mean(x²) + eps), statistics in f32.
public func rmsNorm(_ x: Tensor, eps: Float) -> Tensor {
  let d = x.shape.last ?? 1
  let rows = x.count / d
  let out = Tensor.empty(x.shape, x.dtype, on: x.backend)
  let rstd = Tensor.empty([rows], .f32, on: x.backend)
  x.backend.rmsNormForward(x.reshapedRaw([rows, d]), out: out.reshapedRaw([rows, d]), rstd: rstd, eps: eps)
  return Autodiff.record(out, inputs: [x]) { g in
    let gx = Tensor.empty(x.shape, x.dtype, on: g.backend)
    g.backend.rmsNormBackward(gradOut: g.reshapedRaw([rows, d]), y: out.reshapedRaw([rows, d]), rstd: rstd,
                              gradX: gx.reshapedRaw([rows, d]))
    return [gx]
  }
}

/// rmsNorm(a + b) in one backend pass (the post-norm residual): same values as
/// `rmsNorm(add(a, b), eps:)`, without writing and re-reading the sum.
public func addRMSNorm(_ a: Tensor, _ b: Tensor, eps: Float) -> Tensor {
  check(a.count == b.count, "addRMSNorm: shapes \(a.shape) and \(b.shape) differ")
  check(a.dtype == b.dtype, "addRMSNorm: dtypes \(a.dtype) and \(b.dtype) differ")
  let d = a.shape.last ?? 1
  let rows = a.count / d
  let out = Tensor.empty(a.shape, a.dtype, on: a.backend)
  let rstd = Tensor.empty([rows], .f32, on: a.backend)
  a.backend.addRMSNormForward(a.reshapedRaw([rows, d]), b.reshapedRaw([rows, d]), out: out.reshapedRaw([rows, d]),
                              rstd: rstd, eps: eps)
  return Autodiff.record(out, inputs: [a, b]) { g in
    let gx = Tensor.empty(a.shape, a.dtype, on: g.backend)
    g.backend.rmsNormBackward(gradOut: g.reshapedRaw([rows, d]), y: out.reshapedRaw([rows, d]), rstd: rstd,
                              gradX: gx.reshapedRaw([rows, d]))
    return [a.requiresGrad ? gx : nil, b.requiresGrad ? gx : nil]
  }
}

/// RoPE tables cos/sin [length, headDim] f32 in the half-split layout the rope ops take:
/// [A, A] with A[t, i] = t·θ^(−2i/headDim).
public func ropeTables(length: Int, headDim: Int, theta: Double, on backend: Backend) -> (cos: Tensor, sin: Tensor) {
  let half = headDim / 2
  var cosv = [Float](repeating: 0, count: length * headDim)
  var sinv = cosv
  let invFreq = (0..<half).map { Float(1.0 / pow(theta, Double(2 * $0) / Double(headDim))) }
  for pos in 0..<length {
    for i in 0..<half {
      let angle = Float(pos) * invFreq[i]
      cosv[pos * headDim + i] = cos(angle); cosv[pos * headDim + i + half] = cos(angle)
      sinv[pos * headDim + i] = sin(angle); sinv[pos * headDim + i + half] = sin(angle)
    }
  }
  return (Tensor(cosv, shape: [length, headDim], on: backend), Tensor(sinv, shape: [length, headDim], on: backend))
}

/// Rotary embedding on the query and key heads of qkv [B, T, 3·H·Dh]; cos/sin [T, Dh] f32.
public func rope(_ qkv: Tensor, cos: Tensor, sin: Tensor, heads: Int, headDim: Int) -> Tensor {
  check(qkv.rank == 3 && qkv.shape[2] == 3 * heads * headDim,
        "rope: qkv must be [B, T, 3·\(heads)·\(headDim)], got \(qkv.shape)")
  check(cos.shape == [qkv.shape[1], headDim] && sin.shape == cos.shape,
        "rope: cos/sin must be [\(qkv.shape[1]), \(headDim)], got \(cos.shape)")
  let out = Tensor.empty(qkv.shape, qkv.dtype, on: qkv.backend)
  qkv.backend.rope(qkv, cos: cos, sin: sin, heads: heads, headDim: headDim, inverse: false, out: out)
  return Autodiff.record(out, inputs: [qkv]) { g in
    let gx = Tensor.empty(g.shape, g.dtype, on: g.backend)
    g.backend.rope(g, cos: cos, sin: sin, heads: heads, headDim: headDim, inverse: true, out: gx)
    return [gx]
  }
}

/// Non-causal multi-head attention: qkv [B, T, 3·H·Dh] -> [B, T, H·Dh], scale 1/√Dh.
public func attention(_ qkv: Tensor, heads: Int, headDim: Int) -> Tensor {
  check(qkv.rank == 3 && qkv.shape[2] == 3 * heads * headDim,
        "attention: qkv must be [B, T, 3·\(heads)·\(headDim)], got \(qkv.shape)")
  let (b, t) = (qkv.shape[0], qkv.shape[1])
  let scale = 1 / Float(headDim).squareRoot()
  let out = Tensor.empty([b, t, heads * headDim], qkv.dtype, on: qkv.backend)
  let lse = Tensor.empty([b, heads, t], .f32, on: qkv.backend)
  qkv.backend.attentionForward(qkv: qkv, out: out, lse: lse, batch: b, seq: t, heads: heads,
                               headDim: headDim, scale: scale)
  return Autodiff.record(out, inputs: [qkv]) { g in
    let gx = Tensor.empty(qkv.shape, qkv.dtype, on: g.backend)
    g.backend.attentionBackward(qkv: qkv, out: out, lse: lse, gradOut: g, gradQKV: gx, batch: b, seq: t,
                                heads: heads, headDim: headDim, scale: scale)
    return [gx]
  }
}

/// RoPE on the query and key heads, then attention: `attention(rope(qkv, ...))` as one op, so
/// a backend can rotate while loading the heads instead of in a separate pass. The rotated
/// heads are materialised only when the op is recorded (the backward works on them, then
/// rotates the gradient back).
public func rotaryAttention(_ qkv: Tensor, cos: Tensor, sin: Tensor, heads: Int, headDim: Int) -> Tensor {
  check(qkv.rank == 3 && qkv.shape[2] == 3 * heads * headDim,
        "rotaryAttention: qkv must be [B, T, 3·\(heads)·\(headDim)], got \(qkv.shape)")
  check(cos.shape == [qkv.shape[1], headDim] && sin.shape == cos.shape,
        "rotaryAttention: cos/sin must be [\(qkv.shape[1]), \(headDim)], got \(cos.shape)")
  let (b, t) = (qkv.shape[0], qkv.shape[1])
  let scale = 1 / Float(headDim).squareRoot()
  let out = Tensor.empty([b, t, heads * headDim], qkv.dtype, on: qkv.backend)
  let lse = Tensor.empty([b, heads, t], .f32, on: qkv.backend)
  let rotated = Autodiff.willRecord([qkv]) ? Tensor.empty(qkv.shape, qkv.dtype, on: qkv.backend) : nil
  qkv.backend.attentionForwardRotary(qkv: qkv, cos: cos, sin: sin, rotated: rotated, out: out, lse: lse,
                                     batch: b, seq: t, heads: heads, headDim: headDim, scale: scale)
  return Autodiff.record(out, inputs: [qkv]) { g in
    let gx = Tensor.empty(qkv.shape, qkv.dtype, on: g.backend)
    g.backend.attentionBackward(qkv: rotated!, out: out, lse: lse, gradOut: g, gradQKV: gx, batch: b, seq: t,
                                heads: heads, headDim: headDim, scale: scale)
    g.backend.rope(gx, cos: cos, sin: sin, heads: heads, headDim: headDim, inverse: true, out: gx)
    return [gx]
  }
}

/// `rotaryAttention(linear(x, weight), ...)`, weight [3·H·Dh, D]: where no gradient is
/// recorded and the backend prefers it (`prefersRotaryProjection`), the rotation goes into
/// the projection (`linearRotary`) and plain attention follows; otherwise the recorded ops.
public func rotaryProjectedAttention(_ x: Tensor, _ weight: Tensor, cos: Tensor, sin: Tensor, heads: Int,
                                     headDim: Int) -> Tensor {
  let t = x.rank == 3 ? x.shape[1] : 0
  guard !Autodiff.willRecord([x, weight]), t > 0, x.backend.prefersRotaryProjection(seq: t, headDim: headDim) else {
    return rotaryAttention(linear(x, weight), cos: cos, sin: sin, heads: heads, headDim: headDim)
  }
  check(weight.rank == 2 && weight.shape == [3 * heads * headDim, x.shape[2]],
        "rotaryProjectedAttention: weight must be [3·\(heads)·\(headDim), \(x.shape[2])], got \(weight.shape)")
  let width = weight.shape[0]
  let (w, rows, qkv) = projection("rotaryProjectedAttention", x, weight, width: width)
  x.backend.linearRotary(x.reshapedRaw([rows, x.shape[2]]), weight: w, cos: cos, sin: sin, seq: t, heads: heads,
                         headDim: headDim, out: qkv.reshapedRaw([rows, width]))
  return attention(qkv, heads: heads, headDim: headDim)
}

/// SwiGLU activation: gateUp [..., 2I] (gate first) -> silu(gate) ⊙ up [..., I].
public func swiglu(_ gateUp: Tensor) -> Tensor {
  let w = gateUp.shape.last ?? 0
  check(w % 2 == 0, "swiglu: last dimension \(w) must be even")
  let rows = gateUp.count / w
  var shape = gateUp.shape
  shape[shape.count - 1] = w / 2
  let out = Tensor.empty(shape, gateUp.dtype, on: gateUp.backend)
  gateUp.backend.swigluForward(gateUp.reshapedRaw([rows, w]), out: out.reshapedRaw([rows, w / 2]))
  return Autodiff.record(out, inputs: [gateUp]) { g in
    let gx = Tensor.empty(gateUp.shape, gateUp.dtype, on: g.backend)
    g.backend.swigluBackward(gateUp: gateUp.reshapedRaw([rows, w]), gradOut: g.reshapedRaw([rows, w / 2]),
                             gradGateUp: gx.reshapedRaw([rows, w]))
    return [gx]
  }
}

/// `swiglu(linear(x, weight))`, weight [2I, D] (gate rows first): where no gradient is
/// recorded, one backend call (`linearSwiGLU`, which may keep the [..., 2I] product out of
/// memory); otherwise the two recorded ops.
public func swigluLinear(_ x: Tensor, _ weight: Tensor) -> Tensor {
  if Autodiff.willRecord([x, weight]) { return swiglu(linear(x, weight)) }
  check(weight.rank == 2 && weight.shape[0] % 2 == 0,
        "swigluLinear: weight must be [2I, in], got \(weight.shape)")
  let inF = weight.shape[1], inner = weight.shape[0] / 2
  let (w, rows, out) = projection("swigluLinear", x, weight, width: inner)
  x.backend.linearSwiGLU(x.reshapedRaw([rows, inF]), weight: w, out: out.reshapedRaw([rows, inner]))
  return out
}

/// x [N, C] + bias [C] broadcast over rows (bias gradient = column sums).
public func addRowBroadcast(_ x: Tensor, _ bias: Tensor) -> Tensor {
  let c = bias.count
  check(x.count % c == 0, "addRowBroadcast: \(x.shape) is not a multiple of \(bias.shape)")
  let b = bias.dtype == x.dtype ? bias : castTensor(bias, to: x.dtype)
  let out = x.detachedCopy()
  x.backend.addBias(out.reshapedRaw([x.count / c, c]), bias: b)
  return Autodiff.record(out, inputs: [x, b]) { g in
    var gb: Tensor? = nil
    if b.requiresGrad {
      let t = Tensor.empty(b.shape, b.dtype, on: g.backend)
      g.backend.sumRows(g.reshapedRaw([x.count / c, c]), out: t, accumulate: false)
      gb = t
    }
    return [x.requiresGrad ? g : nil, gb]
  }
}

extension Tensor {
  /// A plain copy that is never recorded.
  func detachedCopy() -> Tensor {
    let t = Tensor.empty(shape, dtype, on: backend)
    backend.copy(self, to: t)
    return t
  }
}
