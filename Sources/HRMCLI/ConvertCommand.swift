// ConvertCommand.swift: `hrm convert IN.pt OUT.safetensors [key=value ...]`: a reference
// PyTorch checkpoint (torch.save zip; its pickle is read by a restricted unpickler that runs
// no code) becomes an hrm checkpoint that `hrm` loads and PyTorch reads back with
// safetensors (same names, f32, H_init/L_init bf16, the config in the header).

import ArgumentParser
import Foundation
import HRMSupport
import HRMTensor
import HRMTrain

struct ConvertCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "convert",
    abstract: "Convert a PyTorch reference checkpoint (torch.save) to an hrm safetensors checkpoint.",
    discussion: """
      Sizes come from the tensor shapes; other architecture keys (arch.num_heads, arch.H_cycles, \
      arch.halt_max_steps, arch.loss.loss_type, ...) take the reference defaults unless given as \
      key=value, and data_path=DIR supplies the sequence length. Example:
        hrm convert checkpoints/step_26040 step_26040.safetensors data_path=data/sudoku-extreme-1k-aug-1000
      """)

  @Argument(help: "The PyTorch checkpoint (a torch.save zip file).")
  var input: String

  @Argument(help: "The safetensors file to write.")
  var output: String

  @Argument(help: "key=value training keys (see hrm train --help).")
  var overrides: [String] = []

  func run() throws {
    var config = TrainConfig()
    try config.apply(overrides: overrides)
    let (store, resolved) = try Checkpoint.importTorch(path: input, config: config, backend: CPUBackend.shared)
    let name = (input as NSString).lastPathComponent
    let step = name.hasPrefix("step_") ? Int(name.dropFirst(5).prefix { $0.isNumber }) ?? 0 : 0
    try Checkpoint.save(store, config: resolved, step: step, to: output)
    print("wrote \(output): \(store.all.count) tensors, hidden \(resolved.arch.hiddenSize), "
          + "H \(resolved.arch.hLayers) / L \(resolved.arch.lLayers) layers, vocab \(resolved.arch.vocabSize)")
  }
}
