// HRMError.swift: the one error type users see.
//
// Every failure a user can cause (bad input file, unknown key, impossible config, missing
// GPU) becomes one line that names the file/line/key and says what to fix. The CLI prints
// `error: <message>` and exits non-zero.

public struct HRMError: Error, CustomStringConvertible, Equatable, Sendable {
  public let message: String

  public init(_ message: String) { self.message = message }

  /// An error located in a file, optionally at a line: "<file>:<line>: <message>".
  public init(file: String, line: Int? = nil, _ message: String) {
    if let line = line { self.message = "\(file):\(line): \(message)" } else { self.message = "\(file): \(message)" }
  }

  public var description: String { message }
}
