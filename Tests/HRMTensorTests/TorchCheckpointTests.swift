// TorchCheckpointTests.swift: PyTorch checkpoint import without code execution: the
// reference-layout fixture (Dev/make-torch-fixture.py) reads back value for value, views
// included; a pickle that calls os.system, other disallowed globals and object-building
// opcodes are refused naming the culprit; damaged or compressed zip entries are refused;
// the CRC tables match the standard check values.

import Foundation
import HRMSupport
import HRMTensor
import XCTest

final class TorchCheckpointTests: XCTestCase {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/torch").path

  /// The fixture's element formula (see Dev/make-torch-fixture.py).
  func value(_ k: Int, _ i: Int) -> Float { Float(((i * 7 + k * 13) % 29) - 14) / 64 }

  func assertRefused(_ body: () throws -> Void, mentions fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
      guard let e = error as? HRMError else { return XCTFail("not an HRMError: \(error)", file: file, line: line) }
      XCTAssertFalse(e.message.contains("\n"), "one line: \(e.message)", file: file, line: line)
      for f in fragments { XCTAssertTrue(e.message.contains(f), "'\(f)' missing in: \(e.message)", file: file, line: line) }
    }
  }

  func testChecksumCheckValues() {
    let check = Array("123456789".utf8)
    XCTAssertEqual(Checksum.crc32c(check), 0xE306_9283)
    XCTAssertEqual(Checksum.crc32(check), 0xCBF4_3926)
    // Slicing-by-8 agrees with the bytewise path on odd lengths.
    let long = (0..<1003).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    var bitwise: UInt32 = 0xFFFF_FFFF
    for b in long {
      bitwise ^= UInt32(b)
      for _ in 0..<8 { bitwise = (bitwise & 1) != 0 ? (bitwise >> 1) ^ 0x82F6_3B78 : bitwise >> 1 }
    }
    XCTAssertEqual(Checksum.crc32c(long), ~bitwise)
  }

  func testImportsReferenceLayoutStateDict() throws {
    let ckpt = try TorchCheckpoint(path: TorchCheckpointTests.fixtures + "/tiny_state_dict.pt")
    XCTAssertEqual(ckpt.names.count, 15, "7 top-level tensors + 4 per layer x 2 levels")
    XCTAssertEqual(ckpt.names.first, "_orig_mod.model.inner.H_init", "state-dict order is kept")
    XCTAssertEqual(ckpt.names.last, "_orig_mod.model.inner.L_level.layers.0.mlp.down_proj.weight")
    for (k, name) in ckpt.names.enumerated() {
      let t = try XCTUnwrap(ckpt.tensors[name])
      XCTAssertEqual(t.values.count, t.shape.reduce(1, *), name)
      for i in 0..<t.values.count where t.values[i] != value(k, i) {
        return XCTFail("\(name)[\(i)] = \(t.values[i]), expected \(value(k, i))")
      }
    }
    XCTAssertEqual(ckpt.tensors["_orig_mod.model.inner.H_init"]?.dtype, "BF16")
    XCTAssertEqual(ckpt.tensors["_orig_mod.model.inner.lm_head.weight"]?.shape, [11, 8], "transposed storage read as [11, 8]")
    XCTAssertEqual(ckpt.tensors["_orig_mod.model.inner.q_head.bias"]?.values, [value(5, 0), value(5, 1)], "view at offset 2")
    XCTAssertEqual(ckpt.tensors["_orig_mod.model.inner.L_level.layers.0.mlp.gate_up_proj.weight"]?.shape, [512, 8])
    let items = ckpt.safeTensorsItems()
    XCTAssertEqual(items.first?.name, "model.inner.H_init", "_orig_mod. stripped")
    XCTAssertEqual(items.first?.dtype, "BF16")
  }

  func testRefusesPickleThatCallsOSSystem() {
    assertRefused({ _ = try TorchCheckpoint(path: TorchCheckpointTests.fixtures + "/evil.pt") },
                  mentions: ["evil.pt", "posix.system", "not allowed"])
  }

  func testRefusesOtherGlobalsAndObjectOpcodes() {
    // Protocol 4: STACK_GLOBAL builtins.eval, then a call.
    var p: [UInt8] = [0x80, 0x04, 0x8C, 8] + Array("builtins".utf8) + [0x8C, 4] + Array("eval".utf8) + [0x93]
    p += [0x8C, 4] + Array("1+1 ".utf8) + [0x85, 0x52, 0x2E]
    assertRefused({ _ = try RestrictedUnpickler(Data(p), source: "eval.pkl").load() }, mentions: ["builtins.eval", "eval.pkl"])
    // An allowed global may still not be called with arbitrary arguments.
    let od: [UInt8] = [0x80, 0x02] + Array("ccollections\nOrderedDict\n".utf8) + [0x4B, 1, 0x85, 0x52, 0x2E]
    assertRefused({ _ = try RestrictedUnpickler(Data(od), source: "od.pkl").load() }, mentions: ["OrderedDict with arguments"])
    // INST builds an object from a class name without a GLOBAL.
    let inst: [UInt8] = [0x28] + Array("ios\nsystem\n".utf8) + [0x2E]
    assertRefused({ _ = try RestrictedUnpickler(Data(inst), source: "inst.pkl").load() }, mentions: ["0x69", "arbitrary objects"])
    // Truncated pickles fail cleanly.
    assertRefused({ _ = try RestrictedUnpickler(Data([0x80, 0x02, 0x58, 9, 0, 0, 0]), source: "t.pkl").load() },
                  mentions: ["truncated"])
  }

  func testRefusesDamagedAndCompressedZips() throws {
    let path = TorchCheckpointTests.fixtures + "/tiny_state_dict.pt"
    var data = try XCTUnwrap(FileManager.default.contents(atPath: path))
    let tmp = NSTemporaryDirectory() + "hrm-torch-\(getpid())-\(UUID().uuidString).pt"
    defer { try? FileManager.default.removeItem(atPath: tmp) }
    // A flipped bit inside a storage entry: the entry's CRC-32 no longer matches.
    data[data.startIndex + 4000] ^= 0x10
    try data.write(to: URL(fileURLWithPath: tmp))
    assertRefused({ _ = try TorchCheckpoint(path: tmp) }, mentions: ["CRC-32 mismatch"])
    // Truncation loses the central directory.
    try Data(data.prefix(data.count / 2)).write(to: URL(fileURLWithPath: tmp))
    assertRefused({ _ = try TorchCheckpoint(path: tmp) }, mentions: ["truncated"])
    // A deflated entry (built by hand) is refused, not misread.
    try makeZip(name: "archive/data.pkl", method: 8, body: [0x03, 0x00]).write(to: URL(fileURLWithPath: tmp))
    assertRefused({ _ = try TorchCheckpoint(path: tmp) }, mentions: ["archive/data.pkl", "compressed", "stored"])
  }

  func testMutatedFilesNeverCrashTheReaders() throws {
    // Random byte changes in the zip structures and in the pickle itself: every variant must
    // either load or throw an HRMError, never trap.
    let good = try XCTUnwrap(FileManager.default.contents(atPath: TorchCheckpointTests.fixtures + "/tiny_state_dict.pt"))
    let pickle = try ZipArchive(data: good, path: "fixture").read("archive/data.pkl")
    var rng = HRMRandom(seed: 99)
    let tmp = NSTemporaryDirectory() + "hrm-fuzz-\(getpid())-\(UUID().uuidString).pt"
    defer { try? FileManager.default.removeItem(atPath: tmp) }
    var refused = 0
    for round in 0..<300 {
      var p = pickle
      for _ in 0..<rng.int(1, 3) { p[p.startIndex + rng.int(0, p.count - 1)] = UInt8(truncatingIfNeeded: rng.next()) }
      if round % 3 == 0 { p = p.prefix(rng.int(0, p.count)) }
      do { _ = try RestrictedUnpickler(p, source: "fuzz.pkl").load() } catch is HRMError { refused += 1 }
      var z = good
      let region = rng.int(0, 1) == 0 ? rng.int(0, 200) : z.count - 1 - rng.int(0, 1500)
      z[z.startIndex + region] = UInt8(truncatingIfNeeded: rng.next())
      try z.write(to: URL(fileURLWithPath: tmp))
      do { _ = try TorchCheckpoint(path: tmp) } catch is HRMError { refused += 1 }
    }
    XCTAssertGreaterThan(refused, 100, "most mutations are detected")
  }

  /// A one-entry zip (no zip64) whose entry claims `method`.
  func makeZip(name: String, method: UInt16, body: [UInt8]) -> Data {
    func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
    func le32(_ v: Int) -> [UInt8] { le16(v & 0xFFFF) + le16(v >> 16 & 0xFFFF) }
    let n = Array(name.utf8)
    let crc = Int(Checksum.crc32(body))
    var out: [UInt8] = [0x50, 0x4B, 0x03, 0x04] + le16(20) + le16(0) + le16(Int(method)) + le16(0) + le16(0)
    out += le32(crc) + le32(body.count) + le32(body.count * 3) + le16(n.count) + le16(0) + n + body
    let cd = out.count
    out += [0x50, 0x4B, 0x01, 0x02] + le16(20) + le16(20) + le16(0) + le16(Int(method)) + le16(0) + le16(0)
    out += le32(crc) + le32(body.count) + le32(body.count * 3) + le16(n.count) + le16(0) + le16(0) + le16(0) + le16(0)
    out += le32(0) + le32(0) + n
    let cdSize = out.count - cd
    out += [0x50, 0x4B, 0x05, 0x06] + le16(0) + le16(0) + le16(1) + le16(1) + le32(cdSize) + le32(cd) + le16(0)
    return Data(out)
  }
}
