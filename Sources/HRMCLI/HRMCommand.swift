// HRMCommand.swift: the root `hrm` command and its subcommands.

import ArgumentParser

public struct HRMCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "hrm",
    abstract: "Hierarchical Reasoning Model: build datasets, train, evaluate and solve puzzles.",
    subcommands: [
      DemoCommand.self, DatasetCommand.self, TrainCommand.self, EvaluateCommand.self, SolveCommand.self, ScoreARCCommand.self,
      ReportCommand.self, ConvertCommand.self, CheckReferenceCommand.self, BenchCommand.self, SelftestCommand.self, VisualizeCommand.self,
    ])

  public init() {}
}
