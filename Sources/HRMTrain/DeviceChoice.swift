// DeviceChoice.swift: turns `device=cpu|cuda|cuda:N` (or nothing) into a Backend.
// With no choice, the GPU is used when one is usable, else the CPU (and a one-line notice
// says why the GPU was not taken).

import Foundation
import HRMCUDA
import HRMSupport
import HRMTensor

public enum DeviceChoice {
  /// The backend for a `device` value; nil = automatic.
  public static func backend(for device: String?, notice: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) throws -> Backend {
    switch device {
    case "cpu":
      return CPUBackend.shared
    case let d? where d == "cuda" || d.hasPrefix("cuda:"):
      let ordinal = d == "cuda" ? 0 : Int(d.dropFirst(5)) ?? -1
      if ordinal < 0 { throw HRMError("device=\(d): expected cuda or cuda:N") }
      return try CUDABackendLoader.open(ordinal: ordinal)
    case nil:
      do {
        return try CUDABackendLoader.open(ordinal: 0)
      } catch {
        notice("note: using the CPU (\(error))")
        return CPUBackend.shared
      }
    case let d?:
      throw HRMError("device=\(d): expected cpu or cuda")
    }
  }
}
