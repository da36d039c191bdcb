// TensorBoard.swift: scalar summaries in TensorBoard's event-file format, written by hand.
//
// A file `events.out.tfevents.<unix time>.<host>` is a sequence of records:
//   u64 LE data length, u32 LE masked CRC-32C of those 8 bytes, data, u32 LE masked CRC-32C
//   of the data (masked = rotate right 15, + 0xa282ead8).
// Each data block is a serialised tensorflow.Event protobuf:
//   1: wall_time (double, fixed64)  2: step (int64, varint)  3: file_version (string, first
//   record only: "brain.Event:2")  5: summary { 1: value { 1: tag (string), 2: simple_value (float) } }

import Foundation
import HRMSupport

#if canImport(Glibc)
import Glibc
#endif

/// Appends scalar events to one TensorBoard event file.
public final class TensorBoardWriter {
  /// The event file's path.
  public let path: String
  /// Bytes written (the resume position).
  public private(set) var bytes: Int
  private let handle: FileHandle

  /// A new event file in `directory` (starts with the file_version record), or with
  /// `resume` = (name, bytes) that file cut back to `bytes`.
  public init(directory: String, resume: (name: String, bytes: Int)? = nil) throws {
    if let r = resume, FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(r.name)) {
      path = (directory as NSString).appendingPathComponent(r.name)
      guard let h = FileHandle(forWritingAtPath: path) else { throw HRMError(file: path, "cannot open for appending") }
      let size = Int(h.seekToEndOfFile())
      let keep = min(size, r.bytes)
      h.truncateFile(atOffset: UInt64(keep))
      h.seekToEndOfFile()
      handle = h
      bytes = keep
      return
    }
    var host = [CChar](repeating: 0, count: 256)
    gethostname(&host, 255)
    let hostName = String(cString: host)
    let name = "events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(hostName.isEmpty ? "localhost" : hostName)"
    path = (directory as NSString).appendingPathComponent(name)
    guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
      throw HRMError(file: path, "cannot create the TensorBoard event file")
    }
    handle = h
    bytes = 0
    var event = ProtoWriter()
    event.double(1, Date().timeIntervalSince1970)
    event.string(3, "brain.Event:2")
    writeRecord(event.bytes)
  }

  deinit { try? handle.close() }

  /// The event file's name (for the resume position).
  public var fileName: String { (path as NSString).lastPathComponent }

  /// Appends one event with scalar `values` (tag → value) at `step`.
  public func add(step: Int, values: [(tag: String, value: Double)], wallTime: Double = Date().timeIntervalSince1970) {
    var summary = ProtoWriter()
    for (tag, value) in values {
      var v = ProtoWriter()
      v.string(1, tag)
      v.float(2, Float(value))
      summary.message(1, v.bytes)
    }
    var event = ProtoWriter()
    event.double(1, wallTime)
    event.varint(2, UInt64(bitPattern: Int64(step)))
    event.message(5, summary.bytes)
    writeRecord(event.bytes)
  }

  /// Pushes written events to the disk.
  public func sync() { try? handle.synchronize() }

  /// Frames `data` as one record: length, masked CRC of the length, data, masked CRC of the data.
  public static func record(_ data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    let length = le(UInt64(data.count))
    out += length
    out += le(Checksum.maskedCRC32C(length))
    out += data
    out += le(Checksum.maskedCRC32C(data))
    return out
  }

  private func writeRecord(_ data: [UInt8]) {
    let r = TensorBoardWriter.record(data)
    handle.write(Data(r))
    bytes += r.count
  }
}

private func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

/// A minimal protobuf encoder (the field types events need).
struct ProtoWriter {
  var bytes: [UInt8] = []

  mutating func key(_ field: Int, _ wireType: UInt8) { rawVarint(UInt64(field) << 3 | UInt64(wireType)) }

  mutating func rawVarint(_ v: UInt64) {
    var v = v
    while v >= 0x80 {
      bytes.append(UInt8(v & 0x7F) | 0x80)
      v >>= 7
    }
    bytes.append(UInt8(v))
  }

  mutating func varint(_ field: Int, _ v: UInt64) { key(field, 0); rawVarint(v) }
  mutating func double(_ field: Int, _ v: Double) { key(field, 1); bytes += le(v.bitPattern) }
  mutating func float(_ field: Int, _ v: Float) { key(field, 5); bytes += le(v.bitPattern) }
  mutating func message(_ field: Int, _ payload: [UInt8]) { key(field, 2); rawVarint(UInt64(payload.count)); bytes += payload }
  mutating func string(_ field: Int, _ s: String) { message(field, Array(s.utf8)) }
}
