// Zip.swift: a small, read-only zip reader for PyTorch checkpoints (torch.save's zip
// container). Reads the central directory (zip64 included), checks each entry's CRC-32 and
// returns stored (uncompressed) entries, which is all torch.save writes. Deflated entries are
// refused with a clear message (Foundation on Linux has no zlib API). No encryption, no
// multi-disk archives.

import Foundation
import HRMSupport

/// A zip archive held in memory.
public struct ZipArchive {
  /// One central-directory entry.
  public struct Entry: Sendable {
    /// Path inside the archive.
    public let name: String
    /// Compression method: 0 = stored, 8 = deflate, ...
    public let method: UInt16
    /// CRC-32 of the uncompressed bytes.
    public let crc32: UInt32
    /// Bytes in the archive.
    public let compressedSize: Int
    /// Bytes after decompression.
    public let uncompressedSize: Int
    let localHeaderOffset: Int
  }

  /// The file the archive came from (for error messages).
  public let path: String
  /// Entries in central-directory order.
  public let entries: [Entry]
  let data: Data

  /// True when `data` starts like a zip file ("PK\u{3}\u{4}").
  public static func looksLikeZip(_ data: Data) -> Bool {
    data.count >= 4 && data.prefix(4).elementsEqual([0x50, 0x4B, 0x03, 0x04])
  }

  /// Reads the archive at `path`.
  public init(path: String) throws {
    guard let data = FileManager.default.contents(atPath: path) else { throw HRMError(file: path, "cannot read file") }
    try self.init(data: data, path: path)
  }

  /// Parses an archive from memory; `path` only names it in errors.
  public init(data: Data, path: String) throws {
    self.path = path
    self.data = data
    let bytes = [UInt8](data)
    func u16(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 }
    func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
    func u64(_ o: Int) -> Int { u32(o) | u32(o + 4) << 32 }
    func bad(_ why: String) -> HRMError { HRMError(file: path, "not a readable zip archive: \(why)") }

    // End of central directory: 22 bytes + comment (≤ 65535), searched from the end.
    guard bytes.count >= 22 else { throw bad("too short (\(bytes.count) bytes; truncated file?)") }
    var eocd = -1
    var i = bytes.count - 22
    while i >= max(0, bytes.count - 22 - 65535) {
      if bytes[i] == 0x50 && bytes[i + 1] == 0x4B && bytes[i + 2] == 0x05 && bytes[i + 3] == 0x06 { eocd = i; break }
      i -= 1
    }
    guard eocd >= 0 else { throw bad("no end-of-central-directory record (truncated file?)") }
    var count = u16(eocd + 10)
    var cdSize = u32(eocd + 12)
    var cdOffset = u32(eocd + 16)
    if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
      // Zip64: a locator sits right before the EOCD and points at the zip64 EOCD record.
      let loc = eocd - 20
      guard loc >= 0, u32(loc) == 0x0706_4B50 else { throw bad("zip64 locator missing") }
      let z = u64(loc + 8)
      guard z >= 0, z + 56 <= bytes.count, u32(z) == 0x0606_4B50 else { throw bad("zip64 end record missing") }
      count = u64(z + 32)
      cdSize = u64(z + 40)
      cdOffset = u64(z + 48)
    }
    guard cdOffset >= 0, cdSize >= 0, cdOffset + cdSize <= bytes.count else {
      throw bad("central directory outside the file (truncated file?)")
    }
    var entries: [Entry] = []
    var p = cdOffset
    for _ in 0..<count {
      guard p + 46 <= bytes.count, u32(p) == 0x0201_4B50 else { throw bad("malformed central directory entry") }
      let method = UInt16(u16(p + 10))
      let crc = UInt32(u32(p + 16))
      var csize = u32(p + 20)
      var usize = u32(p + 24)
      let nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32)
      var offset = u32(p + 42)
      guard p + 46 + nameLen + extraLen + commentLen <= bytes.count else { throw bad("central directory entry overruns the file") }
      let name = String(decoding: bytes[(p + 46)..<(p + 46 + nameLen)], as: UTF8.self)
      // Zip64 extra field (id 1): the 64-bit values of the fields saturated above, in order.
      var e = p + 46 + nameLen
      let extraEnd = e + extraLen
      while e + 4 <= extraEnd {
        let id = u16(e), size = u16(e + 2)
        let fieldEnd = min(e + 4 + size, extraEnd)
        if id == 1 {
          var q = e + 4
          if usize == 0xFFFF_FFFF, q + 8 <= fieldEnd { usize = u64(q); q += 8 }
          if csize == 0xFFFF_FFFF, q + 8 <= fieldEnd { csize = u64(q); q += 8 }
          if offset == 0xFFFF_FFFF, q + 8 <= fieldEnd { offset = u64(q); q += 8 }
        }
        e += 4 + size
      }
      entries.append(Entry(name: name, method: method, crc32: crc, compressedSize: csize, uncompressedSize: usize,
                           localHeaderOffset: offset))
      p += 46 + nameLen + extraLen + commentLen
    }
    self.entries = entries
  }

  /// The entry called `name`, if any.
  public func entry(_ name: String) -> Entry? { entries.first { $0.name == name } }

  /// The bytes of entry `name`, CRC-checked. Refuses compressed entries.
  public func read(_ name: String) throws -> Data {
    guard let e = entry(name) else { throw HRMError(file: path, "zip entry '\(name)' is missing") }
    return try read(e)
  }

  /// The bytes of `entry`, CRC-checked. Refuses compressed entries.
  public func read(_ e: Entry) throws -> Data {
    guard e.method == 0 else {
      throw HRMError(file: path, "zip entry '\(e.name)' is compressed (method \(e.method)); only stored entries are supported, as torch.save writes them (re-save it with torch.save, or unzip and re-zip with -0)")
    }
    let o = e.localHeaderOffset
    guard o >= 0, o + 30 <= data.count else { throw HRMError(file: path, "zip entry '\(e.name)': local header outside the file (truncated file?)") }
    let header = [UInt8](data[(data.startIndex + o)..<(data.startIndex + o + 30)])
    guard header[0] == 0x50, header[1] == 0x4B, header[2] == 0x03, header[3] == 0x04 else {
      throw HRMError(file: path, "zip entry '\(e.name)': bad local header (corrupted file)")
    }
    let nameLen = Int(header[26]) | Int(header[27]) << 8
    let extraLen = Int(header[28]) | Int(header[29]) << 8
    let start = o + 30 + nameLen + extraLen
    guard e.compressedSize == e.uncompressedSize, e.uncompressedSize >= 0, e.uncompressedSize <= data.count - start else {
      throw HRMError(file: path, "zip entry '\(e.name)': data outside the file (truncated file?)")
    }
    let body = data.subdata(in: (data.startIndex + start)..<(data.startIndex + start + e.uncompressedSize))
    let crc = Checksum.crc32(body)
    guard crc == e.crc32 else {
      throw HRMError(file: path, "zip entry '\(e.name)': CRC-32 mismatch (corrupted file)")
    }
    return body
  }
}
