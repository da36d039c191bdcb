// TokenMatrix.swift: an [E, S] matrix of token ids (the `inputs` / `labels` arrays).
//
// Stored compactly: one byte per token when every id fits in 0...255 (all HRM datasets),
// otherwise Int32. Rows are widened to Int32 only when a batch is collated, so a 1M-example
// Sudoku split costs 81 MB per array instead of 324 MB (or 648 MB as the reference's int64).

import Foundation
import HRMSupport

/// An [E, S] row-major matrix of token ids.
public struct TokenMatrix: Equatable, Sendable {
  /// Element storage.
  public enum Storage: Equatable, Sendable {
    /// One byte per token (written as `|u1`).
    case uint8([UInt8])
    /// Four bytes per token (written as `<i4`).
    case int32([Int32])
  }

  /// Number of rows (examples), E.
  public let rows: Int
  /// Number of columns (tokens per example), S.
  public let columns: Int
  /// The elements, `rows * columns` of them, row-major.
  public let storage: Storage

  /// A byte matrix; `values.count` must equal `rows * columns`.
  public init(rows: Int, columns: Int, uint8 values: [UInt8]) {
    precondition(rows >= 0 && columns >= 0 && values.count == rows * columns, "TokenMatrix size mismatch")
    self.rows = rows
    self.columns = columns
    self.storage = .uint8(values)
  }

  /// An Int32 matrix, stored as bytes when every value fits in 0...255.
  public init(rows: Int, columns: Int, int32 values: [Int32]) {
    precondition(rows >= 0 && columns >= 0 && values.count == rows * columns, "TokenMatrix size mismatch")
    self.rows = rows
    self.columns = columns
    if values.allSatisfy({ $0 >= 0 && $0 <= 255 }) {
      self.storage = .uint8(values.map { UInt8($0) })
    } else {
      self.storage = .int32(values)
    }
  }

  /// The token at (`row`, `column`).
  public subscript(row: Int, column: Int) -> Int32 {
    let i = row * columns + column
    switch storage {
    case .uint8(let v): return Int32(v[i])
    case .int32(let v): return v[i]
    }
  }

  /// Copies row `row` as Int32 into `buffer[offset ..< offset + columns]`.
  @inline(__always)
  public func copyRow(_ row: Int, into buffer: inout [Int32], at offset: Int) {
    let base = row * columns
    switch storage {
    case .uint8(let v):
      for j in 0..<columns { buffer[offset + j] = Int32(v[base + j]) }
    case .int32(let v):
      for j in 0..<columns { buffer[offset + j] = v[base + j] }
    }
  }

  /// Every element as Int32, row-major.
  public func int32Values() -> [Int32] {
    switch storage {
    case .uint8(let v): return v.map { Int32($0) }
    case .int32(let v): return v
    }
  }

  /// Smallest and largest element; nil when empty.
  public func range() -> (min: Int32, max: Int32)? {
    switch storage {
    case .uint8(let v):
      guard let lo = v.min(), let hi = v.max() else { return nil }
      return (Int32(lo), Int32(hi))
    case .int32(let v):
      guard let lo = v.min(), let hi = v.max() else { return nil }
      return (lo, hi)
    }
  }

  /// Flat index of the first element outside `allowed` (nil when all are inside).
  public func firstIndex(notIn allowed: (Int32) -> Bool) -> Int? {
    switch storage {
    case .uint8(let v):
      // Check the 256 possible byte values once instead of every element.
      var ok = [Bool](repeating: false, count: 256)
      for b in 0..<256 { ok[b] = allowed(Int32(b)) }
      return v.firstIndex { !ok[Int($0)] }
    case .int32(let v):
      return v.firstIndex { !allowed($0) }
    }
  }

  /// The matrix as an `.npy` array: `|u1` for byte storage, `<i4` otherwise.
  public func npyArray() -> NPYArray {
    switch storage {
    case .uint8(let v): return NPYArray(uint8: v, shape: [rows, columns])
    case .int32(let v): return NPYArray(int32: v, shape: [rows, columns])
    }
  }

  /// Converts a 2-D integer `.npy` array (|u1, |i1, <i4, <i8); errors name `file`.
  public init(npy array: NPYArray, file: String) throws {
    guard array.shape.count == 2 else {
      throw HRMError(file: file, "expected a 2-D [examples, seq_len] array, found shape \(NPY.shapeText(array.shape))")
    }
    guard array.dtype.isInteger else {
      throw HRMError(file: file, "expected integer tokens (|u1, <i4 or <i8), found dtype \(array.dtype.rawValue)")
    }
    let (r, c) = (array.shape[0], array.shape[1])
    if let bytes = array.uint8Values() {
      self.init(rows: r, columns: c, uint8: bytes)
    } else {
      self.init(rows: r, columns: c, int32: try array.int32Values(file: file))
    }
  }
}
