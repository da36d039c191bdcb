// TemporaryFolderTestCase.swift: a test case with a fresh temporary folder per test, removed
// afterwards (datasets, run folders, checkpoints the tests write).
// Compiled only where XCTest exists, so `swift build --static-swift-stdlib` (which builds every
// target, this one included, but has no static XCTest) still succeeds.

#if canImport(XCTest)
import Foundation
import XCTest

open class TemporaryFolderTestCase: XCTestCase {
  /// This test's empty folder.
  public var tmp: String!

  open override func setUp() {
    super.setUp()
    tmp = NSTemporaryDirectory() + "hrm-test-\(getpid())-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
  }

  open override func tearDown() {
    try? FileManager.default.removeItem(atPath: tmp)
    super.tearDown()
  }
}
#endif
