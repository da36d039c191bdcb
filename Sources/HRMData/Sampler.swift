// Sampler.swift: turns a dataset split into batches (spec data §5).
//
// TrainSampler: one iteration = `epochsPerIter` epochs; each epoch visits every group once in
// random order, takes one random puzzle of the group and all of that puzzle's examples in
// random order (the last puzzle of a batch is truncated to fit); batches run across epoch
// boundaries and the final incomplete batch of the iteration is dropped. Every draw, the
// within-puzzle example choice included, comes from one `HRMRandom(seed:stream:)` stream per
// (iteration, set), so all ranks compute the same global batch and each keeps its slice
// [rank·LBS, (rank+1)·LBS). The sampler state (iteration, position) restores exactly.
//
// TestBatches: sequential pass over every example, padded final batch.
// Neither reproduces numpy's random stream; the statistics, not the draws, match the reference.

import Foundation
import HRMSupport

/// One rank's batch: collated tokens, labels and puzzle identifiers.
public struct Batch: Equatable, Sendable {
  /// Label value the loss ignores.
  public static let ignoreLabel: Int32 = -100

  /// Subset the rows came from.
  public var setName: String
  /// Input tokens, [batchSize, seqLen] row-major; padding rows hold `pad_id`.
  public var inputs: [Int32]
  /// Target tokens, [batchSize, seqLen]; `ignore_label_id` and padding become -100.
  public var labels: [Int32]
  /// Puzzle identifier of each row, [batchSize]; padding rows hold `blank_identifier_id`.
  public var puzzleIdentifiers: [Int32]
  /// Rows in this batch (the local batch size, padding included).
  public var batchSize: Int
  /// Tokens per row.
  public var seqLen: Int
  /// Real (unpadded) rows of the global batch across all ranks; the loss is scaled by 1/this.
  public var effectiveSize: Int

  /// Creates a batch from collated arrays.
  public init(
    setName: String, inputs: [Int32], labels: [Int32], puzzleIdentifiers: [Int32],
    batchSize: Int, seqLen: Int, effectiveSize: Int
  ) {
    self.setName = setName
    self.inputs = inputs
    self.labels = labels
    self.puzzleIdentifiers = puzzleIdentifiers
    self.batchSize = batchSize
    self.seqLen = seqLen
    self.effectiveSize = effectiveSize
  }

  /// Collates example `rows` (with the puzzle of each row) of `set` into `batchSize` rows.
  ///
  /// Tokens become Int32, labels equal to `ignore_label_id` become -100, and missing rows are
  /// padded (inputs `pad_id`, labels -100, identifier `blank_identifier_id`) (spec data §5.3).
  public static func collate(
    set: PuzzleSet, metadata m: DatasetMetadata, rows: ArraySlice<Int>, puzzles: ArraySlice<Int>,
    batchSize: Int, effectiveSize: Int
  ) -> Batch {
    precondition(rows.count == puzzles.count && rows.count <= batchSize, "collate: bad row count")
    let s = m.seqLen
    var inputs = [Int32](repeating: Int32(clamping: m.padId), count: batchSize * s)
    var labels = [Int32](repeating: ignoreLabel, count: batchSize * s)
    var ids = [Int32](repeating: Int32(clamping: m.blankIdentifierId), count: batchSize)
    let ignore = m.ignoreLabelId.map { Int32(clamping: $0) }
    for (k, (row, puzzle)) in zip(rows, puzzles).enumerated() {
      set.inputs.copyRow(row, into: &inputs, at: k * s)
      set.labels.copyRow(row, into: &labels, at: k * s)
      if let ignore = ignore {
        for j in k * s..<(k + 1) * s where labels[j] == ignore { labels[j] = ignoreLabel }
      }
      ids[k] = set.puzzleIdentifiers[puzzle]
    }
    return Batch(
      setName: set.name, inputs: inputs, labels: labels, puzzleIdentifiers: ids,
      batchSize: batchSize, seqLen: s, effectiveSize: effectiveSize)
  }
}

/// Where a `TrainSampler` is: enough to resume the exact batch sequence.
public struct SamplerState: Codable, Equatable, Sendable {
  /// Iterations started so far (0 = none; the current one is number `iteration`).
  public var iteration: Int
  /// Batches of the current iteration already returned.
  public var position: Int

  /// A state; the default is "nothing started".
  public init(iteration: Int = 0, position: Int = 0) {
    self.iteration = iteration
    self.position = position
  }
}

/// How ranks share a global batch.
public struct BatchSharding: Equatable, Sendable {
  /// Rows per optimiser step across all ranks (GBS).
  public let globalBatchSize: Int
  /// This process's rank, 0 ..< worldSize.
  public let rank: Int
  /// Number of ranks.
  public let worldSize: Int
  /// Rows per rank, GBS / worldSize.
  public var localBatchSize: Int { globalBatchSize / worldSize }

  /// Checks GBS > 0, worldSize ≥ 1, GBS divisible by worldSize and 0 ≤ rank < worldSize.
  public init(globalBatchSize: Int, rank: Int = 0, worldSize: Int = 1) throws {
    guard globalBatchSize >= 1 else { throw HRMError("global batch size must be at least 1, is \(globalBatchSize)") }
    guard worldSize >= 1 else { throw HRMError("world size must be at least 1, is \(worldSize)") }
    guard globalBatchSize % worldSize == 0 else {
      throw HRMError("global batch size \(globalBatchSize) is not divisible by the world size \(worldSize)")
    }
    guard (0..<worldSize).contains(rank) else { throw HRMError("rank \(rank) is outside [0, \(worldSize))") }
    self.globalBatchSize = globalBatchSize
    self.rank = rank
    self.worldSize = worldSize
  }
}

/// The training batch sampler (spec data §5.2).
///
/// Usage: `startIteration()`, then `next()` until it returns nil; repeat per iteration.
/// Save `state` with a checkpoint and pass it to `init` to continue with the very next batch.
public final class TrainSampler {
  /// The split being sampled.
  public let split: DatasetSplit
  /// Base seed; iteration k of set s draws from `HRMRandom(seed: seed, stream: (k-1)·sets + s + 1)`.
  public let seed: UInt64
  /// Epochs per iteration (the trainer's eval interval).
  public let epochsPerIter: Int
  /// Batch size and rank layout.
  public let sharding: BatchSharding
  /// Current position; save it to resume.
  public private(set) var state: SamplerState

  private var walk: Walk?

  /// Creates a sampler, optionally positioned at a saved `state`.
  public init(
    split: DatasetSplit, seed: UInt64, epochsPerIter: Int, sharding: BatchSharding,
    state: SamplerState = SamplerState()
  ) throws {
    guard epochsPerIter >= 1 else { throw HRMError("epochs per iteration must be at least 1, is \(epochsPerIter)") }
    guard state.iteration >= 0, state.position >= 0 else {
      throw HRMError("invalid sampler state (iteration \(state.iteration), position \(state.position))")
    }
    self.split = split
    self.seed = seed
    self.epochsPerIter = epochsPerIter
    self.sharding = sharding
    self.state = state
    if state.iteration > 0 {
      var w = Walk(sampler: self, iteration: state.iteration)
      for done in 0..<state.position {
        guard w.nextRows() != nil else {
          throw HRMError(
            "sampler state position \(state.position) is past the end of iteration \(state.iteration) (\(done) batches)")
        }
      }
      walk = w
    }
  }

  /// Begins the next iteration (`epochsPerIter` fresh epochs).
  public func startIteration() {
    state = SamplerState(iteration: state.iteration + 1, position: 0)
    walk = Walk(sampler: self, iteration: state.iteration)
  }

  /// The next batch of the current iteration for this rank; nil when the iteration is over
  /// (or none was started).
  public func next() -> Batch? {
    guard var w = walk, let drawn = w.nextRows() else {
      walk = nil
      return nil
    }
    walk = w
    let (setIndex, rows, puzzles) = drawn
    state.position += 1
    let lbs = sharding.localBatchSize
    let lo = sharding.rank * lbs
    return Batch.collate(
      set: split.sets[setIndex], metadata: split.metadata, rows: rows[lo..<lo + lbs],
      puzzles: puzzles[lo..<lo + lbs], batchSize: lbs, effectiveSize: sharding.globalBatchSize)
  }

  /// Number of batches iteration `iteration` yields (replays its draws without collating).
  public func batchCount(iteration: Int) -> Int {
    var w = Walk(sampler: self, iteration: iteration)
    var n = 0
    while w.nextRows() != nil { n += 1 }
    return n
  }

  /// The draw sequence of one iteration: global batches as (set, example rows, puzzles).
  private struct Walk {
    let split: DatasetSplit
    let seed: UInt64
    let epochs: Int
    let gbs: Int
    let iteration: Int
    var setIndex = 0
    var rng: HRMRandom
    var order: [Int] = []
    var orderPos = 0
    var epochsDrawn = 0

    init(sampler: TrainSampler, iteration: Int) {
      split = sampler.split
      seed = sampler.seed
      epochs = sampler.epochsPerIter
      gbs = sampler.sharding.globalBatchSize
      self.iteration = iteration
      rng = Walk.stream(seed: seed, iteration: iteration, set: 0, sets: split.sets.count)
    }

    /// The reference's `iters` counter for (iteration, set): one stream per set per iteration.
    static func stream(seed: UInt64, iteration: Int, set: Int, sets: Int) -> HRMRandom {
      HRMRandom(seed: seed, stream: UInt64((iteration - 1) * sets + set + 1))
    }

    /// The next group of the current set, drawing a fresh epoch permutation when needed.
    mutating func nextGroup() -> Int? {
      if orderPos == order.count {
        let g = split.sets[setIndex].groupCount
        guard epochsDrawn < epochs, g > 0 else { return nil }
        order = rng.permutation(g)
        orderPos = 0
        epochsDrawn += 1
      }
      orderPos += 1
      return order[orderPos - 1]
    }

    /// Rows and puzzles of the next full global batch; nil when the iteration is over.
    mutating func nextRows() -> (Int, [Int], [Int])? {
      while setIndex < split.sets.count {
        let set = split.sets[setIndex]
        var rows: [Int] = []
        var puzzles: [Int] = []
        rows.reserveCapacity(gbs)
        puzzles.reserveCapacity(gbs)
        while rows.count < gbs, let g = nextGroup() {
          let (p0, p1) = (Int(set.groupIndices[g]), Int(set.groupIndices[g + 1]))
          if p1 <= p0 { continue }  // empty group (the reference would fail here)
          let p = rng.int(p0, p1 - 1)
          let start = Int(set.puzzleIndices[p])
          let n = Int(set.puzzleIndices[p + 1]) - start
          let take = min(n, gbs - rows.count)
          // Partial Fisher-Yates: `take` distinct offsets of 0..<n in random order.
          var offsets = Array(0..<n)
          for i in 0..<take {
            let j = rng.int(i, n - 1)
            offsets.swapAt(i, j)
            rows.append(start + offsets[i])
            puzzles.append(p)
          }
        }
        if rows.count == gbs { return (setIndex, rows, puzzles) }
        // This set is exhausted (its incomplete last batch is dropped): move to the next one.
        setIndex += 1
        if setIndex < split.sets.count {
          rng = Walk.stream(seed: seed, iteration: iteration, set: setIndex, sets: split.sets.count)
          order = []
          orderPos = 0
          epochsDrawn = 0
        }
      }
      return nil
    }
  }
}

/// Sequential, deterministic test batches (spec data §5.4): every example once, in storage
/// order, chunks of GBS; rank r takes its slice; short slices are padded.
public struct TestBatches: Sequence, IteratorProtocol {
  /// The split being iterated.
  public let split: DatasetSplit
  /// Batch size and rank layout.
  public let sharding: BatchSharding
  private var setIndex = 0
  private var start = 0

  /// Creates the iterator, positioned at the first batch.
  public init(split: DatasetSplit, sharding: BatchSharding) {
    self.split = split
    self.sharding = sharding
  }

  /// Number of batches the full pass yields (the same on every rank).
  public var count: Int {
    split.sets.reduce(0) { $0 + ($1.exampleCount + sharding.globalBatchSize - 1) / sharding.globalBatchSize }
  }

  /// The next batch; nil after the last example.
  public mutating func next() -> Batch? {
    while setIndex < split.sets.count, start >= split.sets[setIndex].exampleCount {
      setIndex += 1
      start = 0
    }
    guard setIndex < split.sets.count else { return nil }
    let set = split.sets[setIndex]
    let gbs = sharding.globalBatchSize
    let lbs = sharding.localBatchSize
    let end = Swift.min(set.exampleCount, start + gbs)
    let lo = Swift.min(end, start + sharding.rank * lbs)
    let hi = Swift.min(end, start + (sharding.rank + 1) * lbs)
    var puzzles: [Int] = []
    if lo < hi {
      // Puzzle of row i = the largest p with puzzleIndices[p] <= i.
      var p = TestBatches.puzzle(ofRow: lo, offsets: set.puzzleIndices)
      for i in lo..<hi {
        while p + 1 < set.puzzleCount, Int(set.puzzleIndices[p + 1]) <= i { p += 1 }
        puzzles.append(p)
      }
    }
    let batch = Batch.collate(
      set: set, metadata: split.metadata, rows: Array(lo..<hi)[...], puzzles: puzzles[...],
      batchSize: lbs, effectiveSize: end - start)
    start += gbs
    return batch
  }

  /// The largest p with `offsets[p] <= row` (binary search).
  static func puzzle(ofRow row: Int, offsets: [Int32]) -> Int {
    var (lo, hi) = (0, offsets.count - 1)  // invariant: offsets[lo] <= row < offsets[hi+1...]
    while lo < hi {
      let mid = (lo + hi + 1) / 2
      if Int(offsets[mid]) <= row { lo = mid } else { hi = mid - 1 }
    }
    return lo
  }
}

extension DatasetSplit {
  /// Planned optimiser steps: `floor(epochs · total_groups · mean_puzzle_examples / GBS)`.
  public func totalSteps(epochs: Int, globalBatchSize: Int) -> Int {
    metadata.totalSteps(epochs: epochs, globalBatchSize: globalBatchSize)
  }
}
