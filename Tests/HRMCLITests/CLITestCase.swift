// CLITestCase.swift: the base of the CLI tests: a fresh temporary folder per test, running
// `hrm` in process, and the check that bad input gives one clear HRMError line.

import ArgumentParser
import Foundation
import HRMCLI
import HRMSupport
import TestSupport
import XCTest

class CLITestCase: TemporaryFolderTestCase {
  /// Runs `hrm args...` in this process.
  func run(_ args: [String]) throws {
    var command = try HRMCommand.parseAsRoot(args)
    try command.run()
  }

  /// `hrm args...` must be refused while parsing (a usage error) with a message that contains
  /// every fragment.
  func assertUsageError(_ args: [String], mentions fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try HRMCommand.parseAsRoot(args), file: file, line: line) { error in
      let message = HRMCommand.message(for: error)
      for f in fragments { XCTAssertTrue(message.contains(f), "'\(f)' missing in: \(message)", file: file, line: line) }
    }
  }

  /// `hrm args...` must fail with one HRMError line that contains every fragment.
  func assertUserError(_ args: [String], mentions fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try run(args), file: file, line: line) { error in
      guard let e = error as? HRMError else { return XCTFail("not an HRMError: \(error)", file: file, line: line) }
      XCTAssertFalse(e.message.contains("\n"), "one line: \(e.message)", file: file, line: line)
      for f in fragments { XCTAssertTrue(e.message.contains(f), "'\(f)' missing in: \(e.message)", file: file, line: line) }
    }
  }
}
