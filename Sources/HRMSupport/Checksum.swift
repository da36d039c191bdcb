// Checksum.swift: table-driven CRC-32C (Castagnoli; checkpoint data sections and TensorBoard
// record framing) and CRC-32 (IEEE; zip entries). Slicing-by-8 tables, so multi-GB
// checkpoints are checked at memory speed rather than byte by byte.

/// A reflected CRC-32 with a given polynomial, computed eight bytes at a time.
public struct CRC32Table: Sendable {
  let tables: [[UInt32]]

  /// Builds the eight slicing tables for the reflected polynomial `poly`.
  public init(reflectedPolynomial poly: UInt32) {
    var t0 = [UInt32](repeating: 0, count: 256)
    for i in 0..<256 {
      var c = UInt32(i)
      for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ poly : c >> 1 }
      t0[i] = c
    }
    var all = [t0]
    for k in 1..<8 {
      var t = [UInt32](repeating: 0, count: 256)
      for i in 0..<256 { t[i] = (all[k - 1][i] >> 8) ^ t0[Int(all[k - 1][i] & 0xFF)] }
      all.append(t)
    }
    tables = all
  }

  /// Continues a CRC (`crc` = 0 to start) over `bytes`.
  public func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
    var c = ~crc
    guard let base = bytes.baseAddress else { return crc }
    let n = bytes.count
    var i = 0
    tables[0].withUnsafeBufferPointer { t0 in
    tables[1].withUnsafeBufferPointer { t1 in
    tables[2].withUnsafeBufferPointer { t2 in
    tables[3].withUnsafeBufferPointer { t3 in
    tables[4].withUnsafeBufferPointer { t4 in
    tables[5].withUnsafeBufferPointer { t5 in
    tables[6].withUnsafeBufferPointer { t6 in
    tables[7].withUnsafeBufferPointer { t7 in
      while i + 8 <= n {
        let lo = base.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian ^ c
        let hi = base.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self).littleEndian
        c = t7[Int(lo & 0xFF)] ^ t6[Int((lo >> 8) & 0xFF)] ^ t5[Int((lo >> 16) & 0xFF)] ^ t4[Int(lo >> 24)]
          ^ t3[Int(hi & 0xFF)] ^ t2[Int((hi >> 8) & 0xFF)] ^ t1[Int((hi >> 16) & 0xFF)] ^ t0[Int(hi >> 24)]
        i += 8
      }
      while i < n {
        c = (c >> 8) ^ t0[Int((c ^ UInt32(base.load(fromByteOffset: i, as: UInt8.self))) & 0xFF)]
        i += 1
      }
    }}}}}}}}
    return ~c
  }

  /// The CRC of `bytes`.
  public func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
    if let r = bytes.withContiguousStorageIfAvailable({ update(0, UnsafeRawBufferPointer($0)) }) { return r }
    return Array(bytes).withUnsafeBytes { update(0, $0) }
  }
}

/// The checksums the project uses.
public enum Checksum {
  /// CRC-32C (Castagnoli, reflected 0x82F63B78), as TensorBoard and checkpoints use it.
  public static let crc32cTable = CRC32Table(reflectedPolynomial: 0x82F6_3B78)
  /// CRC-32 (IEEE 802.3, reflected 0xEDB88320), as zip uses it.
  public static let crc32Table = CRC32Table(reflectedPolynomial: 0xEDB8_8320)

  /// CRC-32C of `bytes`.
  public static func crc32c<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 { crc32cTable.checksum(bytes) }

  /// CRC-32 (zip's) of `bytes`.
  public static func crc32<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 { crc32Table.checksum(bytes) }

  /// TensorBoard's masked CRC-32C: rotate right by 15 bits, add 0xa282ead8.
  public static func maskedCRC32C<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
    let c = crc32c(bytes)
    return ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
  }
}
