// KernelSources.swift: access to the CUDA C kernel sources embedded in the binary by the
// EmbedKernels build plugin (see Plugins/EmbedKernels and Sources/HRMCUDA/Kernels).

/// The embedded CUDA C sources, by file name.
public enum CUDAKernelSources {
  /// The shared header every kernel file includes.
  public static let commonHeaderName = "common.cuh"

  /// Names of all embedded files (".cu" kernels and ".cuh" headers), sorted.
  public static var fileNames: [String] { EmbeddedKernels.files.keys.sorted() }

  /// Names of the kernel files (".cu"), sorted.
  public static var kernelFileNames: [String] { fileNames.filter { $0.hasSuffix(".cu") } }

  /// The exact text of an embedded file, or nil.
  public static func source(named name: String) -> String? { EmbeddedKernels.files[name] }

  /// Headers (name, text) made available to every NVRTC compilation.
  static var headers: [(String, String)] {
    fileNames.filter { $0.hasSuffix(".cuh") }.map { ($0, EmbeddedKernels.files[$0]!) }
  }
}
