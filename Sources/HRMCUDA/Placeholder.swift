// Placeholder.swift: replaced by the CUDA backend (branch `cuda`).
import HRMSupport
import HRMTensor

public enum CUDABackendLoader {
  /// Opens CUDA device `ordinal`; throws a clear error when no GPU is usable.
  public static func open(ordinal: Int) throws -> Backend {
    throw HRMError("CUDA backend not built into this binary")
  }
}
