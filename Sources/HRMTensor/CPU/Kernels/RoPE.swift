// RoPE.swift: CPU rotary position embedding on fused qkv rows, forward and backward.
//
// Half-split ("rotate_half") pairing: dimension i goes with i + Dh/2. With cos/sin tables
// [T, Dh] (the reference's cat([A, A]) tables) the forward is
//   out_i      = x_i·cos[t,i]           − x_{i+h}·sin[t,i]
//   out_{i+h}  = x_{i+h}·cos[t,i+h]     + x_i·sin[t,i+h]          (h = Dh/2)
// on the H query and H key heads; value heads are copied. `inverse` applies the transpose,
//   out_i      = x_i·cos[t,i]           + x_{i+h}·sin[t,i+h]
//   out_{i+h}  = x_{i+h}·cos[t,i+h]     − x_i·sin[t,i]
// which is the exact backward for any table and, for the reference's tables (both halves
// equal), the rotation by −angle. out may alias qkv.

extension CPUBackend {
  /// qkv [B, T, 3·H·Dh] -> out (same shape): rotate the query and key heads, copy values.
  /// cos, sin [T, Dh] f32; `inverse` is the backward pass (rotation by −angle).
  public func rope(_ qkv: Tensor, cos: Tensor, sin: Tensor, heads: Int, headDim: Int, inverse: Bool, out: Tensor) {
    precondition(headDim % 2 == 0, "rope: head dim \(headDim) must be even")
    let width = 3 * heads * headDim
    precondition(qkv.rank == 3 && qkv.shape[2] == width && out.count == qkv.count,
                 "rope: qkv \(qkv.shape) / out \(out.shape) for \(heads) heads of \(headDim)")
    let (batch, seq) = (qkv.shape[0], qkv.shape[1])
    precondition(cos.count == seq * headDim && sin.count == seq * headDim,
                 "rope: cos \(cos.shape) / sin \(sin.shape) must be [\(seq), \(headDim)]")
    let half = headDim / 2
    let pc = cos.f32Pointer, ps = sin.f32Pointer
    let rotated = 2 * heads * headDim
    HostF32.read(qkv) { px in
      HostF32.write(out, load: false) { po in
        CPUParallel.forEach(batch * seq, minPerThread: max(1, CPUBackend.elementwiseGrain / max(width, 1))) { row in
          let t = row % seq
          let c = pc + t * headDim, s = ps + t * headDim
          let x = px + row * width, o = po + row * width
          for head in 0..<(2 * heads) {
            let xh = x + head * headDim, oh = o + head * headDim
            if inverse {
              for i in 0..<half {
                let a = xh[i], b = xh[i + half]
                oh[i] = a * c[i] + b * s[i + half]
                oh[i + half] = b * c[i + half] - a * s[i]
              }
            } else {
              for i in 0..<half {
                let a = xh[i], b = xh[i + half]
                oh[i] = a * c[i] - b * s[i]
                oh[i + half] = b * c[i + half] + a * s[i + half]
              }
            }
          }
          if x != UnsafePointer(o) {
            for j in rotated..<width { o[j] = x[j] }
          }
        }
      }
    }
  }
}
