// GoldenTests.swift: the model against the PyTorch reference's golden fixtures
// (../shared/golden): two ACT training steps with losses, metrics, carries, every gradient
// and one AdamATan2 + sparse sign-SGD update, each tensor within its own tolerance
// (ReferenceCheck documents them).

import Foundation
import HRMTensor
import HRMTrain
import TestSupport
import XCTest

final class GoldenTests: XCTestCase {

  func testRopeStablemaxFixture() throws { try check("hrm-tiny-rope-stablemax") }
  func testLearnedSoftmaxFixture() throws { try check("hrm-tiny-learned-softmax") }

  func check(_ name: String) throws {
    let base = String(try requireShared("golden/\(name).json", what: "golden fixture").dropLast(".json".count))
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
