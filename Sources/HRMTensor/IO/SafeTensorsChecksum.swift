// SafeTensorsChecksum.swift: an integrity check for the safetensors files hrm writes.
//
// The writer stores the CRC-32C and length of the data section (everything after the JSON
// header) in the header metadata as `data_crc32c` (8 hex digits) and `data_bytes`. Readers
// verify both before using any tensor, so a truncated or bit-flipped checkpoint is refused
// with one line instead of being loaded half-way. Files without the keys (the reference's,
// other tools') are accepted unchecked.

import Foundation
import HRMSupport

extension SafeTensorsWriter {
  /// Metadata key holding the data section's CRC-32C.
  public static let checksumKey = "data_crc32c"
  /// Metadata key holding the data section's length in bytes.
  public static let lengthKey = "data_bytes"

  /// Encodes like `encode(_:metadata:)` and adds the data section's CRC-32C and length.
  public static func encodeWithChecksum(_ items: [Item], metadata: [String: String] = [:]) -> Data {
    encodeChecksummed(items, metadata: metadata).data
  }

  /// Encodes with the checksum keys and also returns the checksum (8 hex digits).
  public static func encodeChecksummed(_ items: [Item], metadata: [String: String] = [:]) -> (data: Data, crc32c: String) {
    var crc: UInt32 = 0
    var length = 0
    for item in items {
      crc = item.bytes.withUnsafeBytes { Checksum.crc32cTable.update(crc, $0) }
      length += item.bytes.count
    }
    var m = metadata
    m[checksumKey] = hex8(crc)
    m[lengthKey] = "\(length)"
    return (encode(items, metadata: m), hex8(crc))
  }

  static func hex8(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 8 - s.count) + s
  }
}

extension SafeTensorsFile {
  /// True when the file carries a data checksum.
  public var hasChecksum: Bool { metadata[SafeTensorsWriter.checksumKey] != nil }

  /// Checks the stored length and CRC-32C of the data section; files without them pass.
  /// Throws one line naming the file when the data is truncated, padded or altered.
  public func verifyChecksum() throws {
    guard let stored = metadata[SafeTensorsWriter.checksumKey] else { return }
    let dataBytes = data.count - dataStart
    if let lengthText = metadata[SafeTensorsWriter.lengthKey] {
      guard let expected = Int(lengthText) else {
        throw HRMError(file: path, "metadata \(SafeTensorsWriter.lengthKey)='\(lengthText)' is not a number (corrupted header); not loaded")
      }
      if expected != dataBytes {
        throw HRMError(file: path, "data section is \(dataBytes) bytes, the header says \(expected) (truncated or corrupted file); not loaded")
      }
    }
    let crc = data.withUnsafeBytes { raw in
      Checksum.crc32cTable.update(0, UnsafeRawBufferPointer(rebasing: raw[dataStart...]))
    }
    let computed = SafeTensorsWriter.hex8(crc)
    if computed != stored.lowercased() {
      throw HRMError(file: path, "data checksum mismatch (crc32c stored \(stored), computed \(computed)): the file is corrupted; not loaded")
    }
  }

  /// Raw little-endian bytes of a tensor (for bit-exact restores of any dtype).
  public func rawBytes(_ name: String) throws -> [UInt8] {
    guard let e = entries[name] else { throw HRMError(file: path, "no tensor named '\(name)'") }
    return Array(data[(data.startIndex + dataStart + e.start)..<(data.startIndex + dataStart + e.end)])
  }
}
