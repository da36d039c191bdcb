// Backend.swift: the seam between the tensor front end and the machines it runs on.
//
// A backend owns memory (allocate / release / copy) and implements the fused kernels that
// HRM needs, each forward next to its backward. The front end (Ops, autodiff, the model)
// talks to nothing else, so the CUDA backend plugs in here without touching model code.
//
// Conventions for every kernel:
// - Tensors are dense and row-major; `Tensor.offset` (in elements) is honoured.
// - The caller allocates every output; kernels overwrite outputs unless a parameter says
//   `accumulate`, in which case they add into it.
// - Shape letters: B batch, T sequence (puzzle prefix included), D hidden, H heads,
//   Dh head dim, I SwiGLU inner width, V vocabulary, N rows (B*T or B*S), R table rows.
// - Float tensors may be f32 or bf16 (the CPU backend computes bf16 through f32);
//   statistics the backward pass needs (rstd, logsumexp) are always f32.

/// Which cross-entropy the LM loss uses.
public enum CrossEntropyKind: String, Codable, Sendable {
  /// The reference's default: s(x) = x+1 for x >= 0, 1/(1-x) otherwise; computed in f64.
  case stablemax = "stablemax_cross_entropy"
  /// Standard softmax cross-entropy, computed in f32.
  case softmax = "softmax_cross_entropy"
}

public protocol Backend: AnyObject, Sendable {
  /// Short name, e.g. "cpu" or "cuda:0".
  var name: String { get }

  // MARK: - Memory

  /// Allocates `byteCount` bytes (contents undefined).
  func allocate(byteCount: Int) throws -> Buffer
  /// Returns memory; called by `Buffer.deinit` only.
  func release(address: UInt64, byteCount: Int)
  /// Host -> backend copy of `byteCount` bytes at byte offset `offset` of `buffer`.
  func upload(_ source: UnsafeRawPointer, byteCount: Int, to buffer: Buffer, offset: Int)
  /// Backend -> host copy.
  func download(_ buffer: Buffer, offset: Int, byteCount: Int, to destination: UnsafeMutableRawPointer)
  /// Waits for all queued work.
  func synchronize()

  // MARK: - Elementwise and data movement

  /// t[:] = value (float or integer tensors).
  func fill(_ t: Tensor, value: Float)
  /// dst = src with dtype conversion (f32 <-> bf16, same element count).
  func copy(_ src: Tensor, to dst: Tensor)
  /// out = alpha * a + beta * b (same element count; out may alias a or b).
  func addScaled(_ a: Tensor, alpha: Float, _ b: Tensor, beta: Float, out: Tensor)
  /// out = alpha * x (out may alias x).
  func scale(_ x: Tensor, by alpha: Float, out: Tensor)
  /// Sequence-window copy. src [B, Ts, D], dst [B, Td, D]:
  /// dst[b, dstStart + t, :] (+)= src[b, srcStart + t, :] for t in 0..<length.
  func copySequence(_ src: Tensor, srcStart: Int, to dst: Tensor, dstStart: Int, length: Int, accumulate: Bool)
  /// Row select. mask [B] i32, a [B, X] or [1, X] (broadcast), b [B, X], out [B, X]:
  /// out[i] = mask[i] != 0 ? a[i or 0] : b[i]. out may alias b.
  func selectRows(mask: Tensor, _ a: Tensor, _ b: Tensor, out: Tensor)

  // MARK: - Linear algebra

  /// C = alpha * op(A) * op(B) + beta * C, row-major. op(A) is [m, k], op(B) is [k, n].
  /// A is stored [m, k] (or [k, m] when transA), B [k, n] (or [n, k] when transB).
  /// When beta == 0, C's old contents are ignored (NaN included).
  func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
            alpha: Float, _ a: Tensor, _ b: Tensor, beta: Float, _ c: Tensor)
  /// x [N, C] += bias [C] broadcast over rows.
  func addBias(_ x: Tensor, bias: Tensor)
  /// out [C] (+)= sum over rows of x [N, C].
  func sumRows(_ x: Tensor, out: Tensor, accumulate: Bool)

  // MARK: - Embedding

  /// out [N, D] = table [R, D] rows ids [N] (i32).
  func embeddingForward(table: Tensor, ids: Tensor, out: Tensor)
  /// gradTable [R, D] += scatter of gradOut [N, D] by ids [N] (duplicates summed).
  func embeddingBackward(gradOut: Tensor, ids: Tensor, gradTable: Tensor)

  // MARK: - RMSNorm (no weight)

  /// out [N, D] = x * rstd, rstd [N] f32 = 1 / sqrt(mean(x^2) + eps), statistics in f32.
  func rmsNormForward(_ x: Tensor, out: Tensor, rstd: Tensor, eps: Float)
  /// gradX = rstd * (gradOut - y * mean(gradOut * y)) with y the forward output.
  func rmsNormBackward(gradOut: Tensor, y: Tensor, rstd: Tensor, gradX: Tensor)
  /// Residual add fused with RMSNorm, one pass instead of an add and a norm:
  /// s = a + b rounded to out's dtype (exactly what `addScaled` then `rmsNormForward` see),
  /// out [N, D] = s * rstd, rstd [N] f32 = 1 / sqrt(mean(s^2) + eps). a, b, out share one
  /// dtype and element count. The backward is `rmsNormBackward` (both inputs get gradX).
  func addRMSNormForward(_ a: Tensor, _ b: Tensor, out: Tensor, rstd: Tensor, eps: Float)

  // MARK: - Rotary embedding

  /// qkv [B, T, (2H + H) * Dh] -> out (same shape): rotate the H query and H key heads
  /// with the half-split convention (pair i with i + Dh/2), copy the value heads.
  /// cos, sin [T, Dh] f32. `inverse` rotates by -angle (this is the backward pass).
  func rope(_ qkv: Tensor, cos: Tensor, sin: Tensor, heads: Int, headDim: Int, inverse: Bool, out: Tensor)

  // MARK: - Attention (non-causal, fused)

  /// qkv [B, T, 3 * H * Dh] (Q heads, K heads, V heads) -> out [B, T, H * Dh];
  /// lse [B, H, T] f32 receives the softmax log-sum-exp for the backward pass.
  func attentionForward(qkv: Tensor, out: Tensor, lse: Tensor, batch: Int, seq: Int,
                        heads: Int, headDim: Int, scale: Float)
  /// RoPE then attention in one call: the H query and H key heads of qkv are rotated as
  /// `rope` does (cos, sin [T, Dh] f32) and attended as `attentionForward` does. `rotated`
  /// (nil, a fresh tensor shaped as qkv, or qkv itself) receives what `rope` would write
  /// (what the backward pass needs); qkv is otherwise left as it was. The default composes
  /// `rope` and `attentionForward`; a backend overrides it where it can rotate inside the
  /// attention.
  func attentionForwardRotary(qkv: Tensor, cos: Tensor, sin: Tensor, rotated: Tensor?, out: Tensor, lse: Tensor,
                              batch: Int, seq: Int, heads: Int, headDim: Int, scale: Float)
  /// gradQKV [B, T, 3 * H * Dh] (overwritten) from gradOut [B, T, H * Dh].
  func attentionBackward(qkv: Tensor, out: Tensor, lse: Tensor, gradOut: Tensor, gradQKV: Tensor,
                         batch: Int, seq: Int, heads: Int, headDim: Int, scale: Float)

  // MARK: - SwiGLU

  /// gateUp [N, 2I] (gate first, up second) -> out [N, I] = silu(gate) * up.
  func swigluForward(_ gateUp: Tensor, out: Tensor)
  /// gradGateUp [N, 2I] (overwritten) from gradOut [N, I].
  func swigluBackward(gateUp: Tensor, gradOut: Tensor, gradGateUp: Tensor)

  // MARK: - Projections with their element-wise op (forward only, no gradient kept)

  /// out [N, I] = SwiGLU(x [N, K] · weight [2I, K]ᵀ): `gemm` then `swigluForward`, for a
  /// forward pass that records no gradient. The default composes the two; a backend
  /// overrides it where it can apply SwiGLU before the [N, 2I] product reaches memory.
  func linearSwiGLU(_ x: Tensor, weight: Tensor, out: Tensor)
  /// out [B·T, 3·H·Dh] = x [B·T, K] · weight [3·H·Dh, K]ᵀ with RoPE on the query and key
  /// heads (row r at position r mod T; cos, sin [T, Dh]): `gemm` then `rope`, for a forward
  /// pass that records no gradient. The default composes the two.
  func linearRotary(_ x: Tensor, weight: Tensor, cos: Tensor, sin: Tensor, seq: Int, heads: Int, headDim: Int,
                    out: Tensor)
  /// Whether a gradient-free QKV projection followed by rotary attention at this length
  /// should run as `linearRotary` then `attentionForward` (the rotation fused into the
  /// projection) rather than `gemm` then `attentionForwardRotary`. Default false.
  func prefersRotaryProjection(seq: Int, headDim: Int) -> Bool

  // MARK: - Losses
  //
  // Scalar losses are reduced on the device; the upstream gradient of a scalar loss is a
  // one-element f32 tensor `gradScale` that stays on the device too.

  /// logits [N, V], labels [N] i32 (-100 = ignore) -> losses [N] f32 (0 where ignored).
  func crossEntropyForward(kind: CrossEntropyKind, logits: Tensor, labels: Tensor, losses: Tensor)
  /// gradLogits [N, V] (overwritten) = gradScale[0] * weights[n] * d ce(n) / d logits[n];
  /// weights [N] f32, gradScale [1] f32.
  func crossEntropyBackward(kind: CrossEntropyKind, logits: Tensor, labels: Tensor, weights: Tensor,
                            gradScale: Tensor, gradLogits: Tensor)
  /// losses [N] = BCEWithLogits(logits [N], targets [N]), all f32, numerically stable form.
  func bceWithLogitsForward(logits: Tensor, targets: Tensor, losses: Tensor)
  /// gradLogits [N] = gradScale[0] * (sigmoid(logits) - targets).
  func bceWithLogitsBackward(logits: Tensor, targets: Tensor, gradScale: Tensor, gradLogits: Tensor)
  /// The reference's per-sequence normalisation. labels [B, S] i32 -> weights [B, S] f32:
  /// weights[b, s] = labels[b, s] != -100 ? 1 / max(n_b, 1) : 0, n_b = valid labels of row b.
  func rowNormalizedWeights(labels: Tensor, weights: Tensor)

  // MARK: - Reductions and metrics

  /// out [1] f32 (+)= sum of x (accumulated in f64 on the CPU).
  func sum(_ x: Tensor, out: Tensor, accumulate: Bool)
  /// out [1] f32 (+)= sum of a * b (same element count).
  func dot(_ a: Tensor, _ b: Tensor, out: Tensor, accumulate: Bool)
  /// Squared L2 norm of x, into out [1] f32.
  func sumOfSquares(_ x: Tensor, out: Tensor, accumulate: Bool)
  /// Per-row counts for the LM metrics. logits [B, S, V], labels [B, S] i32 ->
  /// valid [B] i32 = labels != -100; correct [B] i32 = valid positions whose argmax (ties:
  /// lowest index) equals the label; seqCorrect [B] f32 = 1 where correct == valid, else 0.
  func tokenCorrectness(logits: Tensor, labels: Tensor, valid: Tensor, correct: Tensor, seqCorrect: Tensor)
  /// argmax over the last axis: logits [N, V] -> out [N] i32 (ties: lowest index).
  func argmax(_ logits: Tensor, out: Tensor)

  // MARK: - ACT bookkeeping (all [B] vectors)

  /// One halting decision. steps i32 += 1; halted i32 = steps >= maxSteps; when
  /// `useQ`: halted |= qHalt > qCont, then halted &= steps >= minSteps (i32, the exploration
  /// draw; 0 = no minimum).
  func actHalt(steps: Tensor, qHalt: Tensor, qCont: Tensor, minSteps: Tensor, maxSteps: Int,
               useQ: Bool, halted: Tensor)
  /// Q-learning target: target = sigmoid(steps >= maxSteps ? nextHalt : max(nextHalt, nextCont)).
  func actTarget(nextQHalt: Tensor, nextQCont: Tensor, steps: Tensor, maxSteps: Int, target: Tensor)

  // MARK: - Optimisers

  /// AdamATan2 step (the reference's form, a = b = 1, 1/bc1 outside the atan2), all f32:
  /// p *= 1 - lr*wd; m += (1-b1)(g-m); v += (1-b2)(g^2-v);
  /// p -= (lr / bc1) * atan2(m, sqrt(v) / sqrt(bc2)).
  func adamATan2Step(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, lr: Float, beta1: Float,
                     beta2: Float, weightDecay: Float, biasCorrection1: Float, biasCorrection2: Float)
  /// Sparse sign-SGD on table [R, D] f32: sum grads [N, D] rows by ids [N] (duplicates summed),
  /// then for each distinct id u: table[u] = table[u] * (1 - lr*wd) - lr * sign(g_u).
  func sparseSignSGDStep(table: Tensor, ids: Tensor, grads: Tensor, lr: Float, weightDecay: Float)

  // MARK: - Profiling

  /// Starts timing every kernel the backend queues (a no-op where the backend cannot).
  func beginProfile()
  /// Stops timing and returns the device time per kernel name, largest first (empty where
  /// the backend does not profile). Waits for the queued work.
  func endProfile() -> [KernelTime]
}

/// Device time spent in one kernel (or library call) between beginProfile and endProfile.
public struct KernelTime: Codable, Sendable, Equatable {
  public var name: String
  public var calls: Int
  public var milliseconds: Double
  public init(name: String, calls: Int, milliseconds: Double) {
    self.name = name
    self.calls = calls
    self.milliseconds = milliseconds
  }
}

extension Backend {
  public func attentionForwardRotary(qkv: Tensor, cos: Tensor, sin: Tensor, rotated: Tensor?, out: Tensor, lse: Tensor,
                                     batch: Int, seq: Int, heads: Int, headDim: Int, scale: Float) {
    composedRotaryAttention(qkv: qkv, cos: cos, sin: sin, rotated: rotated, out: out, lse: lse,
                            batch: batch, seq: seq, heads: heads, headDim: headDim, scale: scale)
  }

  /// `attentionForwardRotary` as `rope` (into `rotated`, or a scratch tensor) followed by
  /// `attentionForward`: the definition, and the fallback of backends that override it.
  public func composedRotaryAttention(qkv: Tensor, cos: Tensor, sin: Tensor, rotated: Tensor?, out: Tensor,
                                      lse: Tensor, batch: Int, seq: Int, heads: Int, headDim: Int, scale: Float) {
    let r = rotated ?? Tensor.empty(qkv.shape, qkv.dtype, on: self)
    rope(qkv, cos: cos, sin: sin, heads: heads, headDim: headDim, inverse: false, out: r)
    attentionForward(qkv: r, out: out, lse: lse, batch: batch, seq: seq, heads: heads, headDim: headDim, scale: scale)
  }

  public func linearSwiGLU(_ x: Tensor, weight: Tensor, out: Tensor) {
    composedLinearSwiGLU(x, weight: weight, out: out)
  }

  /// `linearSwiGLU` as `gemm` into a scratch [N, 2I] then `swigluForward`.
  public func composedLinearSwiGLU(_ x: Tensor, weight: Tensor, out: Tensor) {
    let (rows, k, width) = (x.shape[0], x.shape[1], weight.shape[0])
    let gateUp = Tensor.empty([rows, width], out.dtype, on: self)
    gemm(transA: false, transB: true, m: rows, n: width, k: k, alpha: 1, x, weight, beta: 0, gateUp)
    swigluForward(gateUp, out: out)
  }

  public func linearRotary(_ x: Tensor, weight: Tensor, cos: Tensor, sin: Tensor, seq: Int, heads: Int, headDim: Int,
                           out: Tensor) {
    composedLinearRotary(x, weight: weight, cos: cos, sin: sin, seq: seq, heads: heads, headDim: headDim, out: out)
  }

  public func prefersRotaryProjection(seq: Int, headDim: Int) -> Bool { false }

  /// `linearRotary` as `gemm` into `out` then `rope` in place.
  public func composedLinearRotary(_ x: Tensor, weight: Tensor, cos: Tensor, sin: Tensor, seq: Int, heads: Int,
                                   headDim: Int, out: Tensor) {
    let (rows, k, width) = (x.shape[0], x.shape[1], weight.shape[0])
    gemm(transA: false, transB: true, m: rows, n: width, k: k, alpha: 1, x, weight, beta: 0, out)
    let qkv = out.reshapedRaw([rows / seq, seq, width])
    rope(qkv, cos: cos, sin: sin, heads: heads, headDim: headDim, inverse: false, out: qkv)
  }

  public func beginProfile() {}
  public func endProfile() -> [KernelTime] { [] }
}
