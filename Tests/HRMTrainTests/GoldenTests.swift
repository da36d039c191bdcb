// GoldenTests.swift: the model against the PyTorch reference's golden fixtures
// (../shared/golden): two ACT training steps with losses, metrics, carries, every gradient
// and one AdamATan2 + sparse sign-SGD update, each tensor within its own tolerance
// (ReferenceCheck documents them).

import Foundation
import HRMTensor
import HRMTrain
import XCTest

final class GoldenTests: XCTestCase {
  static let goldenDir = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("shared/golden")

  func testRopeStablemaxFixture() throws { try check("hrm-tiny-rope-stablemax") }
  func testLearnedSoftmaxFixture() throws { try check("hrm-tiny-learned-softmax") }

  func check(_ name: String) throws {
    let base = GoldenTests.goldenDir.appendingPathComponent(name).path
    guard FileManager.default.fileExists(atPath: base + ".json") else { throw XCTSkip("golden fixture \(base) not present") }
    let rows = try ReferenceCheck.run(fixture: base, backend: CPUBackend.shared)
    // Every output, gradient and updated tensor of the fixture is compared.
    let file = try SafeTensorsFile(path: base + ".safetensors")
    let expected = Set(file.names.filter { !$0.hasPrefix("init.") && !$0.hasPrefix("input.") })
    XCTAssertEqual(expected.subtracting(rows.map(\.name)), [], "fixture tensors left unchecked")
    XCTAssertTrue(rows.contains { $0.name.hasPrefix("grad.") } && rows.contains { $0.name.hasPrefix("after.") })
    for row in rows where !row.passed {
      XCTFail("\(name) \(row.name): error \(row.error) > tolerance \(row.tolerance)")
    }
  }
}
