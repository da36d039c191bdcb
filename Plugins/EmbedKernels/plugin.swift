// plugin.swift: the EmbedKernels build-tool plugin.
//
// The `hrm` binary travels alone, so the CUDA C sources of the GPU kernels must live inside
// it. This plugin runs EmbedKernelsTool over Sources/HRMCUDA/Kernels/*.cu and *.cuh and adds
// the Swift file it writes (one string literal per source file) to the HRMCUDA target.

import Foundation
import PackagePlugin

@main
struct EmbedKernels: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
    let kernels = context.package.directoryURL.appendingPathComponent("Sources/\(target.name)/Kernels")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: kernels.path)) ?? []
    let inputs = names
      .filter { $0.hasSuffix(".cu") || $0.hasSuffix(".cuh") }
      .sorted()
      .map { kernels.appendingPathComponent($0) }
    let output = context.pluginWorkDirectoryURL.appendingPathComponent("EmbeddedKernels.swift")
    return [
      .buildCommand(
        displayName: "Embedding \(inputs.count) CUDA kernel sources into \(target.name)",
        executable: try context.tool(named: "EmbedKernelsTool").url,
        arguments: [output.path] + inputs.map { $0.path },
        inputFiles: inputs,
        outputFiles: [output])
    ]
  }
}
