// Checkpoint.swift: model weights as safetensors with the reference's names
// ("model.inner." + name; H_init/L_init in bf16 as the reference stores them) and the
// run's configuration as JSON in the header metadata.

import Foundation
import HRMModel
import HRMSupport
import HRMTensor

public enum Checkpoint {
  public static let prefix = "model.inner."

  /// Writes the model's tensors atomically to `path`, with the run's config and the data
  /// section's CRC-32C in the header; returns that checksum (8 hex digits).
  @discardableResult
  public static func save(_ store: ParameterStore, config: TrainConfig, step: Int, to path: String) throws -> String {
    var items: [SafeTensorsWriter.Item] = []
    for (name, t) in store.all {
      let values = t.toArray()
      if name == "H_init" || name == "L_init" {
        items.append(.bf16(prefix + name, shape: t.shape, values))
      } else {
        items.append(.f32(prefix + name, shape: t.shape, values))
      }
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let configJSON = String(data: try encoder.encode(config), encoding: .utf8) ?? "{}"
    let (data, crc) = SafeTensorsWriter.encodeChecksummed(items, metadata: ["format": "hrm-swift", "step": "\(step)", "config": configJSON])
    try AtomicFile.write(data, to: path)
    return crc
  }

  /// Reads the training configuration stored in a checkpoint.
  public static func config(of file: SafeTensorsFile) throws -> TrainConfig {
    guard let json = file.metadata["config"], let data = json.data(using: .utf8) else {
      throw HRMError(file: file.path, "no 'config' in the header metadata (not written by hrm?)")
    }
    do { return try JSONDecoder().decode(TrainConfig.self, from: data) } catch {
      throw HRMError(file: file.path, "config metadata is unreadable: \(error)")
    }
  }

  /// Loads a model from a checkpoint onto `backend`; names with or without the
  /// `_orig_mod.` prefix are accepted.
  public static func loadModel(path: String, backend: Backend) throws -> (HRMACT, TrainConfig) {
    if let head = FileHandle(forReadingAtPath: path).map({ h -> Data in defer { try? h.close() }; return h.readData(ofLength: 4) }),
       ZipArchive.looksLikeZip(head) {
      throw HRMError(file: path, "a PyTorch checkpoint; convert it first: hrm convert \(path) OUT.safetensors [key=value ...]")
    }
    let file = try SafeTensorsFile(path: path)
    try file.verifyChecksum()
    let config = try Checkpoint.config(of: file)
    let prefix = file.entries.keys.contains { $0.hasPrefix("_orig_mod.") } ? "_orig_mod." + Checkpoint.prefix : Checkpoint.prefix
    let store = try ParameterStore.load(config.arch, from: file, prefix: prefix, backend: backend)
    let inner = try HRMInner(config: config.arch, parameters: store)
    return (HRMACT(inner: inner, lossKind: config.lossType, seed: UInt64(config.seed)), config)
  }
}
