// KernelSources.swift: access to the CUDA C kernel sources embedded in the binary by the
// EmbedKernels build plugin (see Plugins/EmbedKernels and Sources/HRMCUDA/Kernels).
//
// Developer switch: HRM_KERNEL_SOURCES=DIR compiles the .cu / .cuh files found in DIR instead
// of the embedded ones of the same name (the others stay embedded), so one binary can time
// several versions of a kernel on a machine without a Swift toolchain. Each replaced file is
// named on standard error once; the kernel cache keys on the text, so nothing stale is used.

import Foundation
import HRMSupport

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

  /// The text NVRTC compiles for a file: the HRM_KERNEL_SOURCES replacement if there is one,
  /// else the embedded text.
  static func compiledSource(named name: String) throws -> String? {
    try replacements.get()[name] ?? source(named: name)
  }

  /// Headers (name, text) made available to every NVRTC compilation.
  static func headers() throws -> [(String, String)] {
    try fileNames.filter { $0.hasSuffix(".cuh") }.map { ($0, try compiledSource(named: $0)!) }
  }

  /// The .cu / .cuh files of `directory` that replace embedded files of the same name. A file
  /// name that is not embedded is an error (a typo would otherwise go unnoticed).
  static func replacementFiles(in directory: String) throws -> [String: String] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
      throw HRMError("HRM_KERNEL_SOURCES=\(directory): not a readable directory")
    }
    var files: [String: String] = [:]
    for name in names.sorted() where name.hasSuffix(".cu") || name.hasSuffix(".cuh") {
      guard EmbeddedKernels.files[name] != nil else {
        throw HRMError("HRM_KERNEL_SOURCES=\(directory): \(name) replaces no embedded kernel file "
                       + "(embedded: \(fileNames.joined(separator: ", ")))")
      }
      guard let text = try? String(contentsOfFile: directory + "/" + name, encoding: .utf8) else {
        throw HRMError("HRM_KERNEL_SOURCES=\(directory): cannot read \(name) as UTF-8 text")
      }
      files[name] = text
    }
    return files
  }

  private static let replacements: Result<[String: String], Error> = {
    guard let dir = ProcessInfo.processInfo.environment["HRM_KERNEL_SOURCES"], !dir.isEmpty else { return .success([:]) }
    let result = Result { try replacementFiles(in: dir) }
    if case .success(let files) = result {
      for name in files.keys.sorted() { FileHandle.standardError.write(Data("kernels: \(name) from \(dir) (HRM_KERNEL_SOURCES)\n".utf8)) }
    }
    return result
  }()
}
