// Parameters.swift: the model's named tensors (parameters and buffers) and their
// initialisation. Names are the reference's state-dict names without the `model.inner.`
// prefix (checkpoint I/O adds it), so reference weights load by name.

import Foundation
import HRMSupport
import HRMTensor

/// Ordered, named tensors of one model. Parameters get dense gradients and AdamATan2;
/// buffers (H_init, L_init, the puzzle table) do not.
public final class ParameterStore {
  public let backend: Backend
  public private(set) var names: [String] = []
  private var tensors: [String: Tensor] = [:]
  private var bufferNames: Set<String> = []

  public init(backend: Backend) { self.backend = backend }

  public subscript(name: String) -> Tensor {
    guard let t = tensors[name] else { preconditionFailure("no model tensor named '\(name)'") }
    return t
  }

  public func contains(_ name: String) -> Bool { tensors[name] != nil }

  /// Registers (or replaces the contents of) a tensor. Parameters require gradients.
  public func set(_ name: String, _ tensor: Tensor, isBuffer: Bool = false) {
    if let existing = tensors[name] {
      precondition(existing.shape == tensor.shape, "\(name): shape \(tensor.shape) != \(existing.shape)")
      backend.copy(tensor, to: existing)
      return
    }
    tensor.requiresGrad = !isBuffer
    names.append(name)
    tensors[name] = tensor
    if isBuffer { bufferNames.insert(name) }
  }

  /// Trainable parameters in registration order.
  public var parameters: [(name: String, tensor: Tensor)] {
    names.filter { !bufferNames.contains($0) }.map { ($0, tensors[$0]!) }
  }

  /// Everything (parameters and buffers) in registration order.
  public var all: [(name: String, tensor: Tensor)] { names.map { ($0, tensors[$0]!) } }

  /// Number of trainable scalars (the reference's num_params).
  public var parameterCount: Int { parameters.reduce(0) { $0 + $1.tensor.count } }

  /// Clears every parameter's gradient.
  public func zeroGrad() {
    for (_, t) in all { t.grad = nil }
  }

  /// The reference's tensor list for `config`: (name, shape, isBuffer), in state-dict order.
  public static func layout(for c: HRMConfig) -> [(name: String, shape: [Int], isBuffer: Bool)] {
    let d = c.hiddenSize
    var out: [(String, [Int], Bool)] = [
      ("H_init", [d], true), ("L_init", [d], true),
      ("embed_tokens.embedding_weight", [c.vocabSize, d], false),
      ("lm_head.weight", [c.vocabSize, d], false),
      ("q_head.weight", [2, d], false), ("q_head.bias", [2], false),
    ]
    if c.puzzleEmbWidth > 0 { out.append(("puzzle_emb.weights", [c.numPuzzleIdentifiers, c.puzzleEmbWidth], true)) }
    if c.posEncodings == "learned" { out.append(("embed_pos.embedding_weight", [c.totalLength, d], false)) }
    for (level, n) in [("H_level", c.hLayers), ("L_level", c.lLayers)] {
      for i in 0..<n {
        let p = "\(level).layers.\(i)."
        out.append((p + "self_attn.qkv_proj.weight", [3 * c.numHeads * c.headDim, d], false))
        out.append((p + "self_attn.o_proj.weight", [d, c.numHeads * c.headDim], false))
        out.append((p + "mlp.gate_up_proj.weight", [2 * c.mlpWidth, d], false))
        out.append((p + "mlp.down_proj.weight", [d, c.mlpWidth], false))
      }
    }
    return out
  }

  /// Checks that every tensor of the layout is present with its shape.
  public func checkShapes(for c: HRMConfig) throws {
    for (name, shape, _) in ParameterStore.layout(for: c) {
      guard let t = tensors[name] else { throw HRMError("model tensor '\(name)' is missing") }
      if t.shape != shape { throw HRMError("model tensor '\(name)' has shape \(t.shape), the config needs \(shape)") }
    }
  }

  /// The reference's initialisation (LeCun truncated normal; q_head zeros with bias −5;
  /// puzzle table zeros; H_init/L_init truncated normal σ = 1 rounded to bf16).
  public static func initialize(_ c: HRMConfig, backend: Backend, seed: UInt64) -> ParameterStore {
    var rng = HRMRandom(seed: seed, stream: 0x494E4954)  // "INIT"
    let store = ParameterStore(backend: backend)
    for (name, shape, isBuffer) in layout(for: c) {
      let n = shape.reduce(1, *)
      var values: [Float]
      switch name {
      case "q_head.weight", "puzzle_emb.weights": values = [Float](repeating: 0, count: n)
      case "q_head.bias": values = [-5, -5]
      case "H_init", "L_init": values = truncatedNormal(n, std: 1, rng: &rng).map(BF16.round)
      default: values = truncatedNormal(n, std: 1 / Double(shape[1]).squareRoot(), rng: &rng)
      }
      store.set(name, Tensor(values, shape: shape, on: backend), isBuffer: isBuffer)
    }
    return store
  }

  /// Standard normal truncated to [−2, 2], scaled so the result's std is `std`
  /// (the reference's variance-corrected truncated normal).
  public static func truncatedNormal(_ n: Int, std: Double, rng: inout HRMRandom) -> [Float] {
    let correction = 1.1368472343385565
    var out = [Float](repeating: 0, count: n)
    if std == 0 { return out }
    for i in 0..<n {
      var z = rng.normal()
      while abs(z) > 2 { z = rng.normal() }
      out[i] = Float(z * std * correction)
    }
    return out
  }
}
