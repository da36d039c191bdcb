// ARCScoringTests.swift: ARC pass@K voting on hand-made predictions: true answers seen
// through augmentations score 100%, wrong answers 0%, and ties resolve by mean Q-halt
// confidence, then by first appearance.

import HRMData
import HRMSupport
import HRMTrain
import XCTest

final class ARCScoringTests: XCTestCase {
  let inputA = Grid([[1, 2, 0], [0, 3, 4]])
  let answerA = Grid([[4, 3], [0, 2], [2, 1]])
  let inputB = Grid([[5, 5], [6, 0]])
  let answerB = Grid([[7]])

  func canvas(_ g: Grid) -> [UInt8] { ARCEncoding.canvas(g) }

  /// Rows for `task` with test pairs, as the original puzzle plus augmented copies, each
  /// predicting `predict(input, answer, augmentation)` in the augmented frame.
  func rows(task: String, pairs: [(Grid, Grid)], augmentations: [ARCAugmentation], q: Float = 0,
            predict: (Grid, Grid, ARCAugmentation) -> Grid) -> [ARCScoring.Row] {
    var out: [ARCScoring.Row] = []
    for aug in [ARCAugmentation.identity] + augmentations {
      for (input, answer) in pairs {
        let i = aug.apply(input), a = aug.apply(answer)
        out.append(ARCScoring.Row(puzzleName: aug.puzzleName(task: task), input: canvas(i), label: canvas(a),
                                  prediction: canvas(predict(i, a, aug)), qHaltLogit: q))
      }
    }
    return out
  }

  func augmentations(_ n: Int, seed: UInt64) -> [ARCAugmentation] {
    var rng = HRMRandom(seed: seed)
    var result: [ARCAugmentation] = []
    while result.count < n {
      let a = ARCAugmentation.random(using: &rng)
      if a != .identity && !result.contains(a) { result.append(a) }
    }
    return result
  }

  func testTrueAnswersThroughAugmentationsScoreFull() throws {
    let augs = augmentations(12, seed: 1)
    let all = rows(task: "taskA", pairs: [(inputA, answerA)], augmentations: augs) { _, answer, _ in answer }
      + rows(task: "taskB", pairs: [(inputB, answerB), (answerA, inputA)], augmentations: augs) { _, answer, _ in answer }
    let score = try ARCScoring.score(all, ks: [1, 2])
    XCTAssertEqual(score.taskCount, 2)
    XCTAssertEqual(score.overall["pass@1"], 100)
    XCTAssertEqual(score.overall["pass@2"], 100)
    XCTAssertEqual(score.tasks["taskB"]?.answerRanks, [1, 1])
    XCTAssertEqual(score.tasks["taskA"]?.votes, 13)
  }

  func testWrongAnswersScoreZero() throws {
    let augs = augmentations(5, seed: 2)
    let wrong = rows(task: "taskA", pairs: [(inputA, answerA)], augmentations: augs) { input, _, _ in input }
    let score = try ARCScoring.score(wrong, ks: [1, 2, 10])
    XCTAssertEqual(score.overall["pass@1"], 0)
    XCTAssertEqual(score.overall["pass@10"], 0)
    XCTAssertEqual(score.tasks["taskA"]?.answerRanks, [nil])
  }

  func testBinaryTaskScoreNeedsEveryTestInput() throws {
    // taskB has two test inputs; only the first is answered right: 0% binary, 50% partial.
    let r = rows(task: "taskB", pairs: [(inputB, answerB), (answerA, inputA)], augmentations: []) { input, answer, _ in
      input == self.inputB ? answer : input
    }
    let score = try ARCScoring.score(r, ks: [1])
    XCTAssertEqual(score.overall["pass@1"], 0)
    XCTAssertEqual(score.overallPartial["pass@1"], 50)
  }

  func testTiesBreakOnMeanConfidenceThenFirstSeen() throws {
    let augs = augmentations(3, seed: 3)
    let decoy = Grid([[9, 9]])
    // Two votes for the answer (low confidence) and two for the decoy (high confidence):
    // equal counts, so the decoy ranks first and the answer second.
    var r = rows(task: "taskA", pairs: [(inputA, answerA)], augmentations: [augs[0]], q: -2) { _, answer, _ in answer }
    r += rows(task: "taskA", pairs: [(inputA, answerA)], augmentations: [augs[1], augs[2]], q: 2) { _, _, aug in aug.apply(decoy) }
      .filter { $0.puzzleName != "taskA" }
    var score = try ARCScoring.score(r, ks: [1, 2])
    XCTAssertEqual(score.tasks["taskA"]?.answerRanks, [2])
    XCTAssertEqual(score.overall["pass@1"], 0)
    XCTAssertEqual(score.overall["pass@2"], 100)
    // Equal counts and equal confidence: the candidate seen first wins.
    for i in r.indices { r[i].qHaltLogit = 0 }
    score = try ARCScoring.score(r, ks: [1])
    XCTAssertEqual(score.tasks["taskA"]?.answerRanks, [1], "the answer's votes came first")
  }
}
