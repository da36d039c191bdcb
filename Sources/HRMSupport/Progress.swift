// Progress.swift: a small text progress bar for long-running CLI work.
//
// Renders `label [#####.....] 42% 420/1000 12.3 it/s ETA 0:47 <extra>` to stderr. On a
// terminal it redraws one line in place (carriage return), at most 10 times a second; when
// stderr is a file or pipe it prints a plain line every few seconds instead, so logs stay
// readable. It is thread-safe (workers of a concurrent loop may all report into one bar).
// It is not a logger: the training loop has its own metrics output.

import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A throttled, thread-safe progress bar printed to stderr.
public final class ProgressBar: @unchecked Sendable {
  /// Number of items the work consists of.
  public let total: Int
  /// Text printed before the bar.
  public let label: String

  private let isTerminal: Bool
  private let sink: (String) -> Void
  private let clock: () -> Double
  private let start: Double
  private let lock = NSLock()
  private var completed = 0
  private var extra = ""
  private var lastDraw = -Double.infinity
  private var finished = false

  /// Least time between two redraws on a terminal (seconds): at most 10 redraws a second.
  public static let terminalInterval = 0.1
  /// Least time between two plain lines when stderr is not a terminal (seconds).
  public static let plainInterval = 5.0

  /// Creates a bar for `total` items, drawing to stderr.
  ///
  /// - Parameters:
  ///   - total: number of items; 0 is allowed (the bar then shows 100%).
  ///   - label: text shown before the bar.
  ///   - isTerminal: overrides the TTY detection of stderr (tests).
  ///   - sink: receives the text that would be written to stderr (tests); nil writes to stderr.
  ///   - clock: monotonic time in seconds (tests); nil uses the system uptime clock.
  public init(
    total: Int, label: String, isTerminal: Bool? = nil,
    sink: ((String) -> Void)? = nil, clock: (() -> Double)? = nil
  ) {
    self.total = max(0, total)
    self.label = label
    self.isTerminal = isTerminal ?? (isatty(STDERR_FILENO) != 0)
    self.sink = sink ?? { text in FileHandle.standardError.write(Data(text.utf8)) }
    self.clock = clock ?? { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
    self.start = self.clock()
  }

  /// Records that `completed` items are done and redraws if the throttle allows.
  public func update(completed: Int, extra: String = "") {
    lock.lock()
    defer { lock.unlock() }
    self.completed = min(max(0, completed), total)
    self.extra = extra
    drawIfDue()
  }

  /// Adds `count` finished items (for concurrent workers that do not know the global count).
  public func advance(by count: Int = 1, extra: String? = nil) {
    lock.lock()
    defer { lock.unlock() }
    completed = min(completed + count, total)
    if let extra = extra { self.extra = extra }
    drawIfDue()
  }

  /// Draws the final state and ends the line; later calls do nothing.
  ///
  /// - Parameter completed: the final count, if the last `update` did not report it.
  public func finish(completed: Int? = nil, extra: String? = nil) {
    lock.lock()
    defer { lock.unlock() }
    if finished { return }
    finished = true
    if let completed = completed { self.completed = min(max(0, completed), total) }
    if let extra = extra { self.extra = extra }
    let line = currentLine()
    sink(isTerminal ? "\r" + line + "\u{1B}[K\n" : line + "\n")
  }

  /// Formats one bar line (no carriage return, no newline).
  ///
  /// - Parameters:
  ///   - elapsed: seconds since the bar started; sets the rate and the ETA.
  ///   - width: number of characters inside the brackets.
  public static func render(
    label: String, completed: Int, total: Int, elapsed: Double, width: Int = 30, extra: String = ""
  ) -> String {
    let fraction = total > 0 ? Double(completed) / Double(total) : 1
    let filled = min(width, max(0, Int(fraction * Double(width))))
    let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
    let percent = Int(fraction * 100)
    let rate = elapsed > 0 ? Double(completed) / elapsed : 0
    let eta: String
    if completed >= total {
      eta = "0:00"
    } else if rate > 0 {
      eta = formatDuration(Double(total - completed) / rate)
    } else {
      eta = "?:??"
    }
    var line = "\(label) [\(bar)] \(percent)% \(completed)/\(total) \(String(format: "%.1f", rate)) it/s ETA \(eta)"
    if !extra.isEmpty { line += " " + extra }
    return line
  }

  /// Formats seconds as `m:ss`, or `h:mm:ss` from one hour on.
  public static func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?:??" }
    let s = Int(seconds.rounded())
    let (h, m, sec) = (s / 3600, (s / 60) % 60, s % 60)
    let ss = sec < 10 ? "0\(sec)" : "\(sec)"
    if h > 0 {
      let mm = m < 10 ? "0\(m)" : "\(m)"
      return "\(h):\(mm):\(ss)"
    }
    return "\(m):\(ss)"
  }

  // MARK: - Drawing (lock held)

  private func currentLine() -> String {
    ProgressBar.render(
      label: label, completed: completed, total: total, elapsed: clock() - start, extra: extra)
  }

  private func drawIfDue() {
    if finished { return }
    let now = clock()
    let interval = isTerminal ? ProgressBar.terminalInterval : ProgressBar.plainInterval
    guard now - lastDraw >= interval else { return }
    lastDraw = now
    let line = currentLine()
    sink(isTerminal ? "\r" + line + "\u{1B}[K" : line + "\n")
  }
}
