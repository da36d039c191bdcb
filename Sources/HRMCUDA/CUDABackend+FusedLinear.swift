// CUDABackend+FusedLinear.swift: projections that carry their element-wise op in the GEMM's
// epilogue (Kernels/linear_fused.cu, Hopper only): SwiGLU after the gate/up projection and
// RoPE after the QKV projection, for forward passes that keep nothing for a gradient. Off by
// default (HRM_CUDA_FUSED_LINEAR=1 turns it on) until it is measured against cuBLASLt plus
// the separate swiglu / rope kernels; otherwise, and where a shape or alignment does not fit,
// the Backend defaults compose those.

import Foundation
import HRMSupport
import HRMTensor

extension CUDABackend {
  /// The fused kernel `name` for `stages` (3, or 4: the `_p` kernels) and its dynamic shared
  /// memory: that many stages of a 128 x 64 A tile and a 128 x 64 B tile (bf16), and 1 KB
  /// to start them on a 1024-byte boundary (the 128-byte swizzle needs it).
  private func fusedLinearKernel(_ name: String, stages: Int) -> (name: String, sharedBytes: Int) {
    precondition(stages == 3 || stages == 4, "fused projections: 3 or 4 pipeline stages, not \(stages)")
    return (stages == 4 ? name + "_p" : name, stages * 2 * 128 * 64 * 2 + 1024)
  }

  /// Whether the fused GEMM can run for x [M, K] and weight [N, K] into `out`: Hopper
  /// kernels built, every tensor bf16 with 16-byte aligned rows, K a multiple of 64, and few
  /// enough 128-row tiles for the grid's y dimension.
  private func fusedLinearFits(_ x: Tensor, _ weight: Tensor, _ out: Tensor) -> Bool {
    let (rows, k) = (x.shape[0], x.shape[1])
    return compiler.hopperFeatures && rows > 0 && k % 64 == 0 && (rows + 127) / 128 <= 65535
      && bf16Aligned(x, weight, out)
  }

  public func linearSwiGLU(_ x: Tensor, weight: Tensor, out: Tensor) {
    own(x, weight, out)
    let (rows, k, inner) = (x.shape[0], x.shape[1], weight.shape[0] / 2)
    precondition(x.rank == 2 && weight.shape == [2 * inner, k] && out.count == rows * inner,
                 "linearSwiGLU shapes: x \(x.shape), weight \(weight.shape), out \(out.shape)")
    guard let stages = fusedLinearStages, inner % 64 == 0, fusedLinearFits(x, weight, out) else {
      composedLinearSwiGLU(x, weight: weight, out: out)
      return
    }
    let kernel = fusedLinearKernel("linear_fused_swiglu", stages: stages)
    launch("linear_fused.cu", kernel.name, grid: (inner / 64, (rows + 127) / 128, 1), block: (256, 1, 1),
           sharedBytes: kernel.sharedBytes,
           [.ptr(x.devicePointer), .ptr(weight.devicePointer), .ptr(out.devicePointer), .i32(Int32(rows)),
            .i32(Int32(inner)), .i32(Int32(k))])
  }

  public func linearRotary(_ x: Tensor, weight: Tensor, cos: Tensor, sin: Tensor, seq: Int, heads: Int, headDim: Int,
                           out: Tensor) {
    own(x, weight, cos, sin, out)
    let (rows, k, width) = (x.shape[0], x.shape[1], weight.shape[0])
    precondition(x.rank == 2 && weight.shape == [width, k] && width == 3 * heads * headDim && out.count == rows * width
                 && seq > 0 && rows % seq == 0 && cos.count == seq * headDim && sin.count == cos.count,
                 "linearRotary shapes: x \(x.shape), weight \(weight.shape), out \(out.shape), cos \(cos.shape)")
    guard let stages = fusedLinearStages, headDim == 64, width % 128 == 0, cos.dtype == .f32, sin.dtype == .f32,
          fusedLinearFits(x, weight, out) else {
      composedLinearRotary(x, weight: weight, cos: cos, sin: sin, seq: seq, heads: heads, headDim: headDim, out: out)
      return
    }
    let kernel = fusedLinearKernel("linear_fused_rope", stages: stages)
    launch("linear_fused.cu", kernel.name, grid: (width / 128, (rows + 127) / 128, 1), block: (256, 1, 1),
           sharedBytes: kernel.sharedBytes,
           [.ptr(x.devicePointer), .ptr(weight.devicePointer), .ptr(out.devicePointer), .i32(Int32(rows)),
            .i32(Int32(width)), .i32(Int32(k)), .ptr(cos.devicePointer), .ptr(sin.devicePointer), .i32(Int32(seq)),
            .i32(Int32(heads))])
  }

  /// The fused QKV + RoPE projection where attention would otherwise run a separate rotary
  /// pass: T > 128 (shorter sequences rotate inside the short attention kernel), head dim 64.
  public func prefersRotaryProjection(seq: Int, headDim: Int) -> Bool {
    fusedLinearStages != nil && compiler.hopperFeatures && headDim == 64 && seq > 128
  }

  /// The fused kernels' GEMM without an epilogue op: out [M, N] = x weightᵀ (bf16), N a
  /// multiple of 128, with `stages` pipeline stages. For the kernel bench (against cuBLASLt);
  /// false where it cannot run.
  func fusedLinearPlain(_ x: Tensor, weight: Tensor, out: Tensor, stages: Int) -> Bool {
    own(x, weight, out)
    let (rows, k, n) = (x.shape[0], x.shape[1], weight.shape[0])
    precondition(x.rank == 2 && weight.shape == [n, k] && out.count == rows * n, "fusedLinearPlain shapes")
    guard n % 128 == 0, fusedLinearFits(x, weight, out) else { return false }
    let kernel = fusedLinearKernel("linear_fused_plain", stages: stages)
    launch("linear_fused.cu", kernel.name, grid: (n / 128, (rows + 127) / 128, 1), block: (256, 1, 1),
           sharedBytes: kernel.sharedBytes,
           [.ptr(x.devicePointer), .ptr(weight.devicePointer), .ptr(out.devicePointer), .i32(Int32(rows)),
            .i32(Int32(n)), .i32(Int32(k))])
    return true
  }
}
