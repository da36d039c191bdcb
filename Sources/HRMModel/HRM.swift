// HRM.swift: the Hierarchical Reasoning Model (ACT v1 inner model), as the reference defines it.
//
// Shape letters: B batch, S grid tokens, P puzzle-prefix positions, T = S + P, D hidden,
// H heads, Dh = D / H head dim, I SwiGLU width, V vocabulary.
//
//   x        = √D · [puzzle prefix ; E_tok[inputs]] (+ learned positions)      [B, T, D]
//   block(u) = RMSNorm(u + Attn(u)); RMSNorm(u + SwiGLU(u))                      post-norm
//   R(z, i)  = block_n(...block_1(z + i))                                        H and L modules
//   segment  : (H_cycles·L_cycles − 1) L-calls and (H_cycles − 1) H-calls without gradient,
//              then one L-call and one H-call with gradient (the one-step gradient)
//   logits   = z_H[:, P:] · W_lmᵀ                                                [B, S, V]
//   q        = z_H[:, 0] · W_qᵀ + b_q  (column 0 halt, column 1 continue)        [B], [B]
//
// Not here: the ACT loop, losses and metrics (ACT.swift) and optimisers (Optimizers.swift).

import Foundation
import HRMSupport
import HRMTensor

/// One post-norm transformer block: attention and SwiGLU, no biases, no norm weights.
public final class HRMBlock {
  /// Fused Q, K, V projection (Q heads, then K, then V), [3·H·Dh, D].
  public let qkvProj: Tensor
  /// Attention output projection, [D, H·Dh].
  public let oProj: Tensor
  /// SwiGLU gate (first I rows) and up (last I rows) projection, [2I, D].
  public let gateUpProj: Tensor
  /// SwiGLU down projection, [D, I].
  public let downProj: Tensor
  let heads: Int
  let headDim: Int
  let eps: Float

  init(qkvProj: Tensor, oProj: Tensor, gateUpProj: Tensor, downProj: Tensor, heads: Int, headDim: Int, eps: Float) {
    self.qkvProj = qkvProj
    self.oProj = oProj
    self.gateUpProj = gateUpProj
    self.downProj = downProj
    self.heads = heads
    self.headDim = headDim
    self.eps = eps
  }

  /// The same block with its weights converted to `dtype` once (recorded on the tape when
  /// recording), so a module applied several times per segment casts each weight once.
  func casted(to dtype: DType) -> HRMBlock {
    if qkvProj.dtype == dtype { return self }
    return HRMBlock(qkvProj: qkvProj.cast(dtype), oProj: oProj.cast(dtype), gateUpProj: gateUpProj.cast(dtype),
                    downProj: downProj.cast(dtype), heads: heads, headDim: headDim, eps: eps)
  }

  /// `casted(to:)` taking the values from `converted` (this block cast earlier, weights
  /// unchanged since): no conversion runs, the casts are still recorded for the gradient.
  func casted(reusing converted: HRMBlock) -> HRMBlock {
    if qkvProj.dtype == converted.qkvProj.dtype { return self }
    return HRMBlock(qkvProj: castTensor(qkvProj, reusing: converted.qkvProj),
                    oProj: castTensor(oProj, reusing: converted.oProj),
                    gateUpProj: castTensor(gateUpProj, reusing: converted.gateUpProj),
                    downProj: castTensor(downProj, reusing: converted.downProj), heads: heads, headDim: headDim, eps: eps)
  }

  /// u [B, T, D] -> [B, T, D]. cos/sin [T, Dh] for RoPE, nil for learned positions.
  public func callAsFunction(_ u: Tensor, rotary: (cos: Tensor, sin: Tensor)?) -> Tensor {
    let a = rotary.map {                                                     // RoPE on Q, K first
      rotaryProjectedAttention(u, qkvProj, cos: $0.cos, sin: $0.sin, heads: heads, headDim: headDim)
    } ?? attention(linear(u, qkvProj), heads: heads, headDim: headDim)     // qkv [B, T, 3·H·Dh]
    let attn = linear(a, oProj)                                              // [B, T, D]
    let h = addRMSNorm(u, attn, eps: eps)                                    // rmsNorm(u + attn)
    let mlp = linear(swigluLinear(h, gateUpProj), downProj)                  // [B, T, D]
    return addRMSNorm(h, mlp, eps: eps)
  }
}

/// A reasoning module (H or L): a stack of blocks with additive input injection.
public final class ReasoningModule {
  public let blocks: [HRMBlock]
  init(blocks: [HRMBlock]) { self.blocks = blocks }

  /// The module with every weight cast to `dtype` (see HRMBlock.casted).
  func casted(to dtype: DType) -> ReasoningModule {
    ReasoningModule(blocks: blocks.map { $0.casted(to: dtype) })
  }

  /// The module cast with the values of `converted` (see HRMBlock.casted(reusing:)).
  func casted(reusing converted: ReasoningModule) -> ReasoningModule {
    ReasoningModule(blocks: zip(blocks, converted.blocks).map { $0.casted(reusing: $1) })
  }

  /// R(z, injection) = blocks(z + injection).
  public func callAsFunction(_ z: Tensor, injection: Tensor, rotary: (cos: Tensor, sin: Tensor)?) -> Tensor {
    var u = add(z, injection)
    for block in blocks { u = block(u, rotary: rotary) }
    return u
  }
}

/// The recurrent state carried between ACT segments.
public struct InnerCarry {
  /// High-level state, [B, T, D].
  public var zH: Tensor
  /// Low-level state, [B, T, D].
  public var zL: Tensor

  /// A carry from its two states, each [B, T, D] in the forward dtype.
  public init(zH: Tensor, zL: Tensor) {
    self.zH = zH
    self.zL = zL
  }
}

/// What one segment produces.
public struct InnerOutput {
  public var carry: InnerCarry
  /// [B, S, V]
  public var logits: Tensor
  /// [B] f32
  public var qHalt: Tensor
  /// [B] f32
  public var qCont: Tensor
}

/// The HRM inner model: embeddings, H and L modules, LM and Q heads, initial states.
public final class HRMInner {
  public let config: HRMConfig
  public let parameters: ParameterStore
  public let backend: Backend
  /// Forward (activation) dtype.
  public let dtype: DType

  let H: ReasoningModule
  let L: ReasoningModule
  let rotary: (cos: Tensor, sin: Tensor)?
  /// H_init / L_init broadcast over the T positions: [1, T·D] in the forward dtype.
  var hInitRow: Tensor
  var lInitRow: Tensor

  /// H and L with their weights in the forward dtype while the weights are frozen
  /// (`withFrozenWeights`); nil otherwise, when each forward casts them once.
  private var frozenModules: (L: ReasoningModule, H: ReasoningModule)?

  /// The puzzle-embedding rows used by the last training forward (the sparse optimiser's
  /// input): ids [B] and the gathered rows [B, puzzle_emb_ndim], whose `grad` backward fills.
  public private(set) var puzzleScratch: (ids: Tensor, rows: Tensor)?

  /// Builds the model over `parameters` (see `ParameterStore.initialize`).
  public init(config: HRMConfig, parameters: ParameterStore) throws {
    try config.validate()
    self.config = config
    self.parameters = parameters
    self.backend = parameters.backend
    self.dtype = resolvedForwardDType(config, backend: parameters.backend)
    try parameters.checkShapes(for: config)
    let eps = Float(config.rmsNormEps)
    func level(_ name: String, _ n: Int) -> ReasoningModule {
      ReasoningModule(blocks: (0..<n).map { i in
        let p = "\(name).layers.\(i)."
        return HRMBlock(qkvProj: parameters[p + "self_attn.qkv_proj.weight"],
                        oProj: parameters[p + "self_attn.o_proj.weight"],
                        gateUpProj: parameters[p + "mlp.gate_up_proj.weight"],
                        downProj: parameters[p + "mlp.down_proj.weight"],
                        heads: config.numHeads, headDim: config.headDim, eps: eps)
      })
    }
    H = level("H_level", config.hLayers)
    L = level("L_level", config.lLayers)
    rotary = config.posEncodings == "rope"
      ? ropeTables(length: config.totalLength, headDim: config.headDim, theta: config.ropeTheta, on: backend) : nil
    hInitRow = Tensor.empty([1], .f32, on: backend)
    lInitRow = hInitRow
    refreshInitialStates()
  }

  /// Re-reads H_init / L_init (after loading weights) into their broadcast rows.
  public func refreshInitialStates() {
    func row(_ v: Tensor) -> Tensor {
      let values = v.toArray()
      var tiled = [Float]()
      tiled.reserveCapacity(values.count * config.totalLength)
      for _ in 0..<config.totalLength { tiled.append(contentsOf: values) }
      return Tensor(tiled, shape: [1, config.totalLength * config.hiddenSize], dtype: dtype, on: backend)
    }
    hInitRow = row(parameters["H_init"])
    lInitRow = row(parameters["L_init"])
  }

  // MARK: - Forward

  /// Input injection x [B, T, D]: token embedding with the puzzle prefix, scaled by √D.
  /// In training the puzzle rows go through a fresh leaf tensor whose gradient the sparse
  /// optimiser reads (the reference's local_weights scratch).
  public func inputEmbedding(inputs: Tensor, puzzleIdentifiers: Tensor, training: Bool) -> Tensor {
    let c = config
    let b = inputs.shape[0]
    var e = embedding(parameters["embed_tokens.embedding_weight"], ids: inputs.reshapedRaw([inputs.count]))
      .cast(dtype).reshaped([b, c.seqLen, c.hiddenSize])                     // [B, S, D]
    if c.puzzleEmbWidth > 0 {
      let ids = puzzleIdentifiers.reshapedRaw([b])
      let rows: Tensor                                                        // [B, ndim] f32
      if training {
        rows = Autodiff.withoutGradient { embedding(parameters["puzzle_emb.weights"], ids: ids) }
        if Autodiff.isRecording {  // the target-Q forward (no gradient) keeps the scratch
          rows.requiresGrad = true
          puzzleScratch = (ids, rows)
        }
      } else {
        rows = embedding(parameters["puzzle_emb.weights"], ids: ids)
      }
      var prefix = rows.cast(dtype)
      let width = c.puzzlePrefixLength * c.hiddenSize
      if c.puzzleEmbWidth < width {  // right-pad with zeros to P·D
        let padded = Tensor.zeros([b, width, 1], dtype, on: backend)
        prefix = concatSequence(prefix.reshaped([b, c.puzzleEmbWidth, 1]),
                                sliceSequence(padded, start: 0, length: width - c.puzzleEmbWidth))
      }
      e = concatSequence(prefix.reshaped([b, c.puzzlePrefixLength, c.hiddenSize]), e)  // [B, T, D]
    }
    if c.posEncodings == "learned" {
      let pos = parameters["embed_pos.embedding_weight"].reshaped([c.totalLength * c.hiddenSize])
      e = scale(addRowBroadcast(e.reshaped([b, c.totalLength * c.hiddenSize]), pos), 0.707106781)
        .reshaped([b, c.totalLength, c.hiddenSize])
    }
    return scale(e, Float(Double(c.hiddenSize).squareRoot()))
  }

  /// Runs `body` with the H and L weights cast to the forward dtype once for every forward
  /// inside it (an evaluation's segments, a training step's two forwards) instead of once per
  /// forward. The weights must not change inside `body` (no optimiser step, no loading).
  /// Nested calls share the outermost cast.
  public func withFrozenWeights<R>(_ body: () throws -> R) rethrows -> R {
    if frozenModules != nil { return try body() }
    frozenModules = castModules()
    defer { frozenModules = nil }
    return try body()
  }

  /// L and H cast to the forward dtype, not recorded.
  private func castModules() -> (L: ReasoningModule, H: ReasoningModule) {
    Autodiff.withoutGradient { (L.casted(to: dtype), H.casted(to: dtype)) }
  }

  /// One ACT segment: the H/L recurrence with the one-step gradient, then the heads.
  public func forward(_ carry: InnerCarry, inputs: Tensor, puzzleIdentifiers: Tensor, training: Bool) -> InnerOutput {
    let c = config
    let x = inputEmbedding(inputs: inputs, puzzleIdentifiers: puzzleIdentifiers, training: training)
    var zH = carry.zH
    var zL = carry.zL
    let cast = frozenModules ?? castModules()   // the weights in the forward dtype, cast once
    Autodiff.withoutGradient {
      for hc in 0..<c.hCycles {
        let injection = add(zH, x)   // z_H changes only after the L cycles
        for lc in 0..<c.lCycles where !(hc == c.hCycles - 1 && lc == c.lCycles - 1) {
          zL = cast.L(zL, injection: injection, rotary: rotary)
        }
        if hc != c.hCycles - 1 { zH = cast.H(zH, injection: zL, rotary: rotary) }
      }
    }
    // The one-step gradient: z_L and z_H enter as constants, x carries gradient; the weight
    // casts are recorded (with the values already cast) so the gradient reaches the f32 weights.
    let (L, H) = Autodiff.isRecording ? (self.L.casted(reusing: cast.L), self.H.casted(reusing: cast.H)) : cast
    zL = L(zL, injection: add(zH, x), rotary: rotary)
    zH = H(zH, injection: zL, rotary: rotary)

    let b = inputs.shape[0]
    let grid = sliceSequence(zH, start: c.puzzlePrefixLength, length: c.seqLen)        // [B, S, D]
    let logits = linear(grid, parameters["lm_head.weight"])                           // [B, S, V]
    let first = sliceSequence(zH, start: 0, length: 1).reshaped([b, c.hiddenSize])    // [B, D]
    let q = linear(first, parameters["q_head.weight"], bias: parameters["q_head.bias"])
      .cast(.f32).reshaped([b, 2, 1])                                                 // [B, 2, 1]
    let qHalt = sliceSequence(q, start: 0, length: 1).reshaped([b])
    let qCont = sliceSequence(q, start: 1, length: 1).reshaped([b])
    return InnerOutput(carry: InnerCarry(zH: zH.detached(), zL: zL.detached()),
                       logits: logits, qHalt: qHalt, qCont: qCont)
  }

  /// Rows of `carry` where mask [B] i32 is set go back to H_init / L_init.
  public func reset(_ carry: InnerCarry, mask: Tensor) -> InnerCarry {
    let shape = carry.zH.shape
    let b = shape[0]
    let flatH = carry.zH.reshapedRaw([b, shape[1] * shape[2]])
    let flatL = carry.zL.reshapedRaw([b, shape[1] * shape[2]])
    return InnerCarry(zH: selectRows(mask: mask, hInitRow, flatH).reshapedRaw(shape),
                      zL: selectRows(mask: mask, lInitRow, flatL).reshapedRaw(shape))
  }

  /// An uninitialised carry for `batch` rows (every row is reset before first use).
  public func emptyCarry(batch: Int) -> InnerCarry {
    let shape = [batch, config.totalLength, config.hiddenSize]
    return InnerCarry(zH: Tensor.zeros(shape, dtype, on: backend), zL: Tensor.zeros(shape, dtype, on: backend))
  }
}
