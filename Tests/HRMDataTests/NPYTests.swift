// NPYTests.swift: byte-exact .npy headers, round trips of every dtype, and reader errors.

import Foundation
import HRMSupport
import XCTest

@testable import HRMData

final class NPYTests: XCTestCase {
  /// The spec's 128-byte example (Sudoku-1k puzzle_indices), built by hand from its description.
  func testHeaderMatchesSpecExampleByteForByte() {
    var expected: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00]
    expected += Array("{'descr': '<i4', 'fortran_order': False, 'shape': (1001001,), }".utf8)
    expected += [UInt8](repeating: 0x20, count: 54)
    expected.append(0x0A)
    XCTAssertEqual(expected.count, 128)
    XCTAssertEqual([UInt8](NPY.headerBytes(dtype: .int32, shape: [1_001_001])), expected)
  }

  /// Headers numpy 2.4 writes for other shapes (2-D, scalar, empty), checked with np.save.
  func testHeadersForOtherShapesMatchNumpy() {
    func header(_ dict: String, spaces: Int) -> [UInt8] {
      [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00] + Array(dict.utf8)
        + [UInt8](repeating: 0x20, count: spaces) + [0x0A]
    }
    // (2, 3) u1: 59-char dict + 20 growth spaces + 38 alignment spaces.
    XCTAssertEqual(
      [UInt8](NPY.headerBytes(dtype: .uint8, shape: [2, 3])),
      header("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", spaces: 58))
    // Scalar: no growth spaces.
    XCTAssertEqual(
      [UInt8](NPY.headerBytes(dtype: .int64, shape: [])),
      header("{'descr': '<i8', 'fortran_order': False, 'shape': (), }", spaces: 62))
    XCTAssertEqual(
      [UInt8](NPY.headerBytes(dtype: .float32, shape: [0])),
      header("{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", spaces: 60))
  }

  func testHeaderLengthIsAlwaysAMultipleOf64() {
    for dims in [[], [1], [12345678901], [3, 4, 5], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]] {
      for dtype in NPYDType.allCases {
        let h = NPY.headerBytes(dtype: dtype, shape: dims)
        XCTAssertEqual(h.count % 64, 0, "\(dims)")
        XCTAssertEqual(h.last, 0x0A)
      }
    }
  }

  func testRoundTripEveryDType() throws {
    let dir = try makeTempDir(self)
    let arrays: [NPYArray] = [
      NPYArray(uint8: [0, 1, 127, 128, 255, 9], shape: [2, 3]),
      NPYArray(int8: [-128, -1, 0, 1, 127], shape: [5]),
      NPYArray(int32: [Int32.min, -1, 0, 1, Int32.max, 42], shape: [3, 1, 2]),
      NPYArray(int64: [Int64.min, -5, 0, 1 << 40, Int64.max], shape: [5]),
      NPYArray(float32: [0, -1.5, .pi, .infinity, 1e-30, -0.0], shape: [6]),
      NPYArray(int32: [7], shape: []),
      NPYArray(uint8: [], shape: [0, 81]),
    ]
    for (k, a) in arrays.enumerated() {
      let path = (dir as NSString).appendingPathComponent("a\(k).npy")
      try NPY.write(a, to: path)
      let b = try NPY.read(path: path)
      XCTAssertEqual(a, b, "dtype \(a.dtype)")
      let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
      XCTAssertEqual(size, NPY.headerBytes(dtype: a.dtype, shape: a.shape).count + a.data.count)
    }
    XCTAssertEqual(try arrays[2].int32Values(file: "x"), [Int32.min, -1, 0, 1, Int32.max, 42])
    XCTAssertEqual(arrays[3].int64Values(), [Int64.min, -5, 0, 1 << 40, Int64.max])
    XCTAssertEqual(arrays[4].float32Values()?[2], .pi)
    XCTAssertEqual(try arrays[1].int32Values(file: "x"), [-128, -1, 0, 1, 127])
  }

  /// Data bytes are little-endian regardless of the host.
  func testDataLayoutIsLittleEndian() {
    let a = NPYArray(int32: [0x0102_0304], shape: [1])
    XCTAssertEqual([UInt8](a.data), [0x04, 0x03, 0x02, 0x01])
    XCTAssertEqual([UInt8](NPY.encode(a).suffix(4)), [0x04, 0x03, 0x02, 0x01])
  }

  private func file(header: String, version: UInt8 = 1, data: [UInt8]) -> Data {
    var out: [UInt8] = NPY.magic + [version, 0]
    let h = Array(header.utf8)
    if version == 1 {
      out += [UInt8(h.count & 0xFF), UInt8(h.count >> 8)]
    } else {
      out += [UInt8(h.count & 0xFF), UInt8((h.count >> 8) & 0xFF), 0, 0]
    }
    return Data(out + h + data)
  }

  func testReaderToleratesVersionsKeyOrderWhitespaceAndBigEndian() throws {
    // Version 2.0, other key order, no trailing comma, extra whitespace, Python 2 long.
    let v2 = file(
      header: "{ \"shape\" : ( 2 , 1L ) ,'fortran_order':False,'descr':'>i4' }\n", version: 2,
      data: [0, 0, 1, 2, 0xFF, 0xFF, 0xFF, 0xFE])
    let a = try NPY.decode(v2, file: "v2.npy")
    XCTAssertEqual(a.shape, [2, 1])
    XCTAssertEqual(a.dtype, .int32)
    XCTAssertEqual(try a.int32Values(file: "v2.npy"), [0x0102, -2])
    // Version 3.0 (UTF-8 header), big-endian int64 and float32.
    let v3 = file(
      header: "{'descr': '>i8', 'fortran_order': False, 'shape': (1,), }\n", version: 3,
      data: [0, 0, 0, 0, 0, 0, 1, 0])
    XCTAssertEqual(try NPY.decode(v3, file: "v3.npy").int64Values(), [256])
    let f = file(header: "{'descr': '>f4', 'fortran_order': False, 'shape': (1,)}", data: [0x3F, 0x80, 0, 0])
    XCTAssertEqual(try NPY.decode(f, file: "f.npy").float32Values(), [1.0])
  }

  func testReaderErrorsNameTheFile() {
    let good = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }\n"
    assertHRMError(["bad.npy", "bad magic"]) {
      _ = try NPY.decode(Data("PK\u{3}\u{4}not numpy at all".utf8), file: "bad.npy")
    }
    assertHRMError(["obj.npy", "object"]) {
      _ = try NPY.decode(file(header: "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", data: [0]), file: "obj.npy")
    }
    assertHRMError(["f.npy", "fortran_order"]) {
      _ = try NPY.decode(
        file(header: "{'descr': '<i4', 'fortran_order': True, 'shape': (2,), }", data: [UInt8](repeating: 0, count: 8)),
        file: "f.npy")
    }
    assertHRMError(["d.npy", "unsupported dtype '<c16'"]) {
      _ = try NPY.decode(file(header: "{'descr': '<c16', 'fortran_order': False, 'shape': (0,), }", data: []), file: "d.npy")
    }
    assertHRMError(["s.npy", "needs 8 bytes", "has 7"]) {
      _ = try NPY.decode(file(header: good, data: [UInt8](repeating: 0, count: 7)), file: "s.npy")
    }
    assertHRMError(["v.npy", "version 4.0"]) {
      _ = try NPY.decode(file(header: good, version: 4, data: []), file: "v.npy")
    }
    assertHRMError(["m.npy", "missing key 'shape'"]) {
      _ = try NPY.decode(file(header: "{'descr': '<i4', 'fortran_order': False}", data: []), file: "m.npy")
    }
    assertHRMError(["p.npy", "malformed"]) {
      _ = try NPY.decode(file(header: "{'descr': '<i4', 'fortran_order': False, 'shape': (2,", data: []), file: "p.npy")
    }
    assertHRMError(["/nonexistent/x.npy", "not found"]) { _ = try NPY.read(path: "/nonexistent/x.npy") }
  }

  func testInt64ValuesOutOfInt32RangeAreRejected() {
    let a = NPYArray(int64: [1, Int64(Int32.max) + 1], shape: [2])
    assertHRMError(["big.npy", "does not fit in int32"]) { _ = try a.int32Values(file: "big.npy") }
  }
}
