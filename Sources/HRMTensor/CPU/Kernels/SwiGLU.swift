// SwiGLU.swift: CPU SwiGLU activation on fused gate|up rows, forward and backward.
//
// gateUp [N, 2I] holds the gate in its first I columns and up in its last I.
//   forward   out = silu(g)·u, silu(g) = g·σ(g)
//   backward  dg = dout·u·σ(g)·(1 + g·(1 − σ(g))), du = dout·silu(g)
// σ comes from the eight-lane exponential (HostMath.sigmoid8); tails use the same function.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension CPUBackend {
  /// Logistic sigmoid in f32, stable for large |x| (never evaluates exp of a positive number).
  @inline(__always)
  static func sigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + expf(-x)) }
    let e = expf(x)
    return e / (1 + e)
  }

  /// gateUp [N, 2I] -> out [N, I] = silu(gate)·up.
  public func swigluForward(_ gateUp: Tensor, out: Tensor) {
    precondition(gateUp.count == 2 * out.count, "swigluForward: gateUp \(gateUp.shape) -> out \(out.shape)")
    let inner = out.shape.last ?? 0
    if inner == 0 || out.count == 0 { return }
    let rows = out.count / inner
    HostF32.read(gateUp) { px in
      HostF32.write(out, load: false) { po in
        CPUParallel.forEach(rows, minPerThread: max(1, CPUBackend.elementwiseGrain / (2 * inner))) { r in
          let g = px + r * 2 * inner, u = g + inner, o = po + r * inner
          var j = 0
          while j + 8 <= inner {
            let x = HostMath.load8(g + j)
            HostMath.store8(x * HostMath.sigmoid8(x) * HostMath.load8(u + j), o + j)
            j += 8
          }
          while j < inner {
            let x = g[j]
            o[j] = x * HostMath.sigmoid(x) * u[j]
            j += 1
          }
        }
      }
    }
  }

  /// gradGateUp [N, 2I] (overwritten) from gradOut [N, I].
  public func swigluBackward(gateUp: Tensor, gradOut: Tensor, gradGateUp: Tensor) {
    precondition(gateUp.count == 2 * gradOut.count && gradGateUp.count == gateUp.count,
                 "swigluBackward: gateUp \(gateUp.shape), gradOut \(gradOut.shape), gradGateUp \(gradGateUp.shape)")
    let inner = gradOut.shape.last ?? 0
    if inner == 0 || gradOut.count == 0 { return }
    let rows = gradOut.count / inner
    HostF32.read(gateUp) { px in
      HostF32.read(gradOut) { pg in
        HostF32.write(gradGateUp, load: false) { pd in
          CPUParallel.forEach(rows, minPerThread: max(1, CPUBackend.elementwiseGrain / (2 * inner))) { r in
            let g = px + r * 2 * inner, u = g + inner, dy = pg + r * inner
            let dg = pd + r * 2 * inner, du = dg + inner
            var j = 0
            while j + 8 <= inner {
              let x = HostMath.load8(g + j), s = HostMath.sigmoid8(x)
              let up = HostMath.load8(u + j), d = HostMath.load8(dy + j)
              HostMath.store8(d * up * s * (1 + x * (1 - s)), dg + j)
              HostMath.store8(d * x * s, du + j)
              j += 8
            }
            while j < inner {
              let x = g[j], s = HostMath.sigmoid(x), up = u[j], d = dy[j]
              dg[j] = d * up * s * (1 + x * (1 - s))
              du[j] = d * x * s
              j += 1
            }
          }
        }
      }
    }
  }
}
