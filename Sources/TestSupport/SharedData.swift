// SharedData.swift: where the tests find the read-only shared data and golden fixtures
// (`<package root>/../shared/...`, never committed), and the skip where it is not checked out.
// Compiled only where XCTest exists (see TemporaryFolderTestCase.swift).

#if canImport(XCTest)
import Foundation
import XCTest

/// `<package root>/../shared/<relative>`, e.g. "data/sudoku/norvig_top95.csv" or "golden".
public func sharedPath(_ relative: String) -> String {
  // <root>/Sources/TestSupport/SharedData.swift -> <root>/../shared
  let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  return root.deletingLastPathComponent().appendingPathComponent("shared").appendingPathComponent(relative).path
}

/// `sharedPath(relative)` when that file or folder exists, else a skip naming the path.
public func requireShared(_ relative: String, what: String = "shared data") throws -> String {
  let path = sharedPath(relative)
  guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("\(what) not found at \(path)") }
  return path
}
#endif
