// TestHelpers.swift: shared fixtures for the HRMData tests (temporary folders, shared data, tiny datasets).

import Foundation
import HRMData
import HRMSupport
import XCTest

/// A fresh empty temporary folder, removed when the test finishes.
func makeTempDir(_ test: XCTestCase) throws -> String {
  let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("hrm-data-tests-\(UUID().uuidString)")
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
  return path
}

/// Asserts that `body` throws an HRMError whose one-line message contains every string in `parts`.
func assertHRMError(
  _ parts: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void
) {
  do {
    try body()
    XCTFail("expected an error containing \(parts)", file: file, line: line)
  } catch let error as HRMError {
    for part in parts where !error.message.contains(part) {
      XCTFail("error '\(error.message)' does not contain '\(part)'", file: file, line: line)
    }
    XCTAssertFalse(error.message.contains("\n"), "error must be one line: \(error.message)", file: file, line: line)
  } catch {
    XCTFail("expected HRMError, got \(error)", file: file, line: line)
  }
}

/// A small hand-made split with multi-example puzzles and several puzzles per group.
///
/// `groups[g][k]` is the example count of puzzle k of group g. Every token of example row e
/// is `e % (vocab - 1) + 1` (so rows are recognisable); puzzle p has identifier `p % ids`.
func makeSplit(groups: [[Int]], seqLen: Int = 3, vocab: Int = 50, ids: Int = 7) -> DatasetSplit {
  var puzzleIndices: [Int32] = [0]
  var groupIndices: [Int32] = [0]
  var identifiers: [Int32] = []
  var tokens: [UInt8] = []
  var e = 0
  for group in groups {
    for n in group {
      identifiers.append(Int32(identifiers.count % ids))
      for _ in 0..<n {
        tokens += [UInt8](repeating: UInt8(e % (vocab - 1) + 1), count: seqLen)
        e += 1
      }
      puzzleIndices.append(Int32(e))
    }
    groupIndices.append(Int32(identifiers.count))
  }
  let matrix = TokenMatrix(rows: e, columns: seqLen, uint8: tokens)
  let set = PuzzleSet(
    inputs: matrix, labels: matrix, puzzleIdentifiers: identifiers, puzzleIndices: puzzleIndices,
    groupIndices: groupIndices)
  let meta = DatasetMetadata(
    vocabSize: vocab, seqLen: seqLen, numPuzzleIdentifiers: ids, totalGroups: groups.count,
    meanPuzzleExamples: identifiers.isEmpty ? 0 : Double(e) / Double(identifiers.count))
  return DatasetSplit(metadata: meta, sets: [set])
}
