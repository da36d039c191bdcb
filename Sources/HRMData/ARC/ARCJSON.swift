// ARCJSON.swift: a small JSON reader that keeps object keys in file order.
//
// The ARC builder needs the order of a task file's "train" and "test" keys (it decides the
// order of examples), which Foundation's JSON readers do not preserve. Supports the whole
// JSON grammar except that numbers are kept as Double (ARC files hold only small integers).
// Errors give the byte offset; the caller adds the file name.

import Foundation

/// A parsed JSON value; objects keep their keys in file order.
public indirect enum ARCJSONValue: Equatable, Sendable {
  /// An object: its members in file order.
  case object([(String, ARCJSONValue)])
  /// A list.
  case array([ARCJSONValue])
  /// A string (escapes decoded).
  case string(String)
  /// A number.
  case number(Double)
  /// `true` or `false`.
  case bool(Bool)
  /// `null`.
  case null

  /// Equality compares objects key by key in order.
  public static func == (a: ARCJSONValue, b: ARCJSONValue) -> Bool {
    switch (a, b) {
    case (.object(let x), .object(let y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    case (.array(let x), .array(let y)): return x == y
    case (.string(let x), .string(let y)): return x == y
    case (.number(let x), .number(let y)): return x == y
    case (.bool(let x), .bool(let y)): return x == y
    case (.null, .null): return true
    default: return false
    }
  }

  /// A short name of the value's type, for error messages.
  public var typeName: String {
    switch self {
    case .object: return "an object"
    case .array: return "a list"
    case .string: return "a string"
    case .number: return "a number"
    case .bool: return "a boolean"
    case .null: return "null"
    }
  }
}

/// Parses JSON text into `ARCJSONValue`.
public struct ARCJSONParser {
  /// Why parsing failed, with the byte offset.
  public struct Failure: Error, Equatable {
    /// One-line description.
    public let message: String
  }

  private let bytes: [UInt8]
  private var i = 0

  /// Parses a complete document (trailing whitespace allowed, nothing else).
  public static func parse(_ data: [UInt8]) throws -> ARCJSONValue {
    var p = ARCJSONParser(bytes: data)
    p.skipSpace()
    let v = try p.value(depth: 0)
    p.skipSpace()
    guard p.i == p.bytes.count else { throw p.fail("unexpected text after the JSON value") }
    return v
  }

  private init(bytes: [UInt8]) { self.bytes = bytes }

  private func fail(_ m: String) -> Failure { Failure(message: "invalid JSON at byte \(i): \(m)") }

  private mutating func skipSpace() {
    while i < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 }
  }

  private mutating func expect(_ word: String) throws {
    let w = Array(word.utf8)
    guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw fail("expected '\(word)'") }
    i += w.count
  }

  private mutating func value(depth: Int) throws -> ARCJSONValue {
    guard depth < 64 else { throw fail("nested too deeply") }
    guard i < bytes.count else { throw fail("unexpected end of file") }
    switch bytes[i] {
    case UInt8(ascii: "{"):
      i += 1
      var members: [(String, ARCJSONValue)] = []
      skipSpace()
      if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
      while true {
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a quoted key") }
        let key = try string()
        skipSpace()
        try expect(":")
        skipSpace()
        members.append((key, try value(depth: depth + 1)))
        skipSpace()
        guard i < bytes.count else { throw fail("unexpected end of file in an object") }
        if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
        if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
        throw fail("expected ',' or '}'")
      }
    case UInt8(ascii: "["):
      i += 1
      var items: [ARCJSONValue] = []
      skipSpace()
      if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
      while true {
        skipSpace()
        items.append(try value(depth: depth + 1))
        skipSpace()
        guard i < bytes.count else { throw fail("unexpected end of file in a list") }
        if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
        if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
        throw fail("expected ',' or ']'")
      }
    case UInt8(ascii: "\""):
      return .string(try string())
    case UInt8(ascii: "t"): try expect("true"); return .bool(true)
    case UInt8(ascii: "f"): try expect("false"); return .bool(false)
    case UInt8(ascii: "n"): try expect("null"); return .null
    default:
      return .number(try number())
    }
  }

  private mutating func number() throws -> Double {
    let start = i
    while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
    guard i > start, let text = String(bytes: bytes[start..<i], encoding: .ascii), let x = Double(text) else {
      i = start
      throw fail("expected a value")
    }
    return x
  }

  private mutating func string() throws -> String {
    i += 1  // opening quote
    var out = [UInt8]()
    while true {
      guard i < bytes.count else { throw fail("unterminated string") }
      let b = bytes[i]
      i += 1
      if b == UInt8(ascii: "\"") { break }
      if b != UInt8(ascii: "\\") { out.append(b); continue }
      guard i < bytes.count else { throw fail("unterminated string") }
      let e = bytes[i]
      i += 1
      switch e {
      case UInt8(ascii: "n"): out.append(0x0A)
      case UInt8(ascii: "t"): out.append(0x09)
      case UInt8(ascii: "r"): out.append(0x0D)
      case UInt8(ascii: "b"): out.append(0x08)
      case UInt8(ascii: "f"): out.append(0x0C)
      case UInt8(ascii: "u"):
        guard i + 4 <= bytes.count, let code = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16) else {
          throw fail("bad \\u escape")
        }
        i += 4
        out += Array(String(Unicode.Scalar(code).map(Character.init) ?? "\u{FFFD}").utf8)
      default: out.append(e)  // \" \\ \/
      }
    }
    return String(decoding: out, as: UTF8.self)
  }
}
