// TinyRun.swift: the small training setup the trainer tests share: a 32-wide model with one
// block per level on TrainerTests' generated Sudoku set, batch 8, on the CPU.

enum TinyRun {
  static var overrides: [String] {
    ["data_path=\(TrainerTests.datasetPath)", "arch.hidden_size=32", "arch.num_heads=2", "arch.H_layers=1",
     "arch.L_layers=1", "global_batch_size=8", "lr=1e-3", "lr_warmup_steps=2", "device=cpu"]
  }
}
