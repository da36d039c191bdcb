// AtomicFile.swift: crash-safe writes of single files and whole folders.
//
// A file is written to a temporary sibling, flushed with fsync, then renamed over the
// target, so readers see either the old file or the complete new one, never a torn one.
// A folder is built inside a temporary sibling folder and renamed into place when complete.
// This is not a locking mechanism: two writers racing on one path end with one of them winning.

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Crash-safe file and folder writing (write to a temporary sibling, fsync, rename).
public enum AtomicFile {
  /// Writes `data` to `path` atomically: temporary sibling file, fsync, rename, fsync of the folder.
  public static func write(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path
    let temp = uniqueSibling(of: path, tag: "tmp")
    try writeSynced(data, to: temp)
    if rename(temp, path) != 0 {
      let reason = String(cString: strerror(errno))
      unlink(temp)
      throw HRMError(file: path, "cannot move the finished file into place: \(reason)")
    }
    syncDirectory(dir)
  }

  /// Writes `text` as UTF-8 to `path` atomically (see `write(_:to:)`).
  public static func write(text: String, to path: String) throws {
    try write(Data(text.utf8), to: path)
  }

  /// Writes `data` to a new file at `path` (replacing any file there) and fsyncs it; not atomic.
  public static func writeSynced(_ data: Data, to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    if fd < 0 {
      throw HRMError(file: path, "cannot create file: \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
      guard var p = raw.baseAddress else { return }
      var left = raw.count
      while left > 0 {
        let n = posixWrite(fd, p, min(left, 1 << 30))
        if n < 0 {
          if errno == EINTR { continue }
          throw HRMError(file: path, "write failed: \(String(cString: strerror(errno)))")
        }
        left -= n
        p += n
      }
    }
    if fsync(fd) != 0 {
      throw HRMError(file: path, "fsync failed: \(String(cString: strerror(errno)))")
    }
  }

  /// Builds the folder at `path` atomically.
  ///
  /// `body` receives the path of an empty temporary sibling folder and fills it. When `body`
  /// returns, the temporary folder replaces `path` (an existing folder there is moved aside
  /// first and deleted afterwards). When `body` throws, the temporary folder is removed and
  /// `path` is left untouched.
  public static func writeDirectory(at path: String, _ body: (String) throws -> Void) throws {
    let fm = FileManager.default
    let target = URL(fileURLWithPath: path).standardizedFileURL.path
    let parent = URL(fileURLWithPath: target).deletingLastPathComponent().path
    do {
      try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
    } catch {
      throw HRMError(file: parent, "cannot create folder: \(error.localizedDescription)")
    }
    let temp = uniqueSibling(of: target, tag: "tmp")
    do {
      try fm.createDirectory(atPath: temp, withIntermediateDirectories: false)
    } catch {
      throw HRMError(file: temp, "cannot create temporary folder: \(error.localizedDescription)")
    }
    do {
      try body(temp)
      syncDirectory(temp)
    } catch {
      try? fm.removeItem(atPath: temp)
      throw error
    }

    var isDir: ObjCBool = false
    var old: String? = nil
    if fm.fileExists(atPath: target, isDirectory: &isDir) {
      guard isDir.boolValue else {
        try? fm.removeItem(atPath: temp)
        throw HRMError(file: target, "exists and is not a folder; remove it or choose another output path")
      }
      let aside = uniqueSibling(of: target, tag: "old")
      if rename(target, aside) != 0 {
        let reason = String(cString: strerror(errno))
        try? fm.removeItem(atPath: temp)
        throw HRMError(file: target, "cannot move the existing folder aside: \(reason)")
      }
      old = aside
    }
    if rename(temp, target) != 0 {
      let reason = String(cString: strerror(errno))
      if let old = old { rename(old, target) }
      try? fm.removeItem(atPath: temp)
      throw HRMError(file: target, "cannot move the finished folder into place: \(reason)")
    }
    syncDirectory(parent)
    if let old = old { try? fm.removeItem(atPath: old) }
  }

  // MARK: - Helpers

  /// A path next to `path` that does not exist yet: `.<name>.<tag>-<pid>-<n>`.
  private static func uniqueSibling(of path: String, tag: String) -> String {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path
    let name = url.lastPathComponent
    let pid = getpid()
    var n = 0
    while true {
      let candidate = (dir as NSString).appendingPathComponent(".\(name).\(tag)-\(pid)-\(n)")
      if !FileManager.default.fileExists(atPath: candidate) { return candidate }
      n += 1
    }
  }

  /// Flushes a folder's entries (new names, renames) to disk; best effort.
  private static func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY)
    if fd >= 0 {
      _ = fsync(fd)
      close(fd)
    }
  }
}

/// The C `write` function (the name is shadowed by `AtomicFile.write` inside the enum).
@inline(__always)
private func posixWrite(_ fd: Int32, _ buf: UnsafeRawPointer, _ count: Int) -> Int {
  #if canImport(Glibc)
  return Glibc.write(fd, buf, count)
  #elseif canImport(Musl)
  return Musl.write(fd, buf, count)
  #else
  return Darwin.write(fd, buf, count)
  #endif
}
