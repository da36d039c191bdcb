// CUDABackend+FusedLinear.swift: projections that carry their element-wise op in the GEMM's
// epilogue (Kernels/linear_fused.cu, Hopper only): SwiGLU after the gate/up projection and
// RoPE after the QKV projection, for forward passes that keep nothing for a gradient. From
// fusedLinearMinRows rows; the model uses the SwiGLU one by default (HRM_CUDA_FUSED_LINEAR=0
// turns it off) and the RoPE one on request (HRM_CUDA_FUSED_ROPE=1; slower, run 61). Where a
// shape or alignment does not fit, the Backend defaults compose cuBLASLt and the separate
// kernels.

import Foundation
import HRMSupport
import HRMTensor

extension CUDABackend {
  /// Whether the fused kernels can run for x [M, K] and weight [N, K] into `out`: switched
  /// on, Hopper kernels built, the driver's tensor maps there, every tensor bf16 with
  /// 16-byte aligned rows, K a multiple of 64, and N a multiple of the 256-column tile.
  private func fusedLinearFits(_ x: Tensor, _ weight: Tensor, _ out: Tensor, columns n: Int) -> Bool {
    let (rows, k) = (x.shape[0], x.shape[1])
    return fusedLinear && compiler.hopperFeatures && driver.cuTensorMapEncodeTiled != nil && rows > 0
      && k % 64 == 0 && n % 256 == 0 && bf16Aligned(x, weight, out)
  }

  /// Dynamic shared memory of the kernels: four stages of a 128 x 64 A tile and a 256 x 64 B
  /// tile (bf16), 16 KB of output staging, the stages' two mbarriers, and 1 KB to start the
  /// tiles on a 1024-byte boundary (the 128-byte swizzle needs it).
  private static let fusedLinearSharedBytes = 4 * (128 + 256) * 64 * 2 + 16384 + 4 * 16 + 1024

  /// A TMA tensor map of a row-major bf16 matrix [rows, cols] read in 128 x 64 boxes through
  /// the 128-byte swizzle (rows past the end arrive as zeros).
  private func tensorMap(_ t: Tensor, rows: Int, cols: Int) -> KernelArg {
    var map = [UInt64](repeating: 0, count: 16)
    let dims: [UInt64] = [UInt64(cols), UInt64(rows)], strides: [UInt64] = [UInt64(cols * 2)]
    let box: [UInt32] = [64, 128], unit: [UInt32] = [1, 1]
    // BFLOAT16 = 9; no interleave; SWIZZLE_128B = 3; L2 promotion 256 B = 3; OOB fill zeros.
    let status = map.withUnsafeMutableBytes { m in
      driver.cuTensorMapEncodeTiled!(m.baseAddress!, 9, 2, UnsafeMutableRawPointer(bitPattern: UInt(t.devicePointer)),
                                     dims, strides, box, unit, 0, 3, 3, 0)
    }
    checkOrDie(status, "cuTensorMapEncodeTiled(bf16 [\(rows), \(cols)], box 64 x 128)")
    return .tensorMap(map)
  }

  /// Launches the `epilogue` kernel ("plain", "swiglu", "rope") for x [rows, k] and weight
  /// [wrows, k]: `columnTiles` x ceil(rows / 128) tiles walked by at most one block per SM,
  /// with `tail` after (out, rows, n, k, columnTiles).
  private func launchFusedLinear(_ epilogue: String, x: Tensor, weight: Tensor, out: Tensor, n: Int, columnTiles: Int,
                                 tail: [KernelArg] = []) {
    let (rows, k, wrows) = (x.shape[0], x.shape[1], weight.shape[0])
    let tiles = columnTiles * ((rows + 127) / 128)
    launch("linear_fused.cu", "linear_tma_" + epilogue, grid: (min(tiles, multiprocessorCount), 1, 1),
           block: (384, 1, 1), sharedBytes: Self.fusedLinearSharedBytes,
           [tensorMap(x, rows: rows, cols: k), tensorMap(weight, rows: wrows, cols: k), .ptr(out.devicePointer),
            .i32(Int32(rows)), .i32(Int32(n)), .i32(Int32(k)), .i32(Int32(columnTiles))] + tail)
  }

  public func linearSwiGLU(_ x: Tensor, weight: Tensor, out: Tensor) {
    own(x, weight, out)
    let (rows, k, inner) = (x.shape[0], x.shape[1], weight.shape[0] / 2)
    precondition(x.rank == 2 && weight.shape == [2 * inner, k] && out.count == rows * inner,
                 "linearSwiGLU shapes: x \(x.shape), weight \(weight.shape), out \(out.shape)")
    guard rows >= fusedLinearMinRows, fusedLinearFits(x, weight, out, columns: 2 * inner) else {
      composedLinearSwiGLU(x, weight: weight, out: out)
      return
    }
    launchFusedLinear("swiglu", x: x, weight: weight, out: out, n: inner, columnTiles: inner / 128)
  }

  public func linearRotary(_ x: Tensor, weight: Tensor, cos: Tensor, sin: Tensor, seq: Int, heads: Int, headDim: Int,
                           out: Tensor) {
    own(x, weight, cos, sin, out)
    let (rows, k, width) = (x.shape[0], x.shape[1], weight.shape[0])
    precondition(x.rank == 2 && weight.shape == [width, k] && width == 3 * heads * headDim && out.count == rows * width
                 && seq > 0 && rows % seq == 0 && cos.count == seq * headDim && sin.count == cos.count,
                 "linearRotary shapes: x \(x.shape), weight \(weight.shape), out \(out.shape), cos \(cos.shape)")
    guard rows >= fusedLinearMinRows, headDim == 64, cos.dtype == .f32, sin.dtype == .f32,
          fusedLinearFits(x, weight, out, columns: width) else {
      composedLinearRotary(x, weight: weight, cos: cos, sin: sin, seq: seq, heads: heads, headDim: headDim, out: out)
      return
    }
    launchFusedLinear("rope", x: x, weight: weight, out: out, n: width, columnTiles: width / 256,
                      tail: [.ptr(cos.devicePointer), .ptr(sin.devicePointer), .i32(Int32(seq)), .i32(Int32(heads))])
  }

  /// The fused QKV + RoPE projection where attention would otherwise run a separate rotary
  /// pass: T > 128 (shorter sequences rotate inside the short attention kernel), head dim 64.
  public func prefersRotaryProjection(seq: Int, headDim: Int) -> Bool {
    fusedLinear && fusedRotaryProjection && compiler.hopperFeatures && headDim == 64 && seq > 128
  }

  /// The fused kernels' GEMM without an epilogue op: out [M, N] = x weightᵀ (bf16). For the
  /// kernel bench (against cuBLASLt); false where it cannot run.
  func fusedLinearPlain(_ x: Tensor, weight: Tensor, out: Tensor) -> Bool {
    own(x, weight, out)
    let (rows, k, n) = (x.shape[0], x.shape[1], weight.shape[0])
    precondition(x.rank == 2 && weight.shape == [n, k] && out.count == rows * n, "fusedLinearPlain shapes")
    guard fusedLinearFits(x, weight, out, columns: n) else { return false }
    launchFusedLinear("plain", x: x, weight: weight, out: out, n: n, columnTiles: n / 256)
    return true
  }
}
