// NPY.swift: reader and writer for numpy's `.npy` array files (NEP 1).
//
// Reads format versions 1.0, 2.0 and 3.0 with a tolerant parser for the header's Python dict
// literal, and the dtypes the HRM datasets use: |u1, |i1, <i4, <i8, <f4 (big-endian `>`
// variants are byte-swapped on load). Writes version 1.0 (2.0 when the header is too long)
// with numpy's exact header text and padding, so files are byte-identical to `np.save`.
// Not supported: object/structured/string dtypes, Fortran order, memory mapping.

import Foundation
import HRMSupport

/// Element types this project reads and writes in `.npy` files.
public enum NPYDType: String, CaseIterable, Sendable {
  /// Unsigned 8-bit integer, `|u1`.
  case uint8 = "|u1"
  /// Signed 8-bit integer, `|i1`.
  case int8 = "|i1"
  /// Little-endian signed 32-bit integer, `<i4`.
  case int32 = "<i4"
  /// Little-endian signed 64-bit integer, `<i8`.
  case int64 = "<i8"
  /// Little-endian IEEE float32, `<f4`.
  case float32 = "<f4"

  /// Bytes per element.
  public var itemSize: Int {
    switch self {
    case .uint8, .int8: return 1
    case .int32, .float32: return 4
    case .int64: return 8
    }
  }

  /// Whether the type holds integers.
  public var isInteger: Bool { self != .float32 }

  /// Parses a numpy `descr` string; returns the type and whether the data is big-endian.
  ///
  /// Accepts the byte-order marks `<`, `>`, `|` and `=` (native, little-endian here).
  /// Returns nil for anything else (the caller names the file in its error).
  static func parse(descr: String) -> (NPYDType, bigEndian: Bool)? {
    guard let order = descr.first, "<>|=".contains(order) else {
      // numpy also accepts a bare kind code such as "u1" (native order).
      return descr.first.flatMap { "uif".contains($0) } == true ? parse(descr: "=" + descr) : nil
    }
    let code = String(descr.dropFirst())
    let big = order == ">"
    switch code {
    case "u1": return (.uint8, false)
    case "i1": return (.int8, false)
    case "i4": return order == "|" ? nil : (.int32, big)
    case "i8": return order == "|" ? nil : (.int64, big)
    case "f4": return order == "|" ? nil : (.float32, big)
    default: return nil
    }
  }
}

/// An n-dimensional array as stored in a `.npy` file: dtype, shape and little-endian bytes.
public struct NPYArray: Equatable, Sendable {
  /// Element type.
  public var dtype: NPYDType
  /// Dimensions in C (row-major) order; `[]` is a scalar.
  public var shape: [Int]
  /// Raw element bytes, little-endian, C order; exactly `count * dtype.itemSize` bytes.
  public var data: Data

  /// Number of elements (product of `shape`).
  public var count: Int { shape.reduce(1, *) }

  /// Wraps raw little-endian bytes; `data` must hold exactly `count * itemSize` bytes.
  public init(dtype: NPYDType, shape: [Int], data: Data) {
    precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in NPYArray shape")
    precondition(data.count == shape.reduce(1, *) * dtype.itemSize, "NPYArray data size does not match shape")
    self.dtype = dtype
    self.shape = shape
    self.data = data
  }

  /// An `|u1` array.
  public init(uint8 values: [UInt8], shape: [Int]) {
    self.init(dtype: .uint8, shape: shape, data: Data(values))
  }

  /// An `|i1` array.
  public init(int8 values: [Int8], shape: [Int]) {
    self.init(dtype: .int8, shape: shape, data: values.withUnsafeBytes { Data($0) })
  }

  /// An `<i4` array.
  public init(int32 values: [Int32], shape: [Int]) {
    self.init(dtype: .int32, shape: shape, data: NPYArray.littleEndianBytes(values.map { $0.littleEndian }))
  }

  /// An `<i8` array.
  public init(int64 values: [Int64], shape: [Int]) {
    self.init(dtype: .int64, shape: shape, data: NPYArray.littleEndianBytes(values.map { $0.littleEndian }))
  }

  /// An `<f4` array.
  public init(float32 values: [Float], shape: [Int]) {
    self.init(dtype: .float32, shape: shape, data: NPYArray.littleEndianBytes(values.map { $0.bitPattern.littleEndian }))
  }

  private static func littleEndianBytes<T>(_ values: [T]) -> Data {
    values.withUnsafeBytes { Data($0) }
  }

  /// The elements of an `|u1` array; nil for any other dtype.
  public func uint8Values() -> [UInt8]? {
    dtype == .uint8 ? [UInt8](data) : nil
  }

  /// The elements of an integer array as Int64 (any integer dtype); nil for floats.
  public func int64Values() -> [Int64]? {
    switch dtype {
    case .uint8: return data.map { Int64($0) }
    case .int8: return data.map { Int64(Int8(bitPattern: $0)) }
    case .int32: return loadLittleEndian(Int32.self).map { Int64($0) }
    case .int64: return loadLittleEndian(Int64.self)
    case .float32: return nil
    }
  }

  /// The elements of an integer array as Int32.
  ///
  /// Throws (naming `file`) for float arrays and for int64 values outside the Int32 range.
  public func int32Values(file: String) throws -> [Int32] {
    switch dtype {
    case .uint8: return data.map { Int32($0) }
    case .int8: return data.map { Int32(Int8(bitPattern: $0)) }
    case .int32: return loadLittleEndian(Int32.self)
    case .int64:
      let wide = loadLittleEndian(Int64.self)
      var out = [Int32](repeating: 0, count: wide.count)
      for i in wide.indices {
        guard let v = Int32(exactly: wide[i]) else {
          throw HRMError(file: file, "value \(wide[i]) at flat index \(i) does not fit in int32")
        }
        out[i] = v
      }
      return out
    case .float32:
      throw HRMError(file: file, "expected an integer array, found dtype \(dtype.rawValue)")
    }
  }

  /// The elements of an `<f4` array; nil for any other dtype.
  public func float32Values() -> [Float]? {
    dtype == .float32 ? loadLittleEndian(UInt32.self).map { Float(bitPattern: $0) } : nil
  }

  private func loadLittleEndian<T: FixedWidthInteger>(_: T.Type) -> [T] {
    let n = data.count / MemoryLayout<T>.size
    var out = [T](repeating: 0, count: n)
    out.withUnsafeMutableBytes { dst in _ = data.copyBytes(to: dst) }
    #if _endian(big)
    for i in 0..<n { out[i] = T(littleEndian: out[i]) }
    #endif
    return out
  }
}

/// Reading and writing `.npy` files.
public enum NPY {
  /// The six magic bytes every `.npy` file starts with: `\x93NUMPY`.
  public static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
  /// numpy aligns the start of the data to this many bytes.
  static let alignment = 64
  /// numpy leaves room for this many digits of the first dimension (`GROWTH_AXIS_MAX_DIGITS`).
  static let growthDigits = 21

  // MARK: - Reading

  /// Reads the `.npy` file at `path`; errors name the file.
  public static func read(path: String) throws -> NPYArray {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      let exists = FileManager.default.fileExists(atPath: path)
      throw HRMError(file: path, exists ? "cannot read file" : "file not found")
    }
    return try decode(data, file: path)
  }

  /// Decodes the bytes of a `.npy` file; `file` is only used in error messages.
  public static func decode(_ bytes: Data, file: String) throws -> NPYArray {
    let b = [UInt8](bytes.prefix(12))
    guard b.count >= 10, Array(b[0..<6]) == magic else {
      throw HRMError(file: file, "not a .npy file (bad magic bytes)")
    }
    let major = b[6]
    let minor = b[7]
    let headerLength: Int
    let headerStart: Int
    switch major {
    case 1:
      headerLength = Int(b[8]) | Int(b[9]) << 8
      headerStart = 10
    case 2, 3:
      guard b.count >= 12 else { throw HRMError(file: file, "truncated .npy header") }
      headerLength = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24
      headerStart = 12
    default:
      throw HRMError(file: file, "unsupported .npy format version \(major).\(minor) (expected 1.0, 2.0 or 3.0)")
    }
    guard minor == 0 else {
      throw HRMError(file: file, "unsupported .npy format version \(major).\(minor) (expected 1.0, 2.0 or 3.0)")
    }
    let dataStart = headerStart + headerLength
    guard bytes.count >= dataStart else { throw HRMError(file: file, "truncated .npy header") }
    let headerBytes = bytes.subdata(in: bytes.startIndex + headerStart..<bytes.startIndex + dataStart)
    guard let headerText = String(data: headerBytes, encoding: major == 3 ? .utf8 : .isoLatin1) else {
      throw HRMError(file: file, "the .npy header is not valid text")
    }
    let header = try parseHeader(headerText, file: file)

    guard let parsed = NPYDType.parse(descr: header.descr) else {
      if header.descr.contains("O") {
        throw HRMError(file: file, "object arrays (dtype '\(header.descr)') are not supported")
      }
      throw HRMError(
        file: file,
        "unsupported dtype '\(header.descr)' (expected one of |u1, |i1, <i4, <i8, <f4 or their > forms)")
    }
    let (dtype, bigEndian) = parsed
    if header.fortranOrder {
      throw HRMError(file: file, "fortran_order True is not supported; save the array in C order")
    }
    var count = 1
    for d in header.shape {
      let (m, overflow) = count.multipliedReportingOverflow(by: d)
      guard !overflow else { throw HRMError(file: file, "shape \(header.shape) is too large") }
      count = m
    }
    let expected = count * dtype.itemSize
    let available = bytes.count - dataStart
    guard available == expected else {
      throw HRMError(
        file: file,
        "data size mismatch: shape \(shapeText(header.shape)) of \(header.descr) needs \(expected) bytes, file has \(available)")
    }
    var payload = bytes.subdata(in: bytes.startIndex + dataStart..<bytes.endIndex)
    if bigEndian && dtype.itemSize > 1 {
      payload = byteSwapped(payload, itemSize: dtype.itemSize)
    }
    return NPYArray(dtype: dtype, shape: header.shape, data: payload)
  }

  /// The three header fields of a `.npy` file.
  struct Header: Equatable {
    var descr: String
    var fortranOrder: Bool
    var shape: [Int]
  }

  /// Parses the header dict literal, tolerating whitespace, key order and trailing commas.
  static func parseHeader(_ text: String, file: String) throws -> Header {
    var parser = PyLiteralParser(text: text)
    let value: PyLiteralParser.Value
    do {
      value = try parser.parseTopLevel()
    } catch let error as PyLiteralParser.Failure {
      throw HRMError(file: file, "malformed .npy header (\(error.reason)): \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
    guard case .dict(let entries) = value else {
      throw HRMError(file: file, "malformed .npy header (not a dict)")
    }
    var descr: String?
    var fortran: Bool?
    var shape: [Int]?
    for (key, v) in entries {
      switch (key, v) {
      case ("descr", .string(let s)): descr = s
      case ("descr", .list): throw HRMError(file: file, "structured dtypes are not supported")
      case ("fortran_order", .bool(let f)): fortran = f
      case ("shape", .tuple(let items)):
        shape = try items.map { item in
          guard case .int(let d) = item, d >= 0 else {
            throw HRMError(file: file, "malformed .npy header: shape entries must be non-negative integers")
          }
          return d
        }
      case ("descr", _), ("fortran_order", _), ("shape", _):
        throw HRMError(file: file, "malformed .npy header: key '\(key)' has the wrong type")
      default:
        throw HRMError(file: file, "malformed .npy header: unexpected key '\(key)'")
      }
    }
    guard let d = descr else { throw HRMError(file: file, "malformed .npy header: missing key 'descr'") }
    guard let f = fortran else { throw HRMError(file: file, "malformed .npy header: missing key 'fortran_order'") }
    guard let s = shape else { throw HRMError(file: file, "malformed .npy header: missing key 'shape'") }
    return Header(descr: d, fortranOrder: f, shape: s)
  }

  private static func byteSwapped(_ data: Data, itemSize: Int) -> Data {
    var bytes = [UInt8](data)
    var i = 0
    while i < bytes.count {
      bytes[i..<i + itemSize].reverse()
      i += itemSize
    }
    return Data(bytes)
  }

  // MARK: - Writing

  /// Python's `repr` of a shape tuple: `()`, `(5,)`, `(3, 4)`.
  static func shapeText(_ shape: [Int]) -> String {
    if shape.count == 1 { return "(\(shape[0]),)" }
    return "(" + shape.map(String.init).joined(separator: ", ") + ")"
  }

  /// The complete preamble numpy writes before the data: magic, version, length, padded header.
  public static func headerBytes(dtype: NPYDType, shape: [Int]) -> Data {
    var dict = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText(shape)), }"
    if let first = shape.first {
      dict += String(repeating: " ", count: max(0, growthDigits - String(first).count))
    }
    let text = Array(dict.utf8)
    for (version, lengthBytes) in [(UInt8(1), 2), (UInt8(2), 4)] {
      let unpadded = magic.count + 2 + lengthBytes + text.count + 1  // + 1 for the final newline
      let pad = alignment - unpadded % alignment
      let headerLength = text.count + pad + 1
      if lengthBytes == 2 && headerLength > 0xFFFF { continue }
      var out = magic + [version, 0]
      for k in 0..<lengthBytes { out.append(UInt8((headerLength >> (8 * k)) & 0xFF)) }
      out += text
      out += [UInt8](repeating: 0x20, count: pad)
      out.append(0x0A)
      return Data(out)
    }
    fatalError("unreachable: a version 2.0 header always fits")
  }

  /// The full bytes of a `.npy` file holding `array`.
  public static func encode(_ array: NPYArray) -> Data {
    var out = headerBytes(dtype: array.dtype, shape: array.shape)
    out.append(array.data)
    return out
  }

  /// Writes `array` to `path` (atomically: temporary file, fsync, rename).
  public static func write(_ array: NPYArray, to path: String) throws {
    try AtomicFile.write(encode(array), to: path)
  }
}

// MARK: - Python literal parser

/// A tiny parser for the subset of Python literals that appears in `.npy` headers:
/// dicts, tuples, lists, quoted strings, integers (optionally with an `L` suffix), True/False/None.
struct PyLiteralParser {
  /// Why parsing failed.
  struct Failure: Error {
    let reason: String
  }

  /// A parsed literal.
  indirect enum Value: Equatable {
    case dict([(String, Value)])
    case tuple([Value])
    case list([Value])
    case string(String)
    case int(Int)
    case bool(Bool)
    case none

    static func == (a: Value, b: Value) -> Bool {
      switch (a, b) {
      case (.dict(let x), .dict(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
      case (.tuple(let x), .tuple(let y)), (.list(let x), .list(let y)): return x == y
      case (.string(let x), .string(let y)): return x == y
      case (.int(let x), .int(let y)): return x == y
      case (.bool(let x), .bool(let y)): return x == y
      case (.none, .none): return true
      default: return false
      }
    }
  }

  private let chars: [Character]
  private var i = 0

  init(text: String) { chars = Array(text) }

  /// Parses one value followed only by whitespace.
  mutating func parseTopLevel() throws -> Value {
    let v = try parseValue()
    skipSpace()
    guard i == chars.count else { throw Failure(reason: "unexpected text after the dict") }
    return v
  }

  private mutating func skipSpace() {
    while i < chars.count, chars[i].isWhitespace { i += 1 }
  }

  private mutating func parseValue() throws -> Value {
    skipSpace()
    guard i < chars.count else { throw Failure(reason: "unexpected end") }
    let c = chars[i]
    switch c {
    case "{":
      i += 1
      var entries: [(String, Value)] = []
      while true {
        skipSpace()
        if i < chars.count, chars[i] == "}" { i += 1; return .dict(entries) }
        guard case .string(let key) = try parseValue() else { throw Failure(reason: "dict keys must be strings") }
        skipSpace()
        guard i < chars.count, chars[i] == ":" else { throw Failure(reason: "expected ':' after '\(key)'") }
        i += 1
        entries.append((key, try parseValue()))
        skipSpace()
        if i < chars.count, chars[i] == "," { i += 1; continue }
        skipSpace()
        guard i < chars.count, chars[i] == "}" else { throw Failure(reason: "expected ',' or '}'") }
      }
    case "(", "[":
      let close: Character = c == "(" ? ")" : "]"
      i += 1
      var items: [Value] = []
      while true {
        skipSpace()
        if i < chars.count, chars[i] == close { i += 1; return c == "(" ? .tuple(items) : .list(items) }
        items.append(try parseValue())
        skipSpace()
        if i < chars.count, chars[i] == "," { i += 1; continue }
        skipSpace()
        guard i < chars.count, chars[i] == close else { throw Failure(reason: "expected ',' or '\(close)'") }
      }
    case "'", "\"":
      i += 1
      var s = ""
      while i < chars.count, chars[i] != c {
        if chars[i] == "\\", i + 1 < chars.count { i += 1 }
        s.append(chars[i])
        i += 1
      }
      guard i < chars.count else { throw Failure(reason: "unterminated string") }
      i += 1
      return .string(s)
    default:
      var word = ""
      while i < chars.count, chars[i].isLetter || chars[i].isNumber || chars[i] == "-" || chars[i] == "+" || chars[i] == "_" {
        word.append(chars[i])
        i += 1
      }
      switch word {
      case "True": return .bool(true)
      case "False": return .bool(false)
      case "None": return .none
      default:
        let digits = word.hasSuffix("L") ? String(word.dropLast()) : word
        guard let n = Int(digits) else {
          throw Failure(reason: word.isEmpty ? "unexpected character '\(c)'" : "unexpected token '\(word)'")
        }
        return .int(n)
      }
    }
  }
}
