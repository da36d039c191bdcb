// CUDABackendLoader.swift: the entry point the rest of the package uses to get a GPU
// backend (HRMTrain's DeviceChoice), so callers need not know CUDABackend's initialiser.

import HRMSupport
import HRMTensor

/// Opens CUDA devices as `Backend`s.
public enum CUDABackendLoader {
  /// Opens CUDA device `ordinal`; throws a one-line HRMError naming the CPU fallback when no
  /// GPU is usable (no driver, no device, no NVRTC).
  public static func open(ordinal: Int) throws -> Backend {
    try CUDABackend(device: ordinal)
  }
}
