// SafeTensors.swift: read and write the safetensors format (8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then
// raw little-endian data). Used for checkpoints and the reference's golden fixtures.
// Dtypes handled: F32, BF16, I32, I64 (read as I32 when it fits), F64 (read as F32).

import Foundation
import HRMSupport

public struct SafeTensorsFile {
  public struct Entry {
    public let dtype: String
    public let shape: [Int]
    let start: Int
    let end: Int
  }

  public let path: String
  public let entries: [String: Entry]
  public let metadata: [String: String]
  let data: Data
  let dataStart: Int

  /// Names in file order (by data offset).
  public var names: [String] { entries.sorted { $0.value.start < $1.value.start }.map { $0.key } }

  /// Reads and validates a safetensors file (header, offsets, sizes).
  public init(path: String) throws {
    self.path = path
    guard let data = FileManager.default.contents(atPath: path) else {
      throw HRMError(file: path, "cannot read file")
    }
    guard data.count >= 8 else { throw HRMError(file: path, "too short for a safetensors header (\(data.count) bytes)") }
    var n: UInt64 = 0
    for i in 0..<8 { n |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
    guard n <= UInt64(data.count - 8) else {
      throw HRMError(file: path, "header length \(n) exceeds file size \(data.count) (truncated file?)")
    }
    let headerData = data.subdata(in: (data.startIndex + 8)..<(data.startIndex + 8 + Int(n)))
    guard let json = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
      throw HRMError(file: path, "header is not a JSON object")
    }
    var entries: [String: Entry] = [:]
    var metadata: [String: String] = [:]
    let dataLength = data.count - 8 - Int(n)
    for (key, value) in json {
      if key == "__metadata__" {
        if let m = value as? [String: Any] {
          for (k, v) in m { metadata[k] = (v as? String) ?? "\(v)" }
        }
        continue
      }
      guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
            let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2
      else { throw HRMError(file: path, "tensor '\(key)': malformed header entry") }
      let size: Int
      switch dtype {
      case "F32", "I32": size = 4
      case "BF16", "F16": size = 2
      case "I64", "F64": size = 8
      case "U8", "I8", "BOOL": size = 1
      default: throw HRMError(file: path, "tensor '\(key)': unsupported dtype \(dtype)")
      }
      let count = shape.reduce(1, *)
      guard offsets[0] >= 0, offsets[1] == offsets[0] + count * size, offsets[1] <= dataLength else {
        throw HRMError(file: path, "tensor '\(key)': data offsets \(offsets) do not fit shape \(shape) \(dtype) in \(dataLength) data bytes (truncated or corrupted file)")
      }
      entries[key] = Entry(dtype: dtype, shape: shape, start: offsets[0], end: offsets[1])
    }
    self.entries = entries
    self.metadata = metadata
    self.data = data
    self.dataStart = 8 + Int(n)
  }

  /// Values of a float or integer tensor as Float.
  public func floats(_ name: String) throws -> [Float] {
    guard let e = entries[name] else { throw HRMError(file: path, "no tensor named '\(name)'") }
    let count = e.shape.reduce(1, *)
    return data.withUnsafeBytes { raw -> [Float] in
      let base = raw.baseAddress!.advanced(by: dataStart + e.start)
      var out = [Float](repeating: 0, count: count)
      switch e.dtype {
      case "F32": for i in 0..<count { out[i] = Float(bitPattern: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian) }
      case "BF16": for i in 0..<count { out[i] = BF16.toFloat(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) }
      case "F64": for i in 0..<count { out[i] = Float(Double(bitPattern: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian)) }
      case "I32": for i in 0..<count { out[i] = Float(Int32(bitPattern: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian)) }
      case "I64": for i in 0..<count { out[i] = Float(Int64(bitPattern: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian)) }
      case "U8", "BOOL": for i in 0..<count { out[i] = Float(base.load(fromByteOffset: i, as: UInt8.self)) }
      case "I8": for i in 0..<count { out[i] = Float(base.load(fromByteOffset: i, as: Int8.self)) }
      default: break
      }
      return out
    }
  }

  /// Values of an integer tensor as Int32.
  public func ints(_ name: String) throws -> [Int32] {
    try floats(name).map { Int32($0) }
  }

  public func shape(_ name: String) throws -> [Int] {
    guard let e = entries[name] else { throw HRMError(file: path, "no tensor named '\(name)'") }
    return e.shape
  }
}

/// Writes a safetensors file atomically (temporary file, fsync, rename).
public enum SafeTensorsWriter {
  public struct Item {
    public let name: String
    public let dtype: String  // "F32", "BF16" or "I32"
    public let shape: [Int]
    public let bytes: [UInt8]
    public init(name: String, dtype: String, shape: [Int], bytes: [UInt8]) {
      self.name = name; self.dtype = dtype; self.shape = shape; self.bytes = bytes
    }
    public static func f32(_ name: String, shape: [Int], _ values: [Float]) -> Item {
      var b = [UInt8](); b.reserveCapacity(values.count * 4)
      for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { b.append(contentsOf: $0) } }
      return Item(name: name, dtype: "F32", shape: shape, bytes: b)
    }
    public static func bf16(_ name: String, shape: [Int], _ values: [Float]) -> Item {
      var b = [UInt8](); b.reserveCapacity(values.count * 2)
      for v in values { withUnsafeBytes(of: BF16.fromFloat(v).littleEndian) { b.append(contentsOf: $0) } }
      return Item(name: name, dtype: "BF16", shape: shape, bytes: b)
    }
    public static func i32(_ name: String, shape: [Int], _ values: [Int32]) -> Item {
      var b = [UInt8](); b.reserveCapacity(values.count * 4)
      for v in values { withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) } }
      return Item(name: name, dtype: "I32", shape: shape, bytes: b)
    }
  }

  public static func encode(_ items: [Item], metadata: [String: String] = [:]) -> Data {
    var header = "{"
    var parts: [String] = []
    if !metadata.isEmpty {
      let m = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
      parts.append("\"__metadata__\":{\(m.joined(separator: ","))}")
    }
    var offset = 0
    for item in items {
      let end = offset + item.bytes.count
      parts.append("\(jsonString(item.name)):{\"dtype\":\"\(item.dtype)\",\"shape\":[\(item.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}")
      offset = end
    }
    header += parts.joined(separator: ",") + "}"
    var headerBytes = Array(header.utf8)
    while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
    var out = Data()
    withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: headerBytes)
    for item in items { out.append(contentsOf: item.bytes) }
    return out
  }

  static func jsonString(_ s: String) -> String {
    var r = "\""
    for c in s.unicodeScalars {
      switch c {
      case "\"": r += "\\\""
      case "\\": r += "\\\\"
      case "\n": r += "\\n"
      default:
        if c.value < 0x20 { r += String(format: "\\u%04x", c.value) } else { r.unicodeScalars.append(c) }
      }
    }
    return r + "\""
  }
}
