import XCTest

final class HRMTrainTestsPlaceholder: XCTestCase {
  func testNothingYet() { XCTAssertEqual(1 + 1, 2) }
}
