// StreamingSplitWriter.swift: writes one dataset split (spec data §1) piece by piece, for
// builders whose token arrays are too large to hold in memory twice (ARC with 1000
// augmentations: 3.6M examples, 3.3 GB per array).
//
// `inputs`/`labels` rows go straight to `.npy` files whose header is written last (the header
// is a fixed 128 bytes for every [E, S] shape this project makes, see NPY.headerBytes);
// identifiers and offsets are small and kept in memory. The caller places the split folder
// inside AtomicFile.writeDirectory, so an interrupted build leaves nothing behind.

import Foundation
import HRMSupport

/// Streams `<set>__inputs.npy` / `<set>__labels.npy` rows to disk and writes the rest at the end.
public final class StreamingSplitWriter {
  /// The split folder being written.
  public let folder: String
  /// Tokens per example.
  public let seqLen: Int
  /// Subset name (file prefix).
  public let set: String
  /// Examples written so far.
  public private(set) var exampleCount = 0
  /// Identifier of each puzzle written so far.
  public var puzzleIdentifiers: [Int32] = []
  /// Puzzle offsets so far (starts with 0).
  public private(set) var puzzleIndices: [Int32] = [0]
  /// Group offsets so far (starts with 0).
  public private(set) var groupIndices: [Int32] = [0]

  private let inputs: FileHandle
  private let labels: FileHandle
  private static let headerSize = 128

  /// Creates the folder's two token files (the folder must exist).
  public init(folder: String, seqLen: Int, set: String = "all") throws {
    self.folder = folder
    self.seqLen = seqLen
    self.set = set
    func open(_ array: String) throws -> FileHandle {
      let path = PuzzleSet.path(of: array, set: set, in: folder)
      guard FileManager.default.createFile(atPath: path, contents: Data(count: StreamingSplitWriter.headerSize)),
        let h = FileHandle(forWritingAtPath: path)
      else { throw HRMError(file: path, "cannot create file") }
      try h.seekToEnd()
      return h
    }
    inputs = try open("inputs")
    labels = try open("labels")
  }

  private var closed = false

  deinit {
    if !closed {
      try? inputs.close()
      try? labels.close()
    }
  }

  /// Appends one puzzle: `inputs`/`labels` hold its examples' rows back to back.
  public func appendPuzzle(identifier: Int32, inputs i: [UInt8], labels l: [UInt8]) throws {
    precondition(i.count == l.count && i.count % seqLen == 0 && !i.isEmpty, "puzzle rows must be whole, non-empty and match")
    try inputs.write(contentsOf: i)
    try labels.write(contentsOf: l)
    exampleCount += i.count / seqLen
    puzzleIdentifiers.append(identifier)
    puzzleIndices.append(Int32(exampleCount))
  }

  /// Closes the current group (the puzzles appended since the last call); empty groups are skipped.
  public func endGroup() {
    if Int(groupIndices.last!) < puzzleIdentifiers.count { groupIndices.append(Int32(puzzleIdentifiers.count)) }
  }

  /// Number of puzzles written.
  public var puzzleCount: Int { puzzleIdentifiers.count }
  /// Number of groups closed.
  public var groupCount: Int { groupIndices.count - 1 }

  /// Writes the token headers, the three index arrays and `dataset.json`, and syncs everything.
  public func finish(metadata: DatasetMetadata) throws {
    endGroup()
    let header = NPY.headerBytes(dtype: .uint8, shape: [exampleCount, seqLen])
    guard header.count == StreamingSplitWriter.headerSize else {
      throw HRMError(file: folder, "internal error: .npy header of \(header.count) bytes, expected \(StreamingSplitWriter.headerSize)")
    }
    closed = true
    for h in [inputs, labels] {
      try h.seek(toOffset: 0)
      try h.write(contentsOf: header)
      try h.synchronize()
      try h.close()
    }
    let small: [(String, [Int32])] = [
      ("puzzle_identifiers", puzzleIdentifiers), ("puzzle_indices", puzzleIndices), ("group_indices", groupIndices),
    ]
    for (array, values) in small {
      try AtomicFile.writeSynced(
        NPY.encode(NPYArray(int32: values, shape: [values.count])), to: PuzzleSet.path(of: array, set: set, in: folder))
    }
    try AtomicFile.writeSynced(Data(metadata.jsonText().utf8), to: (folder as NSString).appendingPathComponent("dataset.json"))
  }
}
