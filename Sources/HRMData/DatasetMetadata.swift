// DatasetMetadata.swift: the per-split `dataset.json` file and the reference's JSON text format.
//
// Written with the reference's key order and Python `json.dump` formatting (", " and ": "
// separators, floats like `1.0`), so our files diff cleanly against the reference's. Reading
// ignores unknown keys (e.g. TRM's `total_puzzles` is kept, anything else dropped) and names
// the file and key of anything missing or mistyped.

import Foundation
import HRMSupport

/// The contents of one split's `dataset.json` (spec data §1.2).
public struct DatasetMetadata: Codable, Equatable, Sendable {
  /// Token used to pad `inputs` rows the loader adds.
  public var padId: Int
  /// Label token rewritten to -100 (ignored by the loss) at collation; nil = none.
  public var ignoreLabelId: Int?
  /// Puzzle identifier of padding rows (also the "no puzzle" row of the embedding table).
  public var blankIdentifierId: Int
  /// Number of token ids (model embedding / output size).
  public var vocabSize: Int
  /// Tokens per example.
  public var seqLen: Int
  /// Size of the puzzle-embedding table, blank included.
  public var numPuzzleIdentifiers: Int
  /// Number of groups in this split, summed over its sets.
  public var totalGroups: Int
  /// Examples per puzzle (E / P) of this split.
  public var meanPuzzleExamples: Double
  /// TRM only: kept when read, written only when set (between `mean_puzzle_examples` and `sets`).
  public var totalPuzzles: Int?
  /// Subset names; each has its own five arrays `<set>__*.npy`.
  public var sets: [String]

  /// Creates metadata; `sets` defaults to the single subset `all` every builder produces.
  public init(
    padId: Int = 0, ignoreLabelId: Int? = 0, blankIdentifierId: Int = 0, vocabSize: Int, seqLen: Int,
    numPuzzleIdentifiers: Int, totalGroups: Int, meanPuzzleExamples: Double,
    totalPuzzles: Int? = nil, sets: [String] = ["all"]
  ) {
    self.padId = padId
    self.ignoreLabelId = ignoreLabelId
    self.blankIdentifierId = blankIdentifierId
    self.vocabSize = vocabSize
    self.seqLen = seqLen
    self.numPuzzleIdentifiers = numPuzzleIdentifiers
    self.totalGroups = totalGroups
    self.meanPuzzleExamples = meanPuzzleExamples
    self.totalPuzzles = totalPuzzles
    self.sets = sets
  }

  /// JSON keys, in the order the reference writes them.
  public enum CodingKeys: String, CodingKey, CaseIterable {
    case padId = "pad_id"
    case ignoreLabelId = "ignore_label_id"
    case blankIdentifierId = "blank_identifier_id"
    case vocabSize = "vocab_size"
    case seqLen = "seq_len"
    case numPuzzleIdentifiers = "num_puzzle_identifiers"
    case totalGroups = "total_groups"
    case meanPuzzleExamples = "mean_puzzle_examples"
    case totalPuzzles = "total_puzzles"
    case sets
  }

  /// Decodes from JSON; every key except `total_puzzles` is required (`ignore_label_id` may be null).
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    padId = try c.decode(Int.self, forKey: .padId)
    guard c.contains(.ignoreLabelId) else {
      throw DecodingError.keyNotFound(
        CodingKeys.ignoreLabelId, .init(codingPath: [], debugDescription: "missing key"))
    }
    ignoreLabelId = try c.decodeIfPresent(Int.self, forKey: .ignoreLabelId)
    blankIdentifierId = try c.decode(Int.self, forKey: .blankIdentifierId)
    vocabSize = try c.decode(Int.self, forKey: .vocabSize)
    seqLen = try c.decode(Int.self, forKey: .seqLen)
    numPuzzleIdentifiers = try c.decode(Int.self, forKey: .numPuzzleIdentifiers)
    totalGroups = try c.decode(Int.self, forKey: .totalGroups)
    meanPuzzleExamples = try c.decode(Double.self, forKey: .meanPuzzleExamples)
    totalPuzzles = try c.decodeIfPresent(Int.self, forKey: .totalPuzzles)
    sets = try c.decode([String].self, forKey: .sets)
  }

  /// The number of optimiser steps the trainer plans for `epochs` epochs (spec training §5.4).
  ///
  /// `floor(epochs · total_groups · mean_puzzle_examples / globalBatchSize)`, computed in
  /// Double like the reference. Call it on the train split's metadata.
  public func totalSteps(epochs: Int, globalBatchSize: Int) -> Int {
    precondition(globalBatchSize > 0, "globalBatchSize must be positive")
    let steps = Double(epochs) * Double(totalGroups) * meanPuzzleExamples / Double(globalBatchSize)
    return Int(steps.rounded(.down))
  }

  // MARK: - Files

  /// The text the reference's `json.dump(metadata, f)` writes (no trailing newline).
  public func jsonText() -> String {
    var parts = [
      "\"pad_id\": \(padId)",
      "\"ignore_label_id\": \(ignoreLabelId.map(String.init) ?? "null")",
      "\"blank_identifier_id\": \(blankIdentifierId)",
      "\"vocab_size\": \(vocabSize)",
      "\"seq_len\": \(seqLen)",
      "\"num_puzzle_identifiers\": \(numPuzzleIdentifiers)",
      "\"total_groups\": \(totalGroups)",
      "\"mean_puzzle_examples\": \(PythonJSON.float(meanPuzzleExamples))",
    ]
    if let totalPuzzles = totalPuzzles { parts.append("\"total_puzzles\": \(totalPuzzles)") }
    parts.append("\"sets\": \(PythonJSON.stringList(sets))")
    return "{" + parts.joined(separator: ", ") + "}"
  }

  /// Reads and decodes `path`; errors name the file and the offending key.
  public static func read(path: String) throws -> DatasetMetadata {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw HRMError(file: path, "file not found or unreadable")
    }
    return try decode(data, file: path)
  }

  /// Decodes `dataset.json` bytes; `file` is only used in error messages.
  public static func decode(_ data: Data, file: String) throws -> DatasetMetadata {
    do {
      return try JSONDecoder().decode(DatasetMetadata.self, from: data)
    } catch let error as DecodingError {
      throw HRMError(file: file, PythonJSON.describe(error))
    } catch {
      throw HRMError(file: file, "invalid JSON")
    }
  }

  /// Writes `jsonText()` to `path` atomically.
  public func write(to path: String) throws {
    try AtomicFile.write(text: jsonText(), to: path)
  }
}

/// Formatting helpers that reproduce Python's `json.dump` output, and decoding-error wording.
enum PythonJSON {
  /// Python's `repr` of a float as JSON writes it (`1.0`, `4.146341463414634`, `1e-05`).
  static func float(_ x: Double) -> String {
    if x.isNaN { return "NaN" }
    if x.isInfinite { return x > 0 ? "Infinity" : "-Infinity" }
    // Swift's description is also the shortest round-tripping form; it agrees with Python
    // except that Swift switches to exponent form at 2^53 (Python at 1e16).
    let s = "\(x)"
    if s.contains("e") || s.contains(".") { return s }
    return s + ".0"
  }

  /// A JSON string literal with `ensure_ascii=True` escaping, as `json.dump` writes it.
  static func string(_ s: String) -> String {
    var out = "\""
    for unit in s.utf16 {
      switch unit {
      case 0x22: out += "\\\""
      case 0x5C: out += "\\\\"
      case 0x0A: out += "\\n"
      case 0x0D: out += "\\r"
      case 0x09: out += "\\t"
      case 0x08: out += "\\b"
      case 0x0C: out += "\\f"
      case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
      default:
        let hex = String(unit, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      }
    }
    return out + "\""
  }

  /// A JSON list of strings, `["a", "b"]`.
  static func stringList(_ items: [String]) -> String {
    "[" + items.map(string).joined(separator: ", ") + "]"
  }

  /// One line saying which key is missing or mistyped.
  static func describe(_ error: DecodingError) -> String {
    func path(_ keys: [CodingKey]) -> String {
      keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
    switch error {
    case .keyNotFound(let key, let context):
      return "missing key '\(path(context.codingPath + [key]))'"
    case .typeMismatch(let type, let context):
      return "key '\(path(context.codingPath))' has the wrong type (expected \(type))"
    case .valueNotFound(let type, let context):
      return "key '\(path(context.codingPath))' is null (expected \(type))"
    case .dataCorrupted(let context):
      return context.codingPath.isEmpty ? "invalid JSON" : "key '\(path(context.codingPath))' has an invalid value"
    @unknown default:
      return "invalid JSON"
    }
  }
}
