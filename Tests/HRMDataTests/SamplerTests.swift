// SamplerTests.swift: training sampler (drop-last, one puzzle per group, rank slices, determinism,
// resume) and the padded sequential test iterator.

import Foundation
import HRMSupport
import XCTest

@testable import HRMData

final class SamplerTests: XCTestCase {
  /// Example row of each batch row, recovered from the tokens (`makeSplit` writes e + 1 everywhere).
  private func rows(_ b: Batch) -> [Int] {
    (0..<b.batchSize).map { Int(b.inputs[$0 * b.seqLen]) - 1 }
  }

  private func allBatches(_ s: TrainSampler) -> [Batch] {
    var out: [Batch] = []
    while let b = s.next() { out.append(b) }
    return out
  }

  /// Group and puzzle of every example row of a split's single set.
  private func owners(_ split: DatasetSplit) -> (group: [Int], puzzle: [Int]) {
    let set = split.sets[0]
    var group = [Int](repeating: -1, count: set.exampleCount)
    var puzzle = group
    for g in 0..<set.groupCount {
      for p in Int(set.groupIndices[g])..<Int(set.groupIndices[g + 1]) {
        for e in Int(set.puzzleIndices[p])..<Int(set.puzzleIndices[p + 1]) {
          group[e] = g
          puzzle[e] = p
        }
      }
    }
    return (group, puzzle)
  }

  func testDropsOnlyTheIncompleteFinalBatchOfTheIteration() throws {
    // 10 groups of 3 one-example puzzles: 3 epochs = 30 rows = 7 batches of 4, 2 rows dropped.
    let split = makeSplit(groups: Array(repeating: [1, 1, 1], count: 10))
    let s = try TrainSampler(split: split, seed: 3, epochsPerIter: 3, sharding: BatchSharding(globalBatchSize: 4))
    XCTAssertNil(s.next(), "no iteration started yet")
    s.startIteration()
    let batches = allBatches(s)
    XCTAssertEqual(batches.count, 7)
    XCTAssertEqual(s.batchCount(iteration: 1), 7)
    XCTAssertTrue(batches.allSatisfy { $0.batchSize == 4 && $0.effectiveSize == 4 && $0.inputs.count == 12 })
    XCTAssertEqual(s.state, SamplerState(iteration: 1, position: 7))
  }

  func testEveryGroupOncePerEpochWithOnePuzzleEach() throws {
    // 12 groups with 1..4 one-example puzzles; GBS divides G so each epoch fills whole batches.
    let split = makeSplit(groups: (0..<12).map { Array(repeating: 1, count: $0 % 4 + 1) })
    let (group, _) = owners(split)
    let s = try TrainSampler(split: split, seed: 11, epochsPerIter: 2, sharding: BatchSharding(globalBatchSize: 6))
    s.startIteration()
    let seen = allBatches(s).flatMap(rows)
    XCTAssertEqual(seen.count, 24)
    for epoch in 0..<2 {
      let groups = seen[epoch * 12..<(epoch + 1) * 12].map { group[$0] }
      XCTAssertEqual(groups.sorted(), Array(0..<12), "epoch \(epoch) visits each group once")
    }
    // Over many iterations every puzzle of a 4-puzzle group gets drawn.
    var drawn = Set<Int>()
    for _ in 0..<20 {
      s.startIteration()
      for b in allBatches(s) { drawn.formUnion(rows(b).filter { group[$0] == 3 }) }
    }
    XCTAssertEqual(drawn.count, 4)
  }

  func testAllExamplesOfAPuzzleStayTogether() throws {
    let split = makeSplit(groups: [[3, 1], [2], [4], [1, 2, 3], [5], [2, 2]])
    let (_, puzzle) = owners(split)
    let sizes = (0..<split.sets[0].puzzleCount).map {
      Int(split.sets[0].puzzleIndices[$0 + 1] - split.sets[0].puzzleIndices[$0])
    }
    // One epoch per iteration, so a group (hence a puzzle) cannot legitimately recur in a batch.
    let s = try TrainSampler(split: split, seed: 5, epochsPerIter: 1, sharding: BatchSharding(globalBatchSize: 5))
    for _ in 0..<10 {
      s.startIteration()
      for b in allBatches(s) {
        let r = rows(b)
        XCTAssertEqual(Set(r).count, r.count, "no row twice in a batch")
        // Split the batch into runs of one puzzle: each puzzle appears in one run, and every run
        // but the last is the complete puzzle.
        var runs: [[Int]] = []
        for row in r {
          if let last = runs.last?.last, puzzle[last] == puzzle[row] { runs[runs.count - 1].append(row) } else { runs.append([row]) }
        }
        XCTAssertEqual(Set(runs.map { puzzle[$0[0]] }).count, runs.count, "a puzzle appears once per batch")
        for run in runs.dropLast() { XCTAssertEqual(run.count, sizes[puzzle[run[0]]], "complete puzzle") }
        for (row, id) in zip(r, b.puzzleIdentifiers) { XCTAssertEqual(id, split.sets[0].puzzleIdentifiers[puzzle[row]]) }
      }
    }
  }

  func testRankSlicesAreDisjointAndCoverTheGlobalBatch() throws {
    let groups: [[Int]] = [[3, 1], [2], [4], [1, 2, 3], [5], [2, 2], [1], [1]]
    let split = makeSplit(groups: groups + groups, vocab: 100)
    // One epoch, so no row can legitimately occur twice in a global batch.
    let global = try TrainSampler(split: split, seed: 9, epochsPerIter: 1, sharding: BatchSharding(globalBatchSize: 6))
    global.startIteration()
    let whole = allBatches(global)
    XCTAssertGreaterThanOrEqual(whole.count, 3)
    var perRank: [[Batch]] = []
    for rank in 0..<3 {
      let s = try TrainSampler(
        split: split, seed: 9, epochsPerIter: 1, sharding: BatchSharding(globalBatchSize: 6, rank: rank, worldSize: 3))
      s.startIteration()
      perRank.append(allBatches(s))
    }
    for (i, g) in whole.enumerated() {
      let parts = perRank.map { $0[i] }
      XCTAssertTrue(parts.allSatisfy { $0.batchSize == 2 && $0.effectiveSize == 6 })
      XCTAssertEqual(parts.flatMap(\.inputs), g.inputs)
      XCTAssertEqual(parts.flatMap(\.puzzleIdentifiers), g.puzzleIdentifiers)
      XCTAssertEqual(Set(parts.flatMap(rows)).count, 6, "ranks see disjoint rows")
    }
    XCTAssertThrowsError(try BatchSharding(globalBatchSize: 7, rank: 0, worldSize: 2))
    XCTAssertThrowsError(try BatchSharding(globalBatchSize: 8, rank: 2, worldSize: 2))
  }

  func testDeterministicPerSeedAndDifferentAcrossSeedsAndIterations() throws {
    let split = makeSplit(groups: (0..<40).map { _ in [1, 1] })
    func run(seed: UInt64, iterations: Int) throws -> [[Int]] {
      let s = try TrainSampler(split: split, seed: seed, epochsPerIter: 1, sharding: BatchSharding(globalBatchSize: 8))
      var out: [[Int]] = []
      for _ in 0..<iterations {
        s.startIteration()
        out.append(allBatches(s).flatMap(rows))
      }
      return out
    }
    let a = try run(seed: 1, iterations: 2)
    XCTAssertEqual(a, try run(seed: 1, iterations: 2))
    XCTAssertNotEqual(a, try run(seed: 2, iterations: 2))
    XCTAssertNotEqual(a[0], a[1])
  }

  func testResumeFromSavedStateContinuesExactly() throws {
    let split = makeSplit(groups: [[3, 1], [2], [4], [1, 2, 3], [5], [2, 2], [1], [1]])
    let sharding = try BatchSharding(globalBatchSize: 4, rank: 1, worldSize: 2)
    let s = try TrainSampler(split: split, seed: 21, epochsPerIter: 2, sharding: sharding)
    s.startIteration()
    _ = allBatches(s)
    s.startIteration()
    _ = s.next()
    _ = s.next()
    let saved = try JSONDecoder().decode(SamplerState.self, from: JSONEncoder().encode(s.state))
    XCTAssertEqual(saved, SamplerState(iteration: 2, position: 2))
    let rest = allBatches(s)
    s.startIteration()
    let third = allBatches(s)

    let resumed = try TrainSampler(split: split, seed: 21, epochsPerIter: 2, sharding: sharding, state: saved)
    XCTAssertEqual(allBatches(resumed), rest)
    resumed.startIteration()
    XCTAssertEqual(allBatches(resumed), third)
    XCTAssertThrowsError(
      try TrainSampler(split: split, seed: 21, epochsPerIter: 2, sharding: sharding, state: SamplerState(iteration: 1, position: 999)))
  }

  func testCollateRewritesIgnoredLabels() throws {
    var split = makeSplit(groups: [[1], [1], [1]])
    split.metadata.ignoreLabelId = 2  // the tokens of row 1
    let s = try TrainSampler(split: split, seed: 0, epochsPerIter: 1, sharding: BatchSharding(globalBatchSize: 3))
    s.startIteration()
    let b = try XCTUnwrap(s.next())
    for (k, row) in rows(b).enumerated() {
      let expected: Int32 = row == 1 ? -100 : Int32(row + 1)
      XCTAssertEqual(Array(b.labels[k * 3..<(k + 1) * 3]), [expected, expected, expected])
      XCTAssertEqual(Array(b.inputs[k * 3..<(k + 1) * 3]), Array(repeating: Int32(row + 1), count: 3))
    }
  }

  func testTestBatchesAreSequentialAndPadded() throws {
    var split = makeSplit(groups: [[3, 1], [2], [4]], ids: 5)  // 10 examples, puzzles of 3,1,2,4 rows
    split.metadata.padId = 0
    split.metadata.blankIdentifierId = 0
    let ids = split.sets[0].puzzleIdentifiers  // [0, 1, 2, 3]
    let rowIds: [Int32] = [ids[0], ids[0], ids[0], ids[1], ids[2], ids[2], ids[3], ids[3], ids[3], ids[3]]
    var byRank: [[Batch]] = []
    for rank in 0..<2 {
      let t = TestBatches(split: split, sharding: try BatchSharding(globalBatchSize: 4, rank: rank, worldSize: 2))
      XCTAssertEqual(t.count, 3)
      byRank.append(Array(t))
    }
    XCTAssertEqual(byRank[0].map(\.effectiveSize), [4, 4, 2])
    XCTAssertEqual(byRank[1].map(\.effectiveSize), [4, 4, 2])
    // Ranks' real rows, in order, are exactly 0..<10.
    var real: [Int] = []
    var realIds: [Int32] = []
    for i in 0..<3 {
      for rank in 0..<2 {
        let b = byRank[rank][i]
        XCTAssertEqual(b.batchSize, 2)
        for k in 0..<2 where b.inputs[k * 3] != 0 {
          real.append(Int(b.inputs[k * 3]) - 1)
          realIds.append(b.puzzleIdentifiers[k])
        }
      }
    }
    XCTAssertEqual(real, Array(0..<10))
    XCTAssertEqual(realIds, rowIds)
    // Rank 1's last batch is pure padding.
    let pad = byRank[1][2]
    XCTAssertEqual(pad.inputs, [Int32](repeating: 0, count: 6))
    XCTAssertEqual(pad.labels, [Int32](repeating: -100, count: 6))
    XCTAssertEqual(pad.puzzleIdentifiers, [0, 0])
  }

  func testSetsAreSampledOneAfterAnotherEachDroppingItsOwnPartialBatch() throws {
    var split = makeSplit(groups: Array(repeating: [1], count: 5))
    var second = makeSplit(groups: Array(repeating: [1, 1], count: 7)).sets[0]
    second.name = "extra"
    split.sets.append(second)
    split.metadata.sets = ["all", "extra"]
    split.metadata.totalGroups = 12
    XCTAssertNoThrow(try split.validate(folder: "mem"))
    let s = try TrainSampler(split: split, seed: 1, epochsPerIter: 1, sharding: BatchSharding(globalBatchSize: 2))
    s.startIteration()
    XCTAssertEqual(allBatches(s).map(\.setName), ["all", "all", "extra", "extra", "extra"])
    let t = TestBatches(split: split, sharding: try BatchSharding(globalBatchSize: 4))
    XCTAssertEqual(t.count, 2 + 4)
    XCTAssertEqual(Array(t).map(\.effectiveSize), [4, 1, 4, 4, 4, 2])
  }
}
