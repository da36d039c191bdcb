// Config.swift: the HRM ACT v1 architecture configuration, with the reference's keys and
// defaults (config/arch/hrm_v1.yaml plus the class defaults), and its derived sizes.

import Foundation
import HRMSupport
import HRMTensor

/// Architecture of one HRM ACT v1 model. Field names are the reference's `arch.*` keys.
public struct HRMConfig: Codable, Equatable, Sendable {
  // Injected from the dataset / trainer.
  /// Rows per rank (global_batch_size / world_size).
  public var batchSize: Int = 768
  /// Grid tokens per example (81 Sudoku, 900 Maze/ARC).
  public var seqLen: Int = 81
  /// Size of the puzzle-embedding table, blank id included.
  public var numPuzzleIdentifiers: Int = 1
  /// Token vocabulary (11 Sudoku, 6 Maze, 12 ARC).
  public var vocabSize: Int = 11

  // Architecture (hrm_v1.yaml).
  /// High-level cycles per segment (paper's N).
  public var hCycles: Int = 2
  /// Low-level updates per high-level cycle (paper's T).
  public var lCycles: Int = 2
  /// Transformer blocks in the H module.
  public var hLayers: Int = 4
  /// Transformer blocks in the L module.
  public var lLayers: Int = 4
  /// Model width D.
  public var hiddenSize: Int = 512
  /// SwiGLU width multiplier.
  public var expansion: Double = 4
  /// Attention heads (head dim = hidden / heads).
  public var numHeads: Int = 8
  /// "rope" or "learned".
  public var posEncodings: String = "rope"
  /// Width of the puzzle embedding; 0 disables it. Defaults to hidden_size.
  public var puzzleEmbNdim: Int? = nil
  /// ACT segment limit (M_max).
  public var haltMaxSteps: Int = 16
  /// Probability of drawing a random minimum number of segments, per row and call.
  public var haltExplorationProb: Double = 0.1
  public var rmsNormEps: Double = 1e-5
  public var ropeTheta: Double = 10000
  /// "bfloat16" or "float32"; nil = the device's default (bf16 on CUDA, f32 on the CPU).
  public var forwardDtype: String? = nil

  public init() {}

  enum CodingKeys: String, CodingKey {
    case batchSize = "batch_size", seqLen = "seq_len", numPuzzleIdentifiers = "num_puzzle_identifiers"
    case vocabSize = "vocab_size", hCycles = "H_cycles", lCycles = "L_cycles", hLayers = "H_layers"
    case lLayers = "L_layers", hiddenSize = "hidden_size", expansion, numHeads = "num_heads"
    case posEncodings = "pos_encodings", puzzleEmbNdim = "puzzle_emb_ndim", haltMaxSteps = "halt_max_steps"
    case haltExplorationProb = "halt_exploration_prob", rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta"
    case forwardDtype = "forward_dtype"
  }

  // MARK: - Derived sizes

  public var headDim: Int { hiddenSize / numHeads }
  public var puzzleEmbWidth: Int { puzzleEmbNdim ?? hiddenSize }
  /// Puzzle prefix positions P = ceil(puzzle_emb_ndim / D).
  public var puzzlePrefixLength: Int { puzzleEmbWidth == 0 ? 0 : (puzzleEmbWidth + hiddenSize - 1) / hiddenSize }
  /// Total positions T = S + P.
  public var totalLength: Int { seqLen + puzzlePrefixLength }
  /// SwiGLU inner width: round(expansion·D·2/3) (half to even), rounded up to a multiple of 256.
  public var mlpWidth: Int {
    let raw = (expansion * Double(hiddenSize) * 2 / 3).rounded(.toNearestOrEven)
    return Int((raw / 256).rounded(.up)) * 256
  }

  /// Checks the combination; throws one clear line naming the key.
  public func validate() throws {
    func need(_ ok: Bool, _ key: String, _ why: String) throws {
      if !ok { throw HRMError("arch.\(key): \(why)") }
    }
    try need(hiddenSize > 0, "hidden_size", "must be positive (got \(hiddenSize))")
    try need(numHeads > 0 && hiddenSize % numHeads == 0, "num_heads",
             "hidden_size \(hiddenSize) is not divisible by num_heads \(numHeads)")
    try need(headDim % 2 == 0, "num_heads", "head dimension \(headDim) must be even for RoPE")
    try need(hCycles >= 1, "H_cycles", "must be at least 1 (got \(hCycles))")
    try need(lCycles >= 1, "L_cycles", "must be at least 1 (got \(lCycles))")
    try need(hLayers >= 1, "H_layers", "must be at least 1 (got \(hLayers))")
    try need(lLayers >= 1, "L_layers", "must be at least 1 (got \(lLayers))")
    try need(expansion > 0, "expansion", "must be positive (got \(expansion))")
    try need(haltMaxSteps >= 1, "halt_max_steps", "must be at least 1 (got \(haltMaxSteps))")
    try need(haltExplorationProb >= 0 && haltExplorationProb <= 1, "halt_exploration_prob",
             "must be in [0, 1] (got \(haltExplorationProb))")
    try need(["rope", "learned"].contains(posEncodings), "pos_encodings",
             "must be 'rope' or 'learned' (got '\(posEncodings)')")
    try need(puzzleEmbWidth >= 0, "puzzle_emb_ndim", "must be >= 0 (got \(puzzleEmbWidth))")
    try need(seqLen > 0, "seq_len", "must be positive (got \(seqLen))")
    try need(vocabSize > 1, "vocab_size", "must be at least 2 (got \(vocabSize))")
    try need(numPuzzleIdentifiers >= 1, "num_puzzle_identifiers", "must be at least 1")
    if let f = forwardDtype {
      try need(["bfloat16", "float32"].contains(f), "forward_dtype", "must be 'bfloat16' or 'float32' (got '\(f)')")
    }
  }
}

/// Which dtype the forward pass uses for a backend.
public func resolvedForwardDType(_ config: HRMConfig, backend: Backend) -> DType {
  switch config.forwardDtype {
  case "bfloat16": return .bf16
  case "float32": return .f32
  default: return backend.name.hasPrefix("cpu") ? .f32 : .bf16
  }
}
