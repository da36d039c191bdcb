// Dataset.swift: the on-disk dataset folder (spec data §1): reading, validating and writing.
//
//   <dataset>/identifiers.json
//   <dataset>/{train,test}/dataset.json
//   <dataset>/{train,test}/<set>__{inputs,labels,puzzle_identifiers,puzzle_indices,group_indices}.npy
//
// Loading checks every invariant the sampler relies on and reports the first violation as one
// error naming the file. Writing builds the whole folder in a temporary sibling and renames it
// into place, so a crash never leaves a half-written dataset behind.

import Foundation
import HRMSupport

/// The five arrays of one subset (`<set>`) of a split.
///
/// Example rows `[puzzleIndices[p], puzzleIndices[p+1])` belong to puzzle p; puzzles
/// `[groupIndices[g], groupIndices[g+1])` belong to group g.
public struct PuzzleSet: Equatable, Sendable {
  /// Subset name (the `<set>` file prefix), `all` for every builder.
  public var name: String
  /// Input tokens, [E, S].
  public var inputs: TokenMatrix
  /// Target tokens, [E, S].
  public var labels: TokenMatrix
  /// Identifier of each puzzle, [P].
  public var puzzleIdentifiers: [Int32]
  /// CSR offsets from puzzles to example rows, [P + 1].
  public var puzzleIndices: [Int32]
  /// CSR offsets from groups to puzzles, [G + 1].
  public var groupIndices: [Int32]

  /// Creates a subset from its arrays (not validated; see `validate`).
  public init(
    name: String = "all", inputs: TokenMatrix, labels: TokenMatrix, puzzleIdentifiers: [Int32],
    puzzleIndices: [Int32], groupIndices: [Int32]
  ) {
    self.name = name
    self.inputs = inputs
    self.labels = labels
    self.puzzleIdentifiers = puzzleIdentifiers
    self.puzzleIndices = puzzleIndices
    self.groupIndices = groupIndices
  }

  /// Number of examples, E.
  public var exampleCount: Int { inputs.rows }
  /// Number of puzzles, P.
  public var puzzleCount: Int { puzzleIdentifiers.count }
  /// Number of groups, G.
  public var groupCount: Int { max(0, groupIndices.count - 1) }

  /// Path of array `array` (e.g. "inputs") of subset `set` in `folder`: `<folder>/<set>__<array>.npy`.
  public static func path(of array: String, set: String, in folder: String) -> String {
    (folder as NSString).appendingPathComponent("\(set)__\(array).npy")
  }

  /// Checks shapes, offsets, token ranges and identifiers against `metadata`.
  ///
  /// - Parameter folder: the split folder, used to name the offending file in errors.
  public func validate(metadata m: DatasetMetadata, folder: String) throws {
    func file(_ array: String) -> String { PuzzleSet.path(of: array, set: name, in: folder) }
    let (e, p) = (exampleCount, puzzleCount)
    guard inputs.columns == m.seqLen else {
      throw HRMError(file: file("inputs"), "rows have \(inputs.columns) tokens but dataset.json says seq_len \(m.seqLen)")
    }
    guard labels.rows == inputs.rows, labels.columns == inputs.columns else {
      throw HRMError(
        file: file("labels"),
        "shape (\(labels.rows), \(labels.columns)) does not match inputs (\(inputs.rows), \(inputs.columns))")
    }
    try PuzzleSet.checkOffsets(puzzleIndices, count: p, end: e, what: "puzzle_identifiers has \(p) puzzles", file: file("puzzle_indices"))
    try PuzzleSet.checkOffsets(groupIndices, count: nil, end: p, what: "", file: file("group_indices"))
    if let bad = puzzleIdentifiers.firstIndex(where: { $0 < 0 || Int($0) >= m.numPuzzleIdentifiers }) {
      throw HRMError(
        file: file("puzzle_identifiers"),
        "identifier \(puzzleIdentifiers[bad]) of puzzle \(bad) is outside [0, \(m.numPuzzleIdentifiers)) (num_puzzle_identifiers)")
    }
    let vocab = Int32(clamping: m.vocabSize)
    if let bad = inputs.firstIndex(notIn: { $0 >= 0 && $0 < vocab }) {
      throw HRMError(
        file: file("inputs"),
        "token \(inputs[bad / max(1, m.seqLen), bad % max(1, m.seqLen)]) at row \(bad / max(1, m.seqLen)) is outside [0, \(m.vocabSize)) (vocab_size)")
    }
    let ignore = m.ignoreLabelId.map { Int32(clamping: $0) }
    if let bad = labels.firstIndex(notIn: { ($0 >= 0 && $0 < vocab) || $0 == ignore }) {
      throw HRMError(
        file: file("labels"),
        "token \(labels[bad / max(1, m.seqLen), bad % max(1, m.seqLen)]) at row \(bad / max(1, m.seqLen)) is outside [0, \(m.vocabSize)) (vocab_size)")
    }
  }

  /// Checks CSR offsets: `count + 1` entries (when given), starting at 0, non-decreasing, ending at `end`.
  private static func checkOffsets(_ o: [Int32], count: Int?, end: Int, what: String, file: String) throws {
    if let count = count, o.count != count + 1 {
      throw HRMError(file: file, "has \(o.count) entries but \(what); expected \(count + 1)")
    }
    guard let first = o.first, let last = o.last else {
      throw HRMError(file: file, "is empty; it must hold at least the leading 0")
    }
    guard first == 0 else { throw HRMError(file: file, "must start at 0, starts at \(first)") }
    for i in 1..<o.count where o[i] < o[i - 1] {
      throw HRMError(file: file, "offsets decrease at index \(i) (\(o[i - 1]) then \(o[i]))")
    }
    guard Int(last) == end else {
      throw HRMError(file: file, "must end at \(end), ends at \(last)")
    }
  }

  /// Reads and validates subset `name` from the split folder `folder`.
  public static func load(name: String, folder: String, metadata: DatasetMetadata) throws -> PuzzleSet {
    func path(_ array: String) -> String { PuzzleSet.path(of: array, set: name, in: folder) }
    func vector(_ array: String) throws -> [Int32] {
      let file = path(array)
      let npy = try NPY.read(path: file)
      guard npy.shape.count == 1 else {
        throw HRMError(file: file, "expected a 1-D array, found shape \(NPY.shapeText(npy.shape))")
      }
      guard npy.dtype.isInteger else {
        throw HRMError(file: file, "expected an integer array (<i4), found dtype \(npy.dtype.rawValue)")
      }
      return try npy.int32Values(file: file)
    }
    let inputs = try TokenMatrix(npy: NPY.read(path: path("inputs")), file: path("inputs"))
    let labels = try TokenMatrix(npy: NPY.read(path: path("labels")), file: path("labels"))
    let set = PuzzleSet(
      name: name, inputs: inputs, labels: labels,
      puzzleIdentifiers: try vector("puzzle_identifiers"),
      puzzleIndices: try vector("puzzle_indices"),
      groupIndices: try vector("group_indices"))
    try set.validate(metadata: metadata, folder: folder)
    return set
  }

  /// Writes the five arrays into `folder` (plain fsynced writes; the caller provides atomicity).
  func write(into folder: String) throws {
    func path(_ array: String) -> String { PuzzleSet.path(of: array, set: name, in: folder) }
    let arrays: [(String, NPYArray)] = [
      ("inputs", inputs.npyArray()),
      ("labels", labels.npyArray()),
      ("puzzle_identifiers", NPYArray(int32: puzzleIdentifiers, shape: [puzzleIdentifiers.count])),
      ("puzzle_indices", NPYArray(int32: puzzleIndices, shape: [puzzleIndices.count])),
      ("group_indices", NPYArray(int32: groupIndices, shape: [groupIndices.count])),
    ]
    for (array, npy) in arrays {
      try AtomicFile.writeSynced(NPY.encode(npy), to: path(array))
    }
  }
}

/// One split (`train` or `test`) of a dataset: its metadata and the arrays of each subset.
public struct DatasetSplit: Equatable, Sendable {
  /// The split's `dataset.json`.
  public var metadata: DatasetMetadata
  /// One entry per name in `metadata.sets`, in that order.
  public var sets: [PuzzleSet]

  /// Creates a split (not validated; see `validate`).
  public init(metadata: DatasetMetadata, sets: [PuzzleSet]) {
    self.metadata = metadata
    self.sets = sets
  }

  /// Total examples over all subsets.
  public var exampleCount: Int { sets.reduce(0) { $0 + $1.exampleCount } }
  /// Total puzzles over all subsets.
  public var puzzleCount: Int { sets.reduce(0) { $0 + $1.puzzleCount } }
  /// Total groups over all subsets.
  public var groupCount: Int { sets.reduce(0) { $0 + $1.groupCount } }

  /// Checks the metadata values and every subset; `folder` names files in errors.
  public func validate(folder: String) throws {
    try DatasetSplit.validate(metadata: metadata, folder: folder)
    let file = (folder as NSString).appendingPathComponent("dataset.json")
    guard sets.map(\.name) == metadata.sets else {
      throw HRMError(file: file, "sets \(metadata.sets) do not match the arrays \(sets.map(\.name))")
    }
    for set in sets { try set.validate(metadata: metadata, folder: folder) }
    guard groupCount == metadata.totalGroups else {
      throw HRMError(file: file, "total_groups is \(metadata.totalGroups) but the arrays hold \(groupCount) groups")
    }
  }

  /// Checks the values in `dataset.json` on their own (ranges, set names).
  static func validate(metadata m: DatasetMetadata, folder: String) throws {
    let file = (folder as NSString).appendingPathComponent("dataset.json")
    func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
      if !ok { throw HRMError(file: file, message()) }
    }
    try check(m.vocabSize >= 1, "vocab_size must be at least 1, is \(m.vocabSize)")
    try check(m.seqLen >= 1, "seq_len must be at least 1, is \(m.seqLen)")
    try check(m.numPuzzleIdentifiers >= 1, "num_puzzle_identifiers must be at least 1, is \(m.numPuzzleIdentifiers)")
    try check(
      (0..<m.numPuzzleIdentifiers).contains(m.blankIdentifierId),
      "blank_identifier_id \(m.blankIdentifierId) is outside [0, \(m.numPuzzleIdentifiers))")
    try check(m.totalGroups >= 0, "total_groups must not be negative")
    try check(m.meanPuzzleExamples.isFinite && m.meanPuzzleExamples >= 0, "mean_puzzle_examples must be a finite number >= 0")
    try check(!m.sets.isEmpty, "sets must name at least one subset")
    for name in m.sets {
      try check(!name.isEmpty && !name.contains("/"), "set name '\(name)' is not a plain file-name prefix")
    }
    try check(Set(m.sets).count == m.sets.count, "sets lists a name twice")
  }

  /// Reads and validates split `split` (e.g. "train") of the dataset folder `datasetPath`.
  public static func load(from datasetPath: String, split: String) throws -> DatasetSplit {
    let folder = (datasetPath as NSString).appendingPathComponent(split)
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
      throw HRMError(file: folder, "dataset split folder not found")
    }
    let metadata = try DatasetMetadata.read(path: (folder as NSString).appendingPathComponent("dataset.json"))
    // Metadata checks first (cheap, and the subsets rely on them), then each subset.
    try validate(metadata: metadata, folder: folder)
    var sets: [PuzzleSet] = []
    for name in metadata.sets {
      sets.append(try PuzzleSet.load(name: name, folder: folder, metadata: metadata))
    }
    let split = DatasetSplit(metadata: metadata, sets: sets)
    try split.validate(folder: folder)
    return split
  }

  /// Writes `dataset.json` and every subset into `folder` (which must exist).
  func write(into folder: String) throws {
    try AtomicFile.writeSynced(Data(metadata.jsonText().utf8), to: (folder as NSString).appendingPathComponent("dataset.json"))
    for set in sets { try set.write(into: folder) }
  }
}

/// A whole dataset folder: `identifiers.json` plus its splits.
public struct PuzzleDataset: Equatable, Sendable {
  /// Identifier names; entry 0 is `<blank>`.
  public var identifiers: [String]
  /// Splits by folder name, normally `train` and `test`.
  public var splits: [String: DatasetSplit]

  /// The split folders the loader looks for.
  public static let splitNames = ["train", "test"]

  /// Creates a dataset from its parts (not validated until written).
  public init(identifiers: [String], splits: [String: DatasetSplit]) {
    self.identifiers = identifiers
    self.splits = splits
  }

  /// Reads `identifiers.json` and every split folder present (`train`, `test`); at least one must exist.
  public static func load(from path: String) throws -> PuzzleDataset {
    let identifiers = try readIdentifiers(datasetPath: path)
    var splits: [String: DatasetSplit] = [:]
    for name in splitNames {
      let folder = (path as NSString).appendingPathComponent(name)
      if FileManager.default.fileExists(atPath: folder) {
        splits[name] = try DatasetSplit.load(from: path, split: name)
      }
    }
    guard !splits.isEmpty else { throw HRMError(file: path, "no train/ or test/ folder; is this a dataset folder?") }
    return PuzzleDataset(identifiers: identifiers, splits: splits)
  }

  /// Reads `<datasetPath>/identifiers.json` (a JSON list of strings).
  public static func readIdentifiers(datasetPath: String) throws -> [String] {
    let file = (datasetPath as NSString).appendingPathComponent("identifiers.json")
    guard let data = FileManager.default.contents(atPath: file) else {
      throw HRMError(file: file, "file not found or unreadable")
    }
    do {
      return try JSONDecoder().decode([String].self, from: data)
    } catch {
      throw HRMError(file: file, "expected a JSON list of strings")
    }
  }

  /// Validates and writes the dataset to `path` atomically.
  ///
  /// An existing folder at `path` is replaced only when it is empty or looks like a dataset
  /// (has `identifiers.json`, `train/` or `test/`), so a mistyped path cannot wipe other data.
  public func write(to path: String) throws {
    let fm = FileManager.default
    if let existing = try? fm.contentsOfDirectory(atPath: path), !existing.isEmpty,
      !existing.contains(where: { $0 == "identifiers.json" || PuzzleDataset.splitNames.contains($0) })
    {
      throw HRMError(file: path, "exists and is not a dataset folder; refusing to replace it (remove it or choose another path)")
    }
    try AtomicFile.writeDirectory(at: path) { temp in
      for (name, split) in splits.sorted(by: { $0.key < $1.key }) {
        let folder = (temp as NSString).appendingPathComponent(name)
        // Errors name the final location, not the temporary folder.
        try split.validate(folder: (path as NSString).appendingPathComponent(name))
        guard identifiers.count == split.metadata.numPuzzleIdentifiers else {
          throw HRMError(
            file: (path as NSString).appendingPathComponent("identifiers.json"),
            "has \(identifiers.count) names but \(name)/dataset.json says num_puzzle_identifiers \(split.metadata.numPuzzleIdentifiers)")
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        try split.write(into: folder)
      }
      try AtomicFile.writeSynced(
        Data(PythonJSON.stringList(identifiers).utf8),
        to: (temp as NSString).appendingPathComponent("identifiers.json"))
    }
  }
}
