// main.swift: the `hrm` executable. User-caused failures (HRMError) print one line,
// `error: <message>`, and exit 1; argument errors get ArgumentParser's usage text.

import ArgumentParser
import Foundation
import HRMCLI
import HRMSupport

setvbuf(stdout, nil, _IOLBF, 0)  // line-buffered even when piped, so logs interleave correctly

do {
  var command = try HRMCommand.parseAsRoot()
  try command.run()
} catch let error as HRMError {
  FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
  exit(1)
} catch {
  HRMCommand.exit(withError: error)
}
