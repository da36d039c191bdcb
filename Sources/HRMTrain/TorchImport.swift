// TorchImport.swift: turns a reference PyTorch checkpoint (torch.save of the loss head's
// state dict, keys `model.inner.*`, possibly prefixed `_orig_mod.`) into an hrm model and an
// hrm safetensors checkpoint. Sizes the state dict fixes (hidden size, vocabulary, layers,
// puzzle table, learned positions, SwiGLU width) are read from the tensor shapes; the rest
// (heads, cycles, halting, loss) comes from the given config, whose defaults are the reference's.

import Foundation
import HRMData
import HRMModel
import HRMSupport
import HRMTensor

extension Checkpoint {
  /// Reads a torch.save checkpoint at `path` (never executing its pickle) into a parameter
  /// store, with `config`'s architecture completed from the tensor shapes.
  public static func importTorch(path: String, config: TrainConfig, backend: Backend) throws -> (ParameterStore, TrainConfig) {
    let torch = try TorchCheckpoint(path: path)
    var byName: [String: TorchCheckpoint.Tensor] = [:]
    for key in torch.names {
      var name = key
      if name.hasPrefix("_orig_mod.") { name.removeFirst("_orig_mod.".count) }
      guard name.hasPrefix(prefix) else { continue }
      byName[String(name.dropFirst(prefix.count))] = torch.tensors[key]
    }
    func tensor(_ name: String) throws -> TorchCheckpoint.Tensor {
      guard let t = byName[name] else { throw HRMError(file: path, "tensor '\(prefix)\(name)' is missing (not an HRM ACT v1 state dict?)") }
      return t
    }
    var c = config
    var arch = c.arch
    if FileManager.default.fileExists(atPath: (c.dataPath as NSString).appendingPathComponent("train/dataset.json")) {
      let meta = try DatasetSplit.load(from: c.dataPath, split: "train").metadata
      arch.seqLen = meta.seqLen
      arch.vocabSize = meta.vocabSize
      arch.numPuzzleIdentifiers = meta.numPuzzleIdentifiers
    }
    let hInit = try tensor("H_init")
    guard hInit.shape.count == 1 else { throw HRMError(file: path, "H_init has shape \(hInit.shape), expected [hidden_size]") }
    arch.hiddenSize = hInit.shape[0]
    let embed = try tensor("embed_tokens.embedding_weight")
    arch.vocabSize = embed.shape[0]
    if let p = byName["puzzle_emb.weights"], p.shape.count == 2 {
      arch.numPuzzleIdentifiers = p.shape[0]
      arch.puzzleEmbNdim = p.shape[1]
    } else {
      arch.puzzleEmbNdim = 0
    }
    func layers(_ level: String) -> Int {
      var n = 0
      while byName["\(level).layers.\(n).self_attn.qkv_proj.weight"] != nil { n += 1 }
      return n
    }
    arch.hLayers = layers("H_level")
    arch.lLayers = layers("L_level")
    if let pos = byName["embed_pos.embedding_weight"] {
      arch.posEncodings = "learned"
      arch.seqLen = pos.shape[0] - arch.puzzlePrefixLength
    } else {
      arch.posEncodings = "rope"
    }
    let gateUp = try tensor("H_level.layers.0.mlp.gate_up_proj.weight")
    if arch.mlpWidth != gateUp.shape[0] / 2 { arch.expansion = Double(gateUp.shape[0] / 2) * 3 / (2 * Double(arch.hiddenSize)) }
    do { try arch.validate() } catch let e as HRMError {
      throw HRMError(file: path, "the checkpoint's sizes do not make a valid model with this config: \(e.message)")
    }
    c.arch = arch
    let store = ParameterStore(backend: backend)
    for (name, shape, isBuffer) in ParameterStore.layout(for: arch) {
      let t = try tensor(name)
      guard t.shape == shape else {
        throw HRMError(file: path, "tensor '\(prefix)\(name)' has shape \(t.shape), the model needs \(shape)")
      }
      store.set(name, Tensor(t.values, shape: shape, on: backend), isBuffer: isBuffer)
    }
    return (store, c)
  }
}
