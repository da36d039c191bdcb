// Ops.swift: the differentiable front end over the Backend's fused kernels.
//
// Each function allocates its output, calls one or two backend kernels, and records on the
// active tape a closure that maps the output's gradient to the inputs' gradients. The
// model is written in these functions only. Shapes are checked here, with messages that
// name the op, so backends can assume valid input.

import Foundation

@inline(__always)
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
  precondition(condition, message())
}

// MARK: - Elementwise

/// Converts to `dtype` (gradients flow back converted to the source dtype).
public func castTensor(_ x: Tensor, to dtype: DType) -> Tensor {
  if x.dtype == dtype { return x }
  check(x.dtype.isFloat && dtype.isFloat, "cast: only float dtypes convert (\(x.dtype) -> \(dtype))")
  let out = Tensor.empty(x.shape, dtype, on: x.backend)
  x.backend.copy(x, to: out)
  return recordCast(out, from: x)
}

/// `castTensor(x, to: converted.dtype)` whose value is already at hand: `converted` holds x
/// converted earlier (e.g. a weight cast once for several uses while it does not change). No
/// conversion runs; the result shares converted's memory and records the cast's backward.
public func castTensor(_ x: Tensor, reusing converted: Tensor) -> Tensor {
  if x.dtype == converted.dtype { return x }
  check(converted.shape == x.shape, "cast: the converted tensor \(converted.shape) must be shaped as \(x.shape)")
  let out = Tensor(buffer: converted.buffer, offset: converted.offset, shape: converted.shape, dtype: converted.dtype)
  return recordCast(out, from: x)
}

/// The cast's backward: the gradient converted back to the source dtype.
private func recordCast(_ out: Tensor, from x: Tensor) -> Tensor {
  let sourceType = x.dtype
  return Autodiff.record(out, inputs: [x]) { g in
    let gx = Tensor.empty(g.shape, sourceType, on: g.backend)
    g.backend.copy(g, to: gx)
    return [gx]
  }
}

extension Tensor {
  /// A fresh copy converted to `dtype` (recorded on the tape).
  public func cast(_ dtype: DType) -> Tensor { castTensor(self, to: dtype) }
}

/// a + b (same shape).
public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
  addScaled(a, 1, b, 1)
}

/// alpha * a + beta * b (same element count; result has a's shape and dtype).
public func addScaled(_ a: Tensor, _ alpha: Float, _ b: Tensor, _ beta: Float) -> Tensor {
  check(a.count == b.count, "add: shapes \(a.shape) and \(b.shape) differ")
  check(a.dtype == b.dtype, "add: dtypes \(a.dtype) and \(b.dtype) differ")
  let out = Tensor.empty(a.shape, a.dtype, on: a.backend)
  a.backend.addScaled(a, alpha: alpha, b, beta: beta, out: out)
  return Autodiff.record(out, inputs: [a, b]) { g in
    [scaled(g, alpha, needed: a.requiresGrad), scaled(g, beta, needed: b.requiresGrad)]
  }
}

/// alpha * x.
public func scale(_ x: Tensor, _ alpha: Float) -> Tensor {
  let out = Tensor.empty(x.shape, x.dtype, on: x.backend)
  x.backend.scale(x, by: alpha, out: out)
  return Autodiff.record(out, inputs: [x]) { g in [scaled(g, alpha, needed: true)] }
}

func scaled(_ g: Tensor, _ alpha: Float, needed: Bool) -> Tensor? {
  if !needed { return nil }
  if alpha == 1 { return g }
  let out = Tensor.empty(g.shape, g.dtype, on: g.backend)
  g.backend.scale(g, by: alpha, out: out)
  return out
}

// MARK: - Sequence windows

/// x [B, T, D] -> x[:, start ..< start + length, :].
public func sliceSequence(_ x: Tensor, start: Int, length: Int) -> Tensor {
  check(x.rank == 3, "sliceSequence: expected [B, T, D], got \(x.shape)")
  check(start >= 0 && length >= 0 && start + length <= x.shape[1],
        "sliceSequence: window \(start)..<\(start + length) outside T = \(x.shape[1])")
  let (b, t, d) = (x.shape[0], x.shape[1], x.shape[2])
  let out = Tensor.empty([b, length, d], x.dtype, on: x.backend)
  x.backend.copySequence(x, srcStart: start, to: out, dstStart: 0, length: length, accumulate: false)
  return Autodiff.record(out, inputs: [x]) { g in
    let gx = Tensor.zeros([b, t, d], g.dtype, on: g.backend)
    g.backend.copySequence(g, srcStart: 0, to: gx, dstStart: start, length: length, accumulate: false)
    return [gx]
  }
}

/// Concatenates [B, Ta, D] and [B, Tb, D] along the sequence axis.
public func concatSequence(_ a: Tensor, _ b: Tensor) -> Tensor {
  check(a.rank == 3 && b.rank == 3 && a.shape[0] == b.shape[0] && a.shape[2] == b.shape[2],
        "concatSequence: incompatible shapes \(a.shape) and \(b.shape)")
  check(a.dtype == b.dtype, "concatSequence: dtypes \(a.dtype) and \(b.dtype) differ")
  let (n, ta, tb, d) = (a.shape[0], a.shape[1], b.shape[1], a.shape[2])
  let out = Tensor.empty([n, ta + tb, d], a.dtype, on: a.backend)
  a.backend.copySequence(a, srcStart: 0, to: out, dstStart: 0, length: ta, accumulate: false)
  a.backend.copySequence(b, srcStart: 0, to: out, dstStart: ta, length: tb, accumulate: false)
  return Autodiff.record(out, inputs: [a, b]) { g in
    var ga: Tensor? = nil
    var gb: Tensor? = nil
    if a.requiresGrad {
      let t = Tensor.empty([n, ta, d], g.dtype, on: g.backend)
      g.backend.copySequence(g, srcStart: 0, to: t, dstStart: 0, length: ta, accumulate: false)
      ga = t
    }
    if b.requiresGrad {
      let t = Tensor.empty([n, tb, d], g.dtype, on: g.backend)
      g.backend.copySequence(g, srcStart: ta, to: t, dstStart: 0, length: tb, accumulate: false)
      gb = t
    }
    return [ga, gb]
  }
}

/// Row select (not differentiable): mask [B] i32, a [B, ...] or [1, ...], b [B, ...].
public func selectRows(mask: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
  check(mask.dtype == .i32 && mask.count == b.shape[0], "selectRows: mask \(mask.shape) for \(b.shape)")
  check(a.count == b.count || a.count * b.shape[0] == b.count, "selectRows: \(a.shape) vs \(b.shape)")
  check(a.dtype == b.dtype, "selectRows: dtypes \(a.dtype) and \(b.dtype) differ")
  let out = Tensor.empty(b.shape, b.dtype, on: b.backend)
  let rowsA = a.count == b.count ? b.shape[0] : 1
  b.backend.selectRows(mask: mask, a.reshapedRaw([rowsA, b.count / b.shape[0]]),
                       b.reshapedRaw([b.shape[0], b.count / b.shape[0]]),
                       out: out.reshapedRaw([b.shape[0], b.count / b.shape[0]]))
  return out
}
