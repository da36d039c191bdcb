// MetricsLog.swift: the run's metrics as JSON lines (metrics.jsonl), one object per train
// step or evaluation: {"step":N,"split":"train"|"eval", <metric>: <number>, ...}, metric
// keys sorted, numbers in Swift's shortest round-trip form (non-finite values as null).
// No wall-clock fields, so a resumed run's file equals an uninterrupted run's byte for byte.
// On resume the file is cut back to the lines the checkpoint had seen.

import Foundation
import HRMSupport

/// An append-only metrics.jsonl writer.
public final class MetricsLog {
  /// The file's path.
  public let path: String
  /// Complete lines written so far (the resume position).
  public private(set) var lines: Int
  private let handle: FileHandle

  /// Opens `path`: a fresh, empty file, or with `keepLines` the existing file cut back to
  /// its first `keepLines` lines (resume).
  public init(path: String, keepLines: Int? = nil) throws {
    self.path = path
    var kept = Data()
    var count = 0
    if let keep = keepLines, let old = FileManager.default.contents(atPath: path) {
      var end = old.startIndex
      while count < keep, let nl = old[end...].firstIndex(of: 0x0A) {
        end = old.index(after: nl)
        count += 1
      }
      kept = old[old.startIndex..<end]
    }
    try AtomicFile.write(kept, to: path)
    guard let h = FileHandle(forWritingAtPath: path) else { throw HRMError(file: path, "cannot open for appending") }
    h.seekToEndOfFile()
    handle = h
    lines = count
  }

  deinit { try? handle.close() }

  /// Appends one record.
  public func append(step: Int, split: String, values: [String: Double]) {
    handle.write(Data(MetricsLog.line(step: step, split: split, values: values).utf8))
    lines += 1
  }

  /// Pushes written lines to the disk.
  public func sync() { try? handle.synchronize() }

  /// One JSON line (with its newline).
  public static func line(step: Int, split: String, values: [String: Double]) -> String {
    var parts = ["\"step\":\(step)", "\"split\":\"\(split)\""]
    for (k, v) in values.sorted(by: { $0.key < $1.key }) {
      parts.append("\"\(k)\":\(v.isFinite ? "\(v)" : "null")")
    }
    return "{" + parts.joined(separator: ",") + "}\n"
  }

  /// Parses metrics.jsonl: records in file order (malformed lines are skipped).
  public static func read(path: String) throws -> [(step: Int, split: String, values: [String: Double])] {
    guard let data = FileManager.default.contents(atPath: path) else { throw HRMError(file: path, "cannot read file") }
    var out: [(Int, String, [String: Double])] = []
    for line in data.split(separator: 0x0A) where !line.isEmpty {
      guard let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
            let step = (obj["step"] as? NSNumber)?.intValue, let split = obj["split"] as? String else { continue }
      var values: [String: Double] = [:]
      for (k, v) in obj where k != "step" && k != "split" {
        if let n = v as? NSNumber { values[k] = n.doubleValue }
      }
      out.append((step, split, values))
    }
    return out
  }
}
