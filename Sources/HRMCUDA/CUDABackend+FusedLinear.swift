// CUDABackend+FusedLinear.swift: projections that carry their element-wise op in the GEMM's
// epilogue (Kernels/linear_fused.cu, Hopper only): SwiGLU after the gate/up projection and
// RoPE after the QKV projection, for forward passes that keep nothing for a gradient. The
// model uses both by default (HRM_CUDA_FUSED_LINEAR=0 turns both off, HRM_CUDA_FUSED_ROPE=0
// the RoPE one). Where a shape or alignment does not fit, the Backend defaults compose
// cuBLASLt and the separate kernels.

import Foundation
import HRMSupport
import HRMTensor

extension CUDABackend {
  /// The column tile (192 or 256) the fused kernels use for x [M, K] and weight [N, K] into
  /// `out` (N = 2I for SwiGLU), or nil where none can run: switched off, no Hopper kernels or
  /// no driver tensor maps, a tensor not bf16 with 16-byte aligned rows, K not a multiple of
  /// 64, or N not a multiple of the tile.
  private func fusedKernelTile(_ x: Tensor, _ weight: Tensor, _ out: Tensor, columns n: Int) -> Int? {
    let (rows, k) = (x.shape[0], x.shape[1])
    guard fusedLinear && compiler.hopperFeatures && driver.cuTensorMapEncodeTiled != nil && rows > 0 && k % 64 == 0
      && bf16Aligned(x, weight, out) else { return nil }
    let tiles = fusedLinearTile.map { [$0] } ?? [256, 192]
    return tiles.first { n % $0 == 0 }
  }

  /// Dynamic shared memory of a kernel with this column tile: the stages (a 128 x 64 A tile
  /// and a tile x 64 B tile, bf16, each: three of them beside a 256-column output tile, four
  /// beside a 192-column one) with their two mbarriers, the output tile (128 x tile bf16),
  /// and 1 KB to start the tiles on a 1024-byte boundary (the 128-byte swizzle needs it).
  private static func fusedLinearSharedBytes(tile: Int) -> Int {
    let stages = tile == 192 ? 4 : 3
    return stages * (128 + tile) * 64 * 2 + 128 * tile * 2 + stages * 16 + 1024
  }

  /// A TMA tensor map of a row-major bf16 matrix [rows, cols] read in boxes of 64 columns x
  /// `boxRows` rows through the 128-byte swizzle (rows past the end arrive as zeros).
  private func tensorMap(_ t: Tensor, rows: Int, cols: Int, boxRows: Int) -> KernelArg {
    var map = [UInt64](repeating: 0, count: 16)
    let dims: [UInt64] = [UInt64(cols), UInt64(rows)], strides: [UInt64] = [UInt64(cols * 2)]
    let box: [UInt32] = [64, UInt32(boxRows)], unit: [UInt32] = [1, 1]
    // BFLOAT16 = 9; no interleave; SWIZZLE_128B = 3; L2 promotion 256 B = 3; OOB fill zeros.
    let status = map.withUnsafeMutableBytes { m in
      driver.cuTensorMapEncodeTiled!(m.baseAddress!, 9, 2, UnsafeMutableRawPointer(bitPattern: UInt(t.devicePointer)),
                                     dims, strides, box, unit, 0, 3, 3, 0)
    }
    checkOrDie(status, "cuTensorMapEncodeTiled(bf16 [\(rows), \(cols)], box 64 x \(boxRows))")
    return .tensorMap(map)
  }

  /// Launches the `epilogue` kernel ("plain", "swiglu", "rope") with column tile `tile` for x
  /// [rows, k] and weight [wrows, k], output row length n: ceil(rows / 128) row tiles by
  /// columnTiles (n / tile; SwiGLU: 2n / tile), walked by at most one block per SM, with
  /// `tail` after (out, rows, n, k, columnTiles).
  private func launchFusedLinear(_ epilogue: String, tile: Int, x: Tensor, weight: Tensor, out: Tensor, n: Int,
                                 tail: [KernelArg] = []) {
    let (rows, k, wrows) = (x.shape[0], x.shape[1], weight.shape[0])
    let columnTiles = (epilogue == "swiglu" ? 2 * n : n) / tile
    let tiles = columnTiles * ((rows + 127) / 128)
    launch("linear_fused.cu", "linear_ws_\(epilogue)_\(tile)", grid: (min(tiles, multiprocessorCount), 1, 1),
           block: (384, 1, 1), sharedBytes: Self.fusedLinearSharedBytes(tile: tile),
           [tensorMap(x, rows: rows, cols: k, boxRows: 128),
            tensorMap(weight, rows: wrows, cols: k, boxRows: tile / 2), .ptr(out.devicePointer),
            .i32(Int32(rows)), .i32(Int32(n)), .i32(Int32(k)), .i32(Int32(columnTiles))] + tail)
  }

  public func linearSwiGLU(_ x: Tensor, weight: Tensor, out: Tensor) {
    own(x, weight, out)
    let (rows, k, inner) = (x.shape[0], x.shape[1], weight.shape[0] / 2)
    precondition(x.rank == 2 && weight.shape == [2 * inner, k] && out.count == rows * inner,
                 "linearSwiGLU shapes: x \(x.shape), weight \(weight.shape), out \(out.shape)")
    guard let tile = fusedKernelTile(x, weight, out, columns: 2 * inner) else {
      composedLinearSwiGLU(x, weight: weight, out: out)
      return
    }
    launchFusedLinear("swiglu", tile: tile, x: x, weight: weight, out: out, n: inner)
  }

  public func linearRotary(_ x: Tensor, weight: Tensor, cos: Tensor, sin: Tensor, seq: Int, heads: Int, headDim: Int,
                           out: Tensor) {
    own(x, weight, cos, sin, out)
    let (rows, k, width) = (x.shape[0], x.shape[1], weight.shape[0])
    precondition(x.rank == 2 && weight.shape == [width, k] && width == 3 * heads * headDim && out.count == rows * width
                 && seq > 0 && rows % seq == 0 && cos.count == seq * headDim && sin.count == cos.count,
                 "linearRotary shapes: x \(x.shape), weight \(weight.shape), out \(out.shape), cos \(cos.shape)")
    guard headDim == 64, cos.dtype == .f32, sin.dtype == .f32,
          cos.devicePointer % 16 == 0, sin.devicePointer % 16 == 0,   // linear_ws reads 4 table entries at once
          let tile = fusedKernelTile(x, weight, out, columns: width) else {
      composedLinearRotary(x, weight: weight, cos: cos, sin: sin, seq: seq, heads: heads, headDim: headDim, out: out)
      return
    }
    launchFusedLinear("rope", tile: tile, x: x, weight: weight, out: out, n: width,
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
    guard let tile = fusedKernelTile(x, weight, out, columns: n) else { return false }
    launchFusedLinear("plain", tile: tile, x: x, weight: weight, out: out, n: n)
    return true
  }
}
