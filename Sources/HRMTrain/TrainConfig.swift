// TrainConfig.swift: the training configuration with the reference's hydra-style keys
// (config/cfg_pretrain.yaml + config/arch/hrm_v1.yaml), parsed from `key=value` overrides,
// so `python pretrain.py k=v ...` becomes `hrm train k=v ...`.

import Foundation
import HRMModel
import HRMSupport
import HRMTensor

/// Everything one training run needs. Defaults are the reference's.
public struct TrainConfig: Codable, Equatable, Sendable {
  /// Dataset folder (dataset.json + .npy arrays per split).
  public var dataPath: String = "data/arc-aug-1000"
  /// Rows per optimiser step, summed over ranks.
  public var globalBatchSize: Int = 768
  /// Passes over the training groups.
  public var epochs: Int = 100_000
  /// Epochs between evaluations (must divide epochs); nil = evaluate once at the end.
  public var evalInterval: Int? = 10_000
  /// Save a checkpoint after every evaluation (else only at the end).
  public var checkpointEveryEval: Bool = true
  /// Peak learning rate of AdamATan2.
  public var lr: Double = 1e-4
  /// Final lr as a fraction of lr (1.0 = constant after warmup).
  public var lrMinRatio: Double = 1.0
  /// Linear warmup steps.
  public var lrWarmupSteps: Int = 2000
  /// Decoupled weight decay of AdamATan2.
  public var weightDecay: Double = 0.1
  public var beta1: Double = 0.9
  public var beta2: Double = 0.95
  /// Learning rate of the sparse sign-SGD on the puzzle embeddings.
  public var puzzleEmbLr: Double = 1e-2
  public var puzzleEmbWeightDecay: Double = 0.1
  /// Seeds initialisation, data order and exploration.
  public var seed: Int = 0
  /// Folder for checkpoints and logs; nil = checkpoints/<dataset> <run name>.
  public var checkpointPath: String? = nil
  public var projectName: String? = nil
  public var runName: String? = nil
  /// Tensors to save at evaluation (inputs, labels, puzzle_identifiers, logits, q_halt_logits, ...).
  public var evalSaveOutputs: [String] = []
  /// "cpu", "cuda" or nil (= the GPU when one is usable, else the CPU).
  public var device: String? = nil
  /// Architecture (arch.* keys).
  public var arch = HRMConfig()
  /// arch.loss.loss_type.
  public var lossType: CrossEntropyKind = .stablemax
  /// Print a progress line every this many steps when stderr is not a terminal.
  public var logInterval: Int = 50
  /// Evaluate on at most this many test batches (nil = the whole test split).
  public var evalMaxBatches: Int? = nil
  /// Training-state checkpoint (or run folder) to continue from; nil = a fresh run.
  public var resume: String? = nil
  /// Keep only the newest this many checkpoints in the run folder (nil = keep all).
  public var checkpointKeep: Int? = nil
  /// Also checkpoint every this many steps (nil = only at evaluations and the end).
  public var checkpointInterval: Int? = nil
  /// GPUs on this node: `hrm train gpus=N` starts N worker processes (nil = 1, or torchrun's).
  public var gpus: Int? = nil
  /// Seconds to wait for the other ranks (rendezvous, NCCL init, each collective); nil = 300.
  public var distTimeout: Double? = nil

  /// `gpus`, 1 when unset.
  public var gpuCount: Int { gpus ?? 1 }
  /// `dist_timeout` in seconds, 300 when unset.
  public var distTimeoutSeconds: Double { distTimeout ?? 300 }

  public init() {}

  enum CodingKeys: String, CodingKey {
    case dataPath = "data_path", globalBatchSize = "global_batch_size", epochs
    case evalInterval = "eval_interval", checkpointEveryEval = "checkpoint_every_eval", lr
    case lrMinRatio = "lr_min_ratio", lrWarmupSteps = "lr_warmup_steps", weightDecay = "weight_decay"
    case beta1, beta2, puzzleEmbLr = "puzzle_emb_lr", puzzleEmbWeightDecay = "puzzle_emb_weight_decay"
    case seed, checkpointPath = "checkpoint_path", projectName = "project_name", runName = "run_name"
    case evalSaveOutputs = "eval_save_outputs", device, arch, lossType = "loss_type"
    case logInterval = "log_interval", evalMaxBatches = "eval_max_batches"
    case resume, checkpointKeep = "checkpoint_keep", checkpointInterval = "checkpoint_interval"
    case gpus, distTimeout = "dist_timeout"
  }

  // MARK: - Overrides

  /// Every key `key=value` may set, with a one-line description (shown by --help).
  public static let keys: [(key: String, help: String)] = [
    ("data_path", "dataset folder (train/ and test/ with dataset.json)"),
    ("global_batch_size", "rows per optimiser step over all ranks (768)"),
    ("epochs", "passes over the training groups (100000)"),
    ("eval_interval", "epochs between evaluations; must divide epochs (10000)"),
    ("checkpoint_every_eval", "checkpoint after every evaluation (true)"),
    ("lr", "AdamATan2 learning rate (1e-4)"),
    ("lr_min_ratio", "final lr / lr for the cosine decay; 1.0 = constant (1.0)"),
    ("lr_warmup_steps", "linear warmup steps (2000)"),
    ("weight_decay", "AdamATan2 decoupled weight decay (0.1)"),
    ("beta1", "AdamATan2 beta1 (0.9)"), ("beta2", "AdamATan2 beta2 (0.95)"),
    ("puzzle_emb_lr", "sparse sign-SGD learning rate (1e-2)"),
    ("puzzle_emb_weight_decay", "sparse sign-SGD weight decay (0.1)"),
    ("seed", "random seed (0)"),
    ("checkpoint_path", "output folder for checkpoints and logs"),
    ("project_name", "project name (logging)"), ("run_name", "run name (logging)"),
    ("eval_save_outputs", "list of outputs to save at evaluation, e.g. [inputs,logits]"),
    ("device", "cpu or cuda (default: the GPU when usable, else the CPU)"),
    ("log_interval", "steps between progress lines when not on a terminal (50)"),
    ("eval_max_batches", "evaluate on at most this many test batches (all)"),
    ("resume", "continue exactly from step_N.safetensors or a run folder (its newest)"),
    ("checkpoint_keep", "keep only the newest N checkpoints (all)"),
    ("checkpoint_interval", "also checkpoint every N steps (evaluations only)"),
    ("gpus", "data-parallel over N GPUs of this node: starts N workers (1)"),
    ("dist_timeout", "seconds to wait for other ranks before failing (300)"),
    ("arch", "architecture preset: hrm_v1 (default) or hrm_tiny"),
    ("arch.H_cycles", "high-level cycles per segment (2)"), ("arch.L_cycles", "low-level cycles per H cycle (2)"),
    ("arch.H_layers", "blocks in the H module (4)"), ("arch.L_layers", "blocks in the L module (4)"),
    ("arch.hidden_size", "model width (512)"), ("arch.num_heads", "attention heads (8)"),
    ("arch.expansion", "SwiGLU expansion (4)"), ("arch.puzzle_emb_ndim", "puzzle embedding width (hidden_size)"),
    ("arch.pos_encodings", "rope or learned (rope)"), ("arch.halt_max_steps", "ACT segment limit (16)"),
    ("arch.halt_exploration_prob", "ACT exploration probability (0.1)"),
    ("arch.rms_norm_eps", "RMSNorm epsilon (1e-5)"), ("arch.rope_theta", "RoPE base (10000)"),
    ("arch.forward_dtype", "bfloat16 or float32 (bf16 on CUDA, f32 on the CPU)"),
    ("arch.loss.loss_type", "stablemax_cross_entropy or softmax_cross_entropy"),
    ("arch.name", "accepted for compatibility (hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1)"),
    ("arch.loss.name", "accepted for compatibility (losses@ACTLossHead)"),
  ]

  /// A small architecture for CPU demos and tests.
  public static func tinyArch() -> HRMConfig {
    var a = HRMConfig()
    a.hiddenSize = 128
    a.numHeads = 4
    a.hLayers = 2
    a.lLayers = 2
    a.haltMaxSteps = 4
    return a
  }

  /// Applies `key=value` overrides in order. Unknown keys and bad values throw one line.
  public mutating func apply(overrides: [String]) throws {
    // A preset first, so later keys refine it regardless of argument order.
    for raw in overrides {
      let (k, v) = try TrainConfig.split(raw)
      if k == "arch" {
        switch v {
        case "hrm_v1": arch = HRMConfig()
        case "hrm_tiny": arch = TrainConfig.tinyArch()
        default: throw HRMError("arch=\(v): unknown preset (known: hrm_v1, hrm_tiny)")
        }
      }
    }
    for raw in overrides {
      let (key, value) = try TrainConfig.split(raw)
      try set(key, value)
    }
  }

  static func split(_ raw: String) throws -> (String, String) {
    var s = raw
    if s.hasPrefix("++") { s.removeFirst(2) } else if s.hasPrefix("+") { s.removeFirst() }
    guard let eq = s.firstIndex(of: "=") else {
      throw HRMError("override '\(raw)' is not of the form key=value")
    }
    let key = String(s[..<eq]).trimmingCharacters(in: .whitespaces)
    let value = String(s[s.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
    if key.isEmpty { throw HRMError("override '\(raw)' has an empty key") }
    return (key, value)
  }

  mutating func set(_ key: String, _ value: String) throws {
    func int() throws -> Int {
      if let i = Int(value) { return i }
      if let d = Double(value), d == d.rounded(), abs(d) < 1e15 { return Int(d) }
      throw HRMError("\(key)=\(value): expected an integer")
    }
    func double() throws -> Double {
      guard let d = Double(value) else { throw HRMError("\(key)=\(value): expected a number") }
      return d
    }
    func bool() throws -> Bool {
      switch value.lowercased() {
      case "true", "1", "yes": return true
      case "false", "0", "no": return false
      default: throw HRMError("\(key)=\(value): expected true or false")
      }
    }
    func optional() -> String? { ["null", "none", "~", ""].contains(value.lowercased()) ? nil : value }
    func list() -> [String] {
      var v = value
      if v.hasPrefix("[") && v.hasSuffix("]") { v = String(v.dropFirst().dropLast()) }
      return v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
    switch key {
    case "data_path": dataPath = value
    case "global_batch_size": globalBatchSize = try int()
    case "epochs": epochs = try int()
    case "eval_interval": evalInterval = optional() == nil ? nil : try int()
    case "checkpoint_every_eval": checkpointEveryEval = try bool()
    case "lr": lr = try double()
    case "lr_min_ratio": lrMinRatio = try double()
    case "lr_warmup_steps": lrWarmupSteps = try int()
    case "weight_decay": weightDecay = try double()
    case "beta1": beta1 = try double()
    case "beta2": beta2 = try double()
    case "puzzle_emb_lr": puzzleEmbLr = try double()
    case "puzzle_emb_weight_decay": puzzleEmbWeightDecay = try double()
    case "seed": seed = try int()
    case "checkpoint_path": checkpointPath = optional()
    case "project_name": projectName = optional()
    case "run_name": runName = optional()
    case "eval_save_outputs": evalSaveOutputs = list()
    case "device":
      guard ["cpu", "cuda", "auto"].contains(value) || value.hasPrefix("cuda:") else {
        throw HRMError("device=\(value): expected cpu or cuda")
      }
      device = value == "auto" ? nil : value
    case "log_interval": logInterval = try int()
    case "eval_max_batches": evalMaxBatches = optional() == nil ? nil : try int()
    case "resume": resume = optional()
    case "checkpoint_keep": checkpointKeep = optional() == nil ? nil : try int()
    case "checkpoint_interval": checkpointInterval = optional() == nil ? nil : try int()
    case "gpus": gpus = optional() == nil ? nil : try int()
    case "dist_timeout": distTimeout = optional() == nil ? nil : try double()
    case "arch": break  // applied first, in apply(overrides:)
    case "arch.H_cycles": arch.hCycles = try int()
    case "arch.L_cycles": arch.lCycles = try int()
    case "arch.H_layers": arch.hLayers = try int()
    case "arch.L_layers": arch.lLayers = try int()
    case "arch.hidden_size": arch.hiddenSize = try int()
    case "arch.num_heads": arch.numHeads = try int()
    case "arch.expansion": arch.expansion = try double()
    case "arch.puzzle_emb_ndim": arch.puzzleEmbNdim = try int()
    case "arch.pos_encodings": arch.posEncodings = value
    case "arch.halt_max_steps": arch.haltMaxSteps = try int()
    case "arch.halt_exploration_prob": arch.haltExplorationProb = try double()
    case "arch.rms_norm_eps": arch.rmsNormEps = try double()
    case "arch.rope_theta": arch.ropeTheta = try double()
    case "arch.forward_dtype":
      switch value {
      case "bfloat16", "bf16": arch.forwardDtype = "bfloat16"
      case "float32", "f32": arch.forwardDtype = "float32"
      default: throw HRMError("arch.forward_dtype=\(value): expected bfloat16 or float32")
      }
    case "arch.loss.loss_type":
      guard let kind = CrossEntropyKind(rawValue: value) else {
        throw HRMError("arch.loss.loss_type=\(value): expected stablemax_cross_entropy or softmax_cross_entropy")
      }
      lossType = kind
    case "arch.name", "arch.loss.name": break
    default:
      let known = TrainConfig.keys.map { $0.key }
      let hint = known.min { editDistance($0, key) < editDistance($1, key) }.map { " (did you mean '\($0)'?)" } ?? ""
      throw HRMError("unknown override key '\(key)'\(hint); see `hrm train --help` for the list")
    }
  }

  /// Checks cross-field rules.
  public func validate() throws {
    if globalBatchSize <= 0 { throw HRMError("global_batch_size=\(globalBatchSize): must be positive") }
    if epochs <= 0 { throw HRMError("epochs=\(epochs): must be positive") }
    if let e = evalInterval {
      if e <= 0 { throw HRMError("eval_interval=\(e): must be positive") }
      if epochs % e != 0 { throw HRMError("eval_interval=\(e) must divide epochs=\(epochs)") }
    }
    if lr < 0 { throw HRMError("lr=\(lr): must not be negative") }
    if lrWarmupSteps < 0 { throw HRMError("lr_warmup_steps=\(lrWarmupSteps): must not be negative") }
    if let k = checkpointKeep, k < 1 { throw HRMError("checkpoint_keep=\(k): must be at least 1") }
    if let i = checkpointInterval, i < 1 { throw HRMError("checkpoint_interval=\(i): must be at least 1") }
    if logInterval <= 0 { throw HRMError("log_interval=\(logInterval): must be positive") }
    if let g = gpus {
      if g < 1 { throw HRMError("gpus=\(g): must be at least 1") }
      if g > 1 {
        if device == "cpu" { throw HRMError("gpus=\(g) needs device=cuda (multi-GPU training runs over NCCL)") }
        if let d = device, d.hasPrefix("cuda:") {
          throw HRMError("gpus=\(g) with device=\(d): each worker uses cuda:<LOCAL_RANK>; drop the device index")
        }
        if globalBatchSize % g != 0 {
          throw HRMError("global_batch_size=\(globalBatchSize) is not divisible by gpus=\(g)")
        }
      }
    }
    if let t = distTimeout, !(t > 0) || !t.isFinite { throw HRMError("dist_timeout=\(t): must be a positive number of seconds") }
    try arch.validate()
  }
}

/// Levenshtein distance (for "did you mean" hints).
func editDistance(_ a: String, _ b: String) -> Int {
  let a = Array(a), b = Array(b)
  if a.isEmpty { return b.count }
  if b.isEmpty { return a.count }
  var prev = Array(0...b.count)
  var cur = [Int](repeating: 0, count: b.count + 1)
  for i in 1...a.count {
    cur[0] = i
    for j in 1...b.count {
      cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
    }
    swap(&prev, &cur)
  }
  return prev[b.count]
}
