import XCTest

final class HRMModelTestsPlaceholder: XCTestCase {
  func testNothingYet() { XCTAssertEqual(1 + 1, 2) }
}
