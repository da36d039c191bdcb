// ARCDataset.swift: the ARC dataset builder (spec data §4): task folders in, dataset folder out.
//
// For every task (folders in the order given; subfolders and *.json files sorted by name):
// route its pairs (§4.2), draw up to 5·numAug augmentations (a dihedral transform and a
// permutation of colours 1...9) keeping those whose puzzle hash is new, until the group has
// numAug + 1 puzzles (§4.5); encode every pair on the 30x30 canvas, translating all train
// pairs but one per puzzle (§4.7). Identifiers are numbered from 1 in train order, then the
// test split's new names (§4.6). `test_puzzles.json` keeps the original grids of every task
// routed to test, for scoring against them.
//
// Deliberate differences from the reference: names are enumerated in sorted order and tasks
// are not shuffled (the reference uses filesystem order and numpy's shuffle, so its order is
// not portable); the draws come from HRMRandom streams, one per task, so tasks can be built
// in parallel and the result does not depend on thread timing. Two tasks with the same name
// are an error (their puzzles would share identifiers).
//
// Memory: tasks are processed a few at a time and their rows streamed to disk
// (StreamingSplitWriter), so the peak is a few hundred MB whatever numAug is.

import Dispatch
import Foundation
import HRMSupport

/// Options of the ARC build.
public struct ARCBuildOptions: Equatable, Sendable {
  /// Augmented puzzles wanted per task (the group then has up to numAug + 1 puzzles).
  public var numAug: Int
  /// Seed of every draw.
  public var seed: UInt64
  /// Attempts per wanted augmentation (the reference's 5).
  public var retriesFactor: Int

  /// The reference's defaults: 1000 augmentations, seed 42, 5 tries each.
  public init(numAug: Int = 1000, seed: UInt64 = 42, retriesFactor: Int = 5) {
    self.numAug = numAug
    self.seed = seed
    self.retriesFactor = retriesFactor
  }
}

/// What a build produced.
public struct ARCBuildSummary: Equatable, Sendable {
  /// Tasks read.
  public var tasks: Int
  /// Groups, puzzles and examples of each split.
  public var splits: [String: (groups: Int, puzzles: Int, examples: Int)]
  /// Number of identifiers, blank included.
  public var identifiers: Int
  /// Tasks whose group came out smaller than numAug + 1.
  public var shortGroups: Int

  /// Equality of all fields.
  public static func == (a: ARCBuildSummary, b: ARCBuildSummary) -> Bool {
    a.tasks == b.tasks && a.identifiers == b.identifiers && a.shortGroups == b.shortGroups
      && a.splits.keys.sorted() == b.splits.keys.sorted()
      && a.splits.keys.allSatisfy { a.splits[$0]! == b.splits[$0]! }
  }
}

/// Builds ARC datasets.
public enum ARCDataset {
  /// Task i's augmentation draws come from stream `augmentStreamBase + i`.
  static let augmentStreamBase: UInt64 = 1 << 42
  /// Task i's translation draws come from stream `encodeStreamBase + i`.
  static let encodeStreamBase: UInt64 = 1 << 43

  /// Every task file under `datasetDirs`: each folder's immediate subfolders (sorted), each
  /// one's `*.json` files (sorted). Errors name the file.
  public static func readTasks(datasetDirs: [String]) throws -> [ARCTask] {
    let fm = FileManager.default
    var tasks: [ARCTask] = []
    var seenNames: [String: String] = [:]
    for dir in datasetDirs {
      var isDir: ObjCBool = false
      guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
        throw HRMError(file: dir, "dataset folder not found")
      }
      let subs = try fm.contentsOfDirectory(atPath: dir).sorted().filter { sub in
        var d: ObjCBool = false
        return fm.fileExists(atPath: (dir as NSString).appendingPathComponent(sub), isDirectory: &d) && d.boolValue
      }
      var found = 0
      for sub in subs {
        let folder = (dir as NSString).appendingPathComponent(sub)
        for file in try fm.contentsOfDirectory(atPath: folder).sorted() where file.hasSuffix(".json") {
          let path = (folder as NSString).appendingPathComponent(file)
          let task = try ARCTask.read(path: path, subset: sub)
          if let other = seenNames[task.name] {
            throw HRMError(file: path, "task name '\(task.name)' is also used by \(other); task names must be unique")
          }
          seenNames[task.name] = path
          tasks.append(task)
          found += 1
        }
      }
      guard found > 0 else {
        throw HRMError(file: dir, "no task files found (expected subfolders such as training/ and evaluation/ holding *.json)")
      }
    }
    return tasks
  }

  /// The augmentations of a task: the identity first, then up to `numAug` new ones (by puzzle hash).
  public static func augmentations(of task: ARCTask, numAug: Int, retriesFactor: Int = 5, using rng: inout HRMRandom) -> [ARCAugmentation] {
    var members = [ARCAugmentation.identity]
    guard numAug > 0 else { return members }
    let pairs = task.routed.train + task.routed.test
    var seen: Set<String> = [ARCEncoding.puzzleHash(pairs)]
    for _ in 0..<(retriesFactor * numAug) {
      let aug = ARCAugmentation.random(using: &rng)
      let hash = ARCEncoding.puzzleHash(pairs.map { ARCPair(input: aug.apply($0.input), output: aug.apply($0.output)) })
      if seen.insert(hash).inserted {
        members.append(aug)
        if members.count == numAug + 1 { break }
      }
    }
    return members
  }

  /// Encodes one puzzle's pairs for a split: rows of inputs and labels (spec data §4.7).
  ///
  /// Draws `keep` (also for the test split), then per translated pair the row offset and
  /// the column offset. Only train pairs other than `keep` are translated.
  public static func encode(_ pairs: [ARCPair], translate: Bool, using rng: inout HRMRandom) -> (inputs: [UInt8], labels: [UInt8]) {
    var inputs: [UInt8] = []
    var labels: [UInt8] = []
    inputs.reserveCapacity(pairs.count * ARCEncoding.seqLen)
    labels.reserveCapacity(pairs.count * ARCEncoding.seqLen)
    let keep = rng.int(0, max(0, pairs.count - 1))
    for (k, p) in pairs.enumerated() {
      var (r0, c0) = (0, 0)
      if translate && k != keep {
        r0 = rng.int(0, ARCEncoding.side - max(p.input.rows, p.output.rows))
        c0 = rng.int(0, ARCEncoding.side - max(p.input.columns, p.output.columns))
      }
      inputs += ARCEncoding.canvas(p.input, rowOffset: r0, columnOffset: c0)
      labels += ARCEncoding.canvas(p.output, rowOffset: r0, columnOffset: c0)
    }
    return (inputs, labels)
  }

  /// One task's encoded puzzles.
  struct TaskOutput {
    var names: [String]
    var train: [(inputs: [UInt8], labels: [UInt8])]
    var test: [(inputs: [UInt8], labels: [UInt8])]
  }

  /// Augments and encodes task number `index` (deterministic in the seed and the index).
  static func process(_ task: ARCTask, index: Int, options: ARCBuildOptions) -> TaskOutput {
    var augRng = HRMRandom(seed: options.seed, stream: augmentStreamBase + UInt64(index))
    var encRng = HRMRandom(seed: options.seed, stream: encodeStreamBase + UInt64(index))
    let members = augmentations(of: task, numAug: options.numAug, retriesFactor: options.retriesFactor, using: &augRng)
    let routed = task.routed
    var out = TaskOutput(names: members.map { $0.puzzleName(task: task.name) }, train: [], test: [])
    for (split, pairs) in [("train", routed.train), ("test", routed.test)] where !pairs.isEmpty {
      for aug in members {
        let augmented = pairs.map { ARCPair(input: aug.apply($0.input), output: aug.apply($0.output)) }
        let rows = encode(augmented, translate: split == "train", using: &encRng)
        if split == "train" { out.train.append(rows) } else { out.test.append(rows) }
      }
    }
    return out
  }

  /// Reads the tasks under `datasetDirs` and writes the dataset folder `outputDir` atomically.
  ///
  /// An existing `outputDir` is replaced only when it is empty or looks like a dataset folder.
  @discardableResult
  public static func build(
    datasetDirs: [String], outputDir: String, options: ARCBuildOptions, progress: ProgressBar? = nil
  ) throws -> ARCBuildSummary {
    guard options.numAug >= 0 else { throw HRMError("--num-aug must not be negative, is \(options.numAug)") }
    let tasks = try readTasks(datasetDirs: datasetDirs)
    return try build(tasks: tasks, outputDir: outputDir, options: options, progress: progress)
  }

  /// Writes the dataset folder for `tasks` (see `build(datasetDirs:...)`).
  @discardableResult
  public static func build(tasks: [ARCTask], outputDir: String, options: ARCBuildOptions, progress: ProgressBar? = nil) throws -> ARCBuildSummary {
    let fm = FileManager.default
    if let existing = try? fm.contentsOfDirectory(atPath: outputDir), !existing.isEmpty,
      !existing.contains(where: { $0 == "identifiers.json" || PuzzleDataset.splitNames.contains($0) })
    {
      throw HRMError(file: outputDir, "exists and is not a dataset folder; refusing to replace it (remove it or choose another path)")
    }
    var summary = ARCBuildSummary(tasks: tasks.count, splits: [:], identifiers: 0, shortGroups: 0)
    try AtomicFile.writeDirectory(at: outputDir) { temp in
      let trainFolder = (temp as NSString).appendingPathComponent("train")
      let testFolder = (temp as NSString).appendingPathComponent("test")
      try fm.createDirectory(atPath: trainFolder, withIntermediateDirectories: false)
      try fm.createDirectory(atPath: testFolder, withIntermediateDirectories: false)
      let train = try StreamingSplitWriter(folder: trainFolder, seqLen: ARCEncoding.seqLen)
      let test = try StreamingSplitWriter(folder: testFolder, seqLen: ARCEncoding.seqLen)
      var identifiers = ["<blank>"]
      var ids: [String: Int32] = [:]
      var testNames: [String] = []
      func id(_ name: String) -> Int32 {
        if let i = ids[name] { return i }
        let i = Int32(identifiers.count)
        ids[name] = i
        identifiers.append(name)
        return i
      }
      // A few tasks at a time in parallel; written in task order.
      let batch = max(2, 2 * ProcessInfo.processInfo.activeProcessorCount)
      var start = 0
      while start < tasks.count {
        let range = start..<min(tasks.count, start + batch)
        var outputs = [TaskOutput?](repeating: nil, count: range.count)
        let lock = NSLock()
        outputs.withUnsafeMutableBufferPointer { buffer in
          let slots = buffer
          DispatchQueue.concurrentPerform(iterations: range.count) { k in
            let o = process(tasks[range.lowerBound + k], index: range.lowerBound + k, options: options)
            lock.lock()
            slots[k] = o
            lock.unlock()
          }
        }
        for o in outputs {
          guard let o = o else { throw HRMError("internal error: an ARC task was not processed") }
          if o.names.count < options.numAug + 1 { summary.shortGroups += 1 }
          for (name, rows) in zip(o.names, o.train) {
            try train.appendPuzzle(identifier: id(name), inputs: rows.inputs, labels: rows.labels)
          }
          train.endGroup()
          for (name, rows) in zip(o.names, o.test) {
            try test.appendPuzzle(identifier: 0, inputs: rows.inputs, labels: rows.labels)  // set below
            testNames.append(name)
          }
          test.endGroup()
        }
        start = range.upperBound
        progress?.update(completed: start)
      }
      // Test identifiers after every train name (the reference numbers the train split first).
      test.puzzleIdentifiers = testNames.map(id)
      for (name, w) in [("train", train), ("test", test)] {
        let metadata = DatasetMetadata(
          vocabSize: ARCEncoding.vocabSize, seqLen: ARCEncoding.seqLen, numPuzzleIdentifiers: identifiers.count,
          totalGroups: w.groupCount,
          meanPuzzleExamples: w.puzzleCount == 0 ? 0 : Double(w.exampleCount) / Double(w.puzzleCount))
        try w.finish(metadata: metadata)
        summary.splits[name] = (w.groupCount, w.puzzleCount, w.exampleCount)
      }
      summary.identifiers = identifiers.count
      try AtomicFile.writeSynced(
        Data(PythonJSON.stringList(identifiers).utf8), to: (temp as NSString).appendingPathComponent("identifiers.json"))
      let testTasks = tasks.filter { $0.isEvaluation && !$0.routed.test.isEmpty }
      let json = "{" + testTasks.map { PythonJSON.string($0.name) + ": " + $0.jsonText() }.joined(separator: ", ") + "}"
      try AtomicFile.writeSynced(Data(json.utf8), to: (temp as NSString).appendingPathComponent("test_puzzles.json"))
    }
    progress?.finish(completed: tasks.count)
    return summary
  }
}
