import XCTest

final class HRMDataTestsPlaceholder: XCTestCase {
  func testNothingYet() { XCTAssertEqual(1 + 1, 2) }
}
