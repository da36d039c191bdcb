// ProgressTests.swift: the HRMSupport progress bar (format, throttling, TTY vs plain output).

import Dispatch
import Foundation
import HRMSupport
import XCTest

final class ProgressBarTests: XCTestCase {
  func testRenderFormat() {
    XCTAssertEqual(
      ProgressBar.render(label: "build", completed: 420, total: 1000, elapsed: 35, width: 10, extra: "loss 1.2"),
      "build [####......] 42% 420/1000 12.0 it/s ETA 0:48 loss 1.2")
    XCTAssertEqual(
      ProgressBar.render(label: "x", completed: 0, total: 5, elapsed: 0, width: 4),
      "x [....] 0% 0/5 0.0 it/s ETA ?:??")
    XCTAssertEqual(
      ProgressBar.render(label: "x", completed: 5, total: 5, elapsed: 2, width: 4),
      "x [####] 100% 5/5 2.5 it/s ETA 0:00")
    XCTAssertEqual(ProgressBar.formatDuration(0), "0:00")
    XCTAssertEqual(ProgressBar.formatDuration(47.4), "0:47")
    XCTAssertEqual(ProgressBar.formatDuration(3725), "1:02:05")
  }

  /// A bar whose clock and output the test controls.
  private final class Harness: @unchecked Sendable {
    var now = 0.0
    var output: [String] = []
    func bar(terminal: Bool, total: Int = 100) -> ProgressBar {
      ProgressBar(total: total, label: "t", isTerminal: terminal, sink: { self.output.append($0) }, clock: { self.now })
    }
  }

  func testTerminalRedrawsInPlaceAtMostTenTimesASecond() {
    let h = Harness()
    let bar = h.bar(terminal: true)
    for (t, n) in [(0.0, 1), (0.05, 2), (0.09, 3), (0.1, 4), (0.15, 5), (0.25, 6)] {
      h.now = t
      bar.update(completed: n)
    }
    XCTAssertEqual(h.output.count, 3, "draws at t = 0, 0.1 and 0.25 only")
    XCTAssertTrue(h.output.allSatisfy { $0.hasPrefix("\r") && !$0.contains("\n") })
    XCTAssertTrue(h.output[1].contains(" 4/100 "))
    bar.finish(completed: 100)
    bar.finish()
    XCTAssertEqual(h.output.count, 4, "finish draws once")
    XCTAssertTrue(h.output[3].hasSuffix("\n") && h.output[3].contains(" 100/100 "))
  }

  func testPlainOutputPrintsPeriodicLines() {
    let h = Harness()
    let bar = h.bar(terminal: false)
    for t in [0.0, 1, 2, 4.9, 5.0, 7, 10.5] {
      h.now = t
      bar.update(completed: Int(t * 5), extra: "at \(t)")
    }
    XCTAssertEqual(h.output.count, 3, "lines at t = 0, 5 and 10.5")
    XCTAssertTrue(h.output.allSatisfy { !$0.contains("\r") && $0.hasSuffix("\n") })
    XCTAssertTrue(h.output[2].hasSuffix(" at 10.5\n"))
  }

  func testConcurrentAdvancesAreCounted() {
    let h = Harness()
    let bar = h.bar(terminal: false, total: 1000)
    // The bar calls the harness's clock and sink only under its own lock.
    DispatchQueue.concurrentPerform(iterations: 1000) { _ in bar.advance() }
    bar.finish()
    XCTAssertTrue(h.output.last?.contains(" 1000/1000 ") ?? false)
  }
}
