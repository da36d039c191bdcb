// NPYRows.swift: row-by-row access to a large 2-D or 3-D integer `.npy` file without reading
// it whole (the file is memory-mapped and only the requested rows are copied), for the
// visualiser, which shows a few puzzles of datasets that can be gigabytes large.

import Foundation
import HRMSupport

/// A memory-mapped integer `.npy` array read one leading-index row at a time.
public struct NPYRows {
  /// Element type.
  public let dtype: NPYDType
  /// Array shape; `shape[0]` rows of `rowLength` elements.
  public let shape: [Int]
  /// Elements per row (product of the trailing dimensions).
  public let rowLength: Int
  private let data: Data
  private let dataStart: Int
  private let file: String

  /// Maps `path` and parses its header; errors name the file.
  public init(path: String) throws {
    file = path
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
    } catch {
      throw HRMError(file: path, FileManager.default.fileExists(atPath: path) ? "cannot read file" : "file not found")
    }
    let b = [UInt8](data.prefix(12))
    guard b.count >= 10, Array(b[0..<6]) == NPY.magic, [1, 2, 3].contains(b[6]) else {
      throw HRMError(file: path, "not a .npy file (bad magic bytes or version)")
    }
    let (length, start) = b[6] == 1 ? (Int(b[8]) | Int(b[9]) << 8, 10) : (Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24, 12)
    guard data.count >= start + length, let text = String(data: data.subdata(in: start..<start + length), encoding: .isoLatin1) else {
      throw HRMError(file: path, "truncated .npy header")
    }
    let header = try NPY.parseHeader(text, file: path)
    guard let (dtype, big) = NPYDType.parse(descr: header.descr), dtype.isInteger, !big || dtype.itemSize == 1 else {
      throw HRMError(file: path, "expected a little-endian integer array, found dtype '\(header.descr)'")
    }
    guard !header.fortranOrder, header.shape.count >= 1 else { throw HRMError(file: path, "expected a C-order array with at least one dimension") }
    self.dtype = dtype
    shape = header.shape
    rowLength = header.shape.dropFirst().reduce(1, *)
    dataStart = start + length
    guard data.count - dataStart == shape.reduce(1, *) * dtype.itemSize else {
      throw HRMError(file: path, "data size does not match shape \(NPY.shapeText(shape))")
    }
  }

  /// Number of rows.
  public var rows: Int { shape[0] }

  /// Row `i` as Int32 values.
  public func row(_ i: Int) -> [Int32] {
    precondition(i >= 0 && i < rows, "row out of range")
    return values(at: i * rowLength, count: rowLength)
  }

  /// `count` consecutive elements (row-major) starting at flat index `offset`, as Int32.
  public func values(at offset: Int, count: Int) -> [Int32] {
    precondition(offset >= 0 && count >= 0 && offset + count <= shape.reduce(1, *), "range out of bounds")
    let size = dtype.itemSize
    let start = dataStart + offset * size
    let bytes = [UInt8](data.subdata(in: start..<start + count * size))
    switch dtype {
    case .uint8: return bytes.map { Int32($0) }
    case .int8: return bytes.map { Int32(Int8(bitPattern: $0)) }
    case .int32:
      return (0..<count).map { k in
        Int32(bitPattern: UInt32(bytes[4 * k]) | UInt32(bytes[4 * k + 1]) << 8 | UInt32(bytes[4 * k + 2]) << 16 | UInt32(bytes[4 * k + 3]) << 24)
      }
    case .int64:
      return (0..<count).map { k in
        var v: UInt64 = 0
        for j in 0..<8 { v |= UInt64(bytes[8 * k + j]) << (8 * UInt64(j)) }
        return Int32(clamping: Int64(bitPattern: v))
      }
    case .float32: return []  // excluded in init
    }
  }
}
