// VisualizerTests.swift: the `hrm visualize` page, opened in headless Chromium. The rendered
// DOM (after the page's script ran) is checked for what a person would see: the number of
// grid cells, their colours (ARC palette, maze colours), Sudoku digits, prediction
// differences and the ACT-step slider. Chromium comes from Dev/install-chromium.sh; without
// it these tests skip with a notice.

import Foundation
import HRMData
import HRMSupport
import XCTest

final class VisualizerTests: XCTestCase {
  /// Path of the chromium binary, or nil.
  static let chromium: String? = {
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"] where FileManager.default.isExecutableFile(atPath: p) {
      return p
    }
    return nil
  }()

  /// The DOM of `html` after its scripts ran (`chromium --headless --dump-dom`), `hash` appended to the URL.
  func renderedDOM(_ html: String, hash: String = "") throws -> String {
    guard let chromium = VisualizerTests.chromium else {
      print("NOTICE: chromium not installed; skipping the browser check (run Dev/install-chromium.sh)")
      throw XCTSkip("chromium not installed (run Dev/install-chromium.sh)")
    }
    let dir = try makeTempDir(self)
    let page = (dir as NSString).appendingPathComponent("page.html")
    try html.write(toFile: page, atomically: true, encoding: .utf8)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: chromium)
    p.arguments = [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
      "--user-data-dir=\(dir)/profile", "--virtual-time-budget=5000", "--dump-dom", "file://\(page)\(hash)",
    ]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    XCTAssertEqual(p.terminationStatus, 0, "chromium exit status")
    return String(decoding: data, as: UTF8.self)
  }

  func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

  /// Number of elements whose class list contains `cls`.
  func countClass(_ cls: String, in text: String) -> Int {
    let re = try! NSRegularExpression(pattern: "class=\"([^\"]* )?\(cls)( [^\"]*)?\"")
    return re.numberOfMatches(in: text, range: NSRange(text.startIndex..., in: text))
  }

  /// The rendered part of the DOM (the embedded JSON data comes after it).
  func body(_ dom: String) -> String {
    String(dom.components(separatedBy: "<script id=\"data\"").first ?? "")
  }

  func testARCPageShowsCanvasesInTheARCPalette() throws {
    let tmp = try makeTempDir(self)
    // One evaluation task: two demonstrations and one query, colours 0...9 all present.
    let sub = tmp + "/src/evaluation"
    try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
    try #"{"train": [{"input": [[0, 1, 2], [3, 4, 5]], "output": [[6, 7], [8, 9]]}, {"input": [[1]], "output": [[2]]}], "test": [{"input": [[3, 3]], "output": [[4]]}]}"#
      .write(toFile: sub + "/task.json", atomically: true, encoding: .utf8)
    try ARCDataset.build(datasetDirs: [tmp + "/src"], outputDir: tmp + "/arc", options: ARCBuildOptions(numAug: 3))
    let html = try PuzzleVisualizer.html(datasetPath: tmp + "/arc", predictionsPath: nil)
    XCTAssertFalse(html.contains("http://") || html.contains("https://"), "no network references")
    let dom = body(try renderedDOM(html))
    // Default view: train set, group 0, puzzle 0 (the original): 2 examples x (input + label) x 900 cells.
    XCTAssertEqual(count("class=\"cell", in: dom), 4 * 900)
    XCTAssertTrue(dom.contains("Puzzle #0 — ID: task"), "puzzle title")
    // The first example is the kept (untranslated) pair or a translated one; either way its
    // colours are drawn with the ARC palette: blue (colour 1) and maroon (colour 9) appear.
    XCTAssertTrue(dom.contains("rgb(0, 116, 217)"), "ARC colour 1 #0074D9")
    XCTAssertTrue(dom.contains("rgb(135, 12, 37)"), "ARC colour 9 #870C25")
    // Test set via the URL hash: one example (the query), 2 x 900 cells; 6 input cells... colour 3 twice.
    let testDom = body(try renderedDOM(html, hash: "#set=1"))
    XCTAssertEqual(count("class=\"cell", in: testDom), 2 * 900)
    XCTAssertEqual(count("data-t=\"5\"", in: testDom), 2, "the query input [[3, 3]] (token 5) is drawn once per cell")
    XCTAssertEqual(count("data-t=\"1\"", in: testDom), 3 + 2, "EOS border: 3 around the 1x2 input, 2 around the 1x1 output")
  }

  func testSudokuAndMazePagesAndPredictions() throws {
    let tmp = try makeTempDir(self)
    // Sudoku: a generated easy puzzle.
    let puzzles = try SudokuGenerator.generate(count: 2, options: SudokuGeneratorOptions(minBlanks: 5, maxBlanks: 5, seed: 1))
    try SudokuDataset.build(train: puzzles, test: puzzles, options: SudokuBuildOptions()).write(to: tmp + "/sudoku")
    let sdom = body(try renderedDOM(try PuzzleVisualizer.html(datasetPath: tmp + "/sudoku", predictionsPath: nil)))
    XCTAssertEqual(count("class=\"cell", in: sdom), 2 * 81)
    XCTAssertEqual(countClass("given", in: sdom), 76, "81 - 5 given digits (bold) in the label")
    XCTAssertEqual(countClass("filled", in: sdom), 5, "the 5 blanks filled in the label")
    let inputDigits = puzzles[0].question.filter { $0 != 0 }.count
    XCTAssertEqual(inputDigits, 76)

    // Maze, with predictions: the second prediction has two wrong cells, and per-step outputs.
    let maze = try MazeGenerator.generate(count: 2, options: MazeGeneratorOptions(side: 6, minMoves: 6, seed: 2))
    let inputs = maze.map { $0.question.cells.map(Int.init) }
    let labels = maze.map { $0.answer.cells.map(Int.init) }
    var preds = labels
    let free = preds[1].indices.filter { preds[1][$0] == 2 }
    preds[1][free[0]] = 5
    preds[1][free[1]] = 5
    let steps = [[inputs[0], inputs[1]], [labels[0], preds[1]]]  // [K, N, S]
    let json: [String: Any] = ["inputs": inputs, "labels": labels, "predictions": preds, "puzzle_identifiers": [0, 1], "step_predictions": steps]
    try FileManager.default.createDirectory(atPath: tmp + "/preds", withIntermediateDirectories: true)
    try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: tmp + "/preds/predictions.json"))
    XCTAssertTrue(PuzzleVisualizer.isPredictionsFolder(tmp + "/preds"))
    let html = try PuzzleVisualizer.html(datasetPath: nil, predictionsPath: tmp + "/preds")
    let dom0 = body(try renderedDOM(html))
    XCTAssertEqual(count("class=\"cell", in: dom0), 3 * 36, "input, label, prediction")
    XCTAssertEqual(countClass("diff", in: dom0), 0, "first row is predicted correctly")
    XCTAssertTrue(dom0.contains("type=\"range\""), "ACT step slider")
    XCTAssertTrue(dom0.contains("ACT step 2 of 2"))
    XCTAssertTrue(dom0.contains("rgb(51, 51, 51)") && dom0.contains("rgb(255, 220, 0)"), "walls and path colours")
    XCTAssertTrue(dom0.contains("1 of 2 rows predicted exactly"))
    let dom1 = body(try renderedDOM(html, hash: "#group=1"))
    XCTAssertEqual(countClass("diff", in: dom1), 2, "the two wrong cells are marked")
    XCTAssertTrue(dom1.contains("2 cells differ"))
  }

  func testLargeDatasetsAreCutWithANote() throws {
    let tmp = try makeTempDir(self)
    let mazes = try MazeGenerator.generate(count: 12, options: MazeGeneratorOptions(side: 5, minMoves: 4, seed: 3))
    try MazeDataset.build(train: mazes, test: mazes, options: MazeBuildOptions(augment: true)).write(to: tmp + "/maze")
    let html = try PuzzleVisualizer.html(datasetPath: tmp + "/maze", predictionsPath: nil, options: VisualizerOptions(maxGroups: 4, maxPuzzles: 3))
    XCTAssertEqual(count("\"puzzles\": [", in: html), 8, "4 groups in each of train and test")
    let dom = body(try renderedDOM(html))
    XCTAssertTrue(dom.contains("showing the first 4 of 12 groups"))
    XCTAssertTrue(dom.contains("showing the first 3 of 8 puzzles"))
    XCTAssertEqual(count("<button class=\"chip", in: dom), 2 + 4 + 3, "sets, groups, puzzles")
  }

  /// The `.npy` folder `hrm evaluate` writes (docs/predictions.md), without a browser.
  func testEvaluateNPYFolderIsRead() throws {
    let tmp = try makeTempDir(self)
    let (n, seq, k) = (3, 81, 2)
    let inputs = (0..<n * seq).map { Int32($0 % 10 + 1) }
    var labels = inputs
    labels[5] = -100
    var preds = inputs
    preds[seq + 7] = 10  // row 1 has one wrong cell (the label there is 9)
    var steps = [Int32](repeating: 1, count: k * n * seq)  // step 0: all blanks
    for i in 0..<n * seq { steps[n * seq + i] = preds[i] }  // step 1: the final prediction
    func write(_ name: String, _ a: NPYArray) throws { try NPY.write(a, to: tmp + "/\(name).npy") }
    try write("inputs", NPYArray(int32: inputs, shape: [n, seq]))
    try write("labels", NPYArray(int32: labels, shape: [n, seq]))
    try write("predictions", NPYArray(int32: preds, shape: [n, seq]))
    try write("puzzle_identifiers", NPYArray(int32: [0, 0, 0], shape: [n]))
    try write("q_halt_logits", NPYArray(float32: [0, 2, -1], shape: [n]))
    try write("segments", NPYArray(int32: [2, 2, 1], shape: [n]))
    try write("step_predictions", NPYArray(int32: steps, shape: [k, n, seq]))
    XCTAssertTrue(PuzzleVisualizer.isPredictionsFolder(tmp))
    let html = try PuzzleVisualizer.html(datasetPath: nil, predictionsPath: tmp)
    XCTAssertTrue(html.contains("\"kind\": \"sudoku\""))
    XCTAssertEqual(count("\"steps\": [", in: html), 3)
    XCTAssertEqual(count("\"name\": \"row ", in: html), 3, "identifier 0 everywhere: one group per row")
    XCTAssertTrue(html.contains("2 of 3 rows predicted exactly"), "the -100 label cell is ignored")
    XCTAssertTrue(html.contains("\"halt\": 0.5000") && html.contains("\"halt\": 0.8808"), "sigmoid of the Q-halt logits")
    XCTAssertTrue(html.contains("\"segments\": 1"))
    let row1 = PuzzleVisualizer.tokenString(Array(preds[seq..<2 * seq]))
    XCTAssertTrue(html.contains("\"prediction\": \(row1)"))
    XCTAssertTrue(html.contains("\"steps\": [\"" + String(repeating: "1", count: seq) + "\", \(row1)]"), "row 1's steps in order")
    // A step array of the wrong shape is named.
    try write("step_predictions", NPYArray(int32: steps, shape: [n, k, seq]))
    assertHRMError(["step_predictions.npy", "[K, N, S]"]) { _ = try PuzzleVisualizer.html(datasetPath: nil, predictionsPath: tmp) }
  }
}
