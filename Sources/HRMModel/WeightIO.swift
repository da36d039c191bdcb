// WeightIO.swift: moving model tensors in and out of safetensors files by reference name.

import Foundation
import HRMSupport
import HRMTensor

extension ParameterStore {
  /// A store for `config` whose tensors come from `file`, read under `prefix` + reference
  /// name (e.g. "model.inner."). Missing tensors or wrong shapes are one clear error.
  public static func load(_ config: HRMConfig, from file: SafeTensorsFile, prefix: String,
                          backend: Backend) throws -> ParameterStore {
    let store = ParameterStore(backend: backend)
    for (name, shape, isBuffer) in layout(for: config) {
      let key = prefix + name
      guard file.entries[key] != nil else {
        throw HRMError(file: file.path, "tensor '\(key)' is missing (the model config needs it)")
      }
      let got = try file.shape(key)
      if got != shape {
        throw HRMError(file: file.path, "tensor '\(key)' has shape \(got), the model config needs \(shape)")
      }
      store.set(name, Tensor(try file.floats(key), shape: shape, on: backend), isBuffer: isBuffer)
    }
    return store
  }
}
