// Elementwise.swift: CPU fill, copy/convert, scaled add, scale, sequence windows, row select.
//
// Pure data movement (fill, copy, copySequence without accumulation, selectRows) works for
// every dtype, i32 included, with byte copies when dtypes match. Arithmetic goes through
// f32 (HostF32). Large loops split into fixed ranges over CPUParallel; nothing here reduces,
// so results never depend on the thread count.

import HRMSupport

extension CPUBackend {
  /// Elements per thread below which elementwise loops stay on the calling thread.
  static let elementwiseGrain = 1 << 15

  /// t[:] = value; i32 tensors get the value truncated toward zero.
  public func fill(_ t: Tensor, value: Float) {
    let n = t.count
    switch t.dtype {
    case .f32:
      let p = t.f32Pointer
      CPUParallel.forRanges(n, minPerThread: CPUBackend.elementwiseGrain) { r in
        for i in r { p[i] = value }
      }
    case .bf16:
      let p = t.bf16Pointer
      let h = BF16.fromFloat(value)
      CPUParallel.forRanges(n, minPerThread: CPUBackend.elementwiseGrain) { r in
        for i in r { p[i] = h }
      }
    case .i32:
      let p = t.i32Pointer
      let v = HostF32.int32(value)
      for i in 0..<n { p[i] = v }
    }
  }

  /// dst = src, converting dtype (f32 <-> bf16 rounds to nearest even; i32 <-> float also
  /// accepted: float -> i32 truncates). Same element count.
  public func copy(_ src: Tensor, to dst: Tensor) {
    precondition(src.count == dst.count, "copy: \(src.shape) into \(dst.shape)")
    let n = src.count
    if src.dtype == dst.dtype {
      HostF32.convert(src, from: 0, to: dst, at: 0, count: n)
      return
    }
    CPUParallel.forRanges(n, minPerThread: CPUBackend.elementwiseGrain) { r in
      HostF32.convert(src, from: r.lowerBound, to: dst, at: r.lowerBound, count: r.count)
    }
  }

  /// out = alpha·a + beta·b (out may alias a or b).
  public func addScaled(_ a: Tensor, alpha: Float, _ b: Tensor, beta: Float, out: Tensor) {
    precondition(a.count == b.count && a.count == out.count, "addScaled: \(a.shape) + \(b.shape) -> \(out.shape)")
    let n = out.count
    HostF32.read(a) { pa in
      HostF32.read(b) { pb in
        HostF32.write(out, load: false) { po in
          CPUParallel.forRanges(n, minPerThread: CPUBackend.elementwiseGrain) { r in
            for i in r { po[i] = alpha * pa[i] + beta * pb[i] }
          }
        }
      }
    }
  }

  /// out = alpha·x (out may alias x).
  public func scale(_ x: Tensor, by alpha: Float, out: Tensor) {
    precondition(x.count == out.count, "scale: \(x.shape) -> \(out.shape)")
    let n = out.count
    HostF32.read(x) { px in
      HostF32.write(out, load: false) { po in
        CPUParallel.forRanges(n, minPerThread: CPUBackend.elementwiseGrain) { r in
          for i in r { po[i] = alpha * px[i] }
        }
      }
    }
  }

  /// dst[b, dstStart + t, :] (+)= src[b, srcStart + t, :] for t in 0..<length.
  /// src [B, Ts, D], dst [B, Td, D]. Plain copies work for any dtype; accumulation is f32.
  public func copySequence(_ src: Tensor, srcStart: Int, to dst: Tensor, dstStart: Int, length: Int,
                           accumulate: Bool) {
    precondition(src.rank == 3 && dst.rank == 3 && src.shape[0] == dst.shape[0] && src.shape[2] == dst.shape[2],
                 "copySequence: \(src.shape) -> \(dst.shape)")
    let (batch, ts, td, d) = (src.shape[0], src.shape[1], dst.shape[1], src.shape[2])
    precondition(length >= 0 && srcStart >= 0 && srcStart + length <= ts && dstStart >= 0 && dstStart + length <= td,
                 "copySequence: window of \(length) at \(srcStart) -> \(dstStart) outside \(src.shape) -> \(dst.shape)")
    if length == 0 || batch == 0 || d == 0 { return }
    let block = length * d
    if !accumulate {
      CPUParallel.forEach(batch, minPerThread: max(1, CPUBackend.elementwiseGrain / block)) { b in
        HostF32.convert(src, from: (b * ts + srcStart) * d, to: dst, at: (b * td + dstStart) * d, count: block)
      }
      return
    }
    HostF32.read(src) { ps in
      HostF32.write(dst, load: true) { pd in
        CPUParallel.forEach(batch, minPerThread: max(1, CPUBackend.elementwiseGrain / block)) { b in
          let s = ps + (b * ts + srcStart) * d
          let o = pd + (b * td + dstStart) * d
          for i in 0..<block { o[i] += s[i] }
        }
      }
    }
  }

  /// out[i] = mask[i] != 0 ? a[i or 0] : b[i]. mask [B] i32, a [B, X] or [1, X], b and out
  /// [B, X]; any dtype (a row copy), out may alias b.
  public func selectRows(mask: Tensor, _ a: Tensor, _ b: Tensor, out: Tensor) {
    let rows = mask.count
    precondition(b.count == out.count && (rows == 0 ? b.count == 0 : b.count % rows == 0),
                 "selectRows: mask \(mask.shape), b \(b.shape), out \(out.shape)")
    if rows == 0 { return }
    let x = b.count / rows
    precondition(a.count == b.count || a.count == x, "selectRows: a \(a.shape) is neither [B, X] nor [1, X] for b \(b.shape)")
    let broadcast = a.count != b.count
    let m = mask.i32Pointer
    CPUParallel.forEach(rows, minPerThread: max(1, CPUBackend.elementwiseGrain / max(x, 1))) { i in
      if m[i] != 0 {
        HostF32.convert(a, from: broadcast ? 0 : i * x, to: out, at: i * x, count: x)
      } else if !(b.buffer === out.buffer && b.offset == out.offset && b.dtype == out.dtype) {
        HostF32.convert(b, from: i * x, to: out, at: i * x, count: x)
      }
    }
  }
}
