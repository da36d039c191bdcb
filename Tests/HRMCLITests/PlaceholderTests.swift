import XCTest

final class HRMCLITestsPlaceholder: XCTestCase {
  func testNothingYet() { XCTAssertEqual(1 + 1, 2) }
}
