// Rendezvous.swift: a small TCP rendezvous that hands rank 0's payload (the 128-byte NCCL
// unique id) to every other rank, so ranks on one node or several can build one NCCL
// communicator. Rank 0 listens on MASTER_PORT (all interfaces); the others connect to
// MASTER_ADDR:MASTER_PORT, retrying until the timeout, and say hello with their rank and the
// world size. Once all worldSize−1 ranks have said hello, rank 0 sends the payload to each.
// Every wait has a deadline: a rank that never joins makes the others fail with a one-line
// error naming the missing ranks (rank 0) or the unreachable address (the others).
//
// Wire format (big-endian u32s): hello = "HRMR", rank, worldSize; reply = length, payload.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import HRMSupport

/// Exchanges rank 0's payload with every rank over TCP.
public enum TCPRendezvous {
  static let magic: UInt32 = 0x4852_4D52  // "HRMR"

  /// Rank 0: waits for ranks 1 ..< worldSize on `port`, sends each `payload`, returns it.
  /// Other ranks: connects to `host:port`, returns rank 0's payload. Throws after `timeout` s.
  public static func exchange(rank: Int, worldSize: Int, host: String, port: Int, payload: [UInt8],
                              timeout: Double) throws -> [UInt8] {
    if worldSize <= 1 { return payload }
    let deadline = Date().addingTimeInterval(timeout)
    if rank == 0 { return try serve(worldSize: worldSize, port: port, payload: payload, deadline: deadline, timeout: timeout) }
    return try join(rank: rank, worldSize: worldSize, host: host, port: port, deadline: deadline, timeout: timeout)
  }

  // MARK: - Rank 0

  static func serve(worldSize: Int, port: Int, payload: [UInt8], deadline: Date, timeout: Double) throws -> [UInt8] {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard listener >= 0 else { throw HRMError("rendezvous: socket() failed: \(errnoText())") }
    defer { close(listener) }
    var one: Int32 = 1
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = INADDR_ANY
    let bound = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw HRMError("rendezvous: cannot listen on port \(port): \(errnoText()) (choose another MASTER_PORT)") }
    guard listen(listener, Int32(max(worldSize, 16))) == 0 else { throw HRMError("rendezvous: listen() failed: \(errnoText())") }
    var clients: [Int: Int32] = [:]
    defer { for fd in clients.values { close(fd) } }
    while clients.count < worldSize - 1 {
      guard try waitReadable(listener, deadline: deadline) else {
        let missing = (1..<worldSize).filter { clients[$0] == nil }
        throw HRMError("rendezvous timed out after \(format(timeout)) s: rank\(missing.count == 1 ? "" : "s") \(missing.map(String.init).joined(separator: ", ")) never joined on port \(port)")
      }
      let fd = accept(listener, nil, nil)
      if fd < 0 { continue }
      setNoSigPipe(fd)
      // A stray connection that does not say hello in time is dropped, not fatal.
      guard let hello = try? readExactly(fd, 12, deadline: min(deadline, Date().addingTimeInterval(5))),
            u32(hello, 0) == magic else { close(fd); continue }
      let r = Int(u32(hello, 4)), w = Int(u32(hello, 8))
      if w != worldSize {
        close(fd)
        throw HRMError("rendezvous: rank \(r) has WORLD_SIZE=\(w) but rank 0 has \(worldSize)")
      }
      if r < 1 || r >= worldSize || clients[r] != nil {
        close(fd)
        throw HRMError("rendezvous: rank \(r) joined twice or is outside [1, \(worldSize)) (check RANK of every process)")
      }
      clients[r] = fd
    }
    var reply = be32(UInt32(payload.count))
    reply += payload
    for (r, fd) in clients.sorted(by: { $0.key < $1.key }) {
      guard writeAll(fd, reply) else { throw HRMError("rendezvous: rank \(r) disconnected before receiving the id: \(errnoText())") }
    }
    return payload
  }

  // MARK: - Ranks 1 ..< worldSize

  static func join(rank: Int, worldSize: Int, host: String, port: Int, deadline: Date, timeout: Double) throws -> [UInt8] {
    var lastError = "no attempt"
    while Date() < deadline {
      let fd: Int32
      do { fd = try connectOnce(host: host, port: port) } catch let e as HRMError {
        lastError = e.message
        usleep(100_000)
        continue
      }
      defer { close(fd) }
      var hello = be32(magic)
      hello += be32(UInt32(rank))
      hello += be32(UInt32(worldSize))
      guard writeAll(fd, hello) else { lastError = errnoText(); usleep(100_000); continue }
      do {
        let header = try readExactly(fd, 4, deadline: deadline)
        let n = Int(u32(header, 0))
        guard n <= 1 << 20 else { throw HRMError("rendezvous: rank 0 at \(host):\(port) sent a bad reply") }
        return try readExactly(fd, n, deadline: deadline)
      } catch let e as HRMError where e.message == "timeout" {
        throw HRMError("rendezvous timed out after \(format(timeout)) s: rank \(rank) reached \(host):\(port) but rank 0 did not send the id (another rank never joined?)")
      } catch let e as HRMError where e.message == "closed" {
        throw HRMError("rendezvous: rank 0 at \(host):\(port) closed the connection before sending the id (it failed or timed out)")
      }
    }
    throw HRMError("rendezvous timed out after \(format(timeout)) s: rank \(rank) could not reach rank 0 at \(host):\(port) (\(lastError))")
  }

  static func connectOnce(host: String, port: Int) throws -> Int32 {
    var hints = addrinfo()
    hints.ai_family = AF_INET
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var result: UnsafeMutablePointer<addrinfo>?
    let rc = getaddrinfo(host, String(port), &hints, &result)
    guard rc == 0, let info = result else { throw HRMError("cannot resolve \(host): \(String(cString: gai_strerror(rc)))") }
    defer { freeaddrinfo(info) }
    let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
    guard fd >= 0 else { throw HRMError("socket() failed: \(errnoText())") }
    var tv = timeval(tv_sec: 2, tv_usec: 0)  // bounds a connect to an unreachable host
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setNoSigPipe(fd)
    if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) != 0 {
      let text = errnoText()
      close(fd)
      throw HRMError(text)
    }
    return fd
  }

  // MARK: - Socket helpers

  /// Waits until `fd` is readable; false at the deadline.
  static func waitReadable(_ fd: Int32, deadline: Date) throws -> Bool {
    while true {
      let left = deadline.timeIntervalSinceNow
      if left <= 0 { return false }
      var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      let rc = poll(&p, 1, Int32(min(left * 1000, 1000).rounded(.up)))
      if rc > 0 { return true }
      if rc < 0 && errno != EINTR { throw HRMError("rendezvous: poll() failed: \(errnoText())") }
    }
  }

  /// Reads `n` bytes; throws HRMError("timeout") or HRMError("closed").
  static func readExactly(_ fd: Int32, _ n: Int, deadline: Date) throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: n)
    var got = 0
    while got < n {
      guard try waitReadable(fd, deadline: deadline) else { throw HRMError("timeout") }
      let r = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, n - got, 0) }
      if r == 0 { throw HRMError("closed") }
      if r < 0 { if errno == EINTR { continue }; throw HRMError("closed") }
      got += r
    }
    return out
  }

  static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var sent = 0
    while sent < bytes.count {
      let r = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
      if r < 0 { if errno == EINTR { continue }; return false }
      sent += r
    }
    return true
  }

  static func setNoSigPipe(_ fd: Int32) {
    #if canImport(Darwin)
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
    #endif
  }

  static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
  static func u32(_ b: [UInt8], _ at: Int) -> UInt32 {
    UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
  }
  static func errnoText() -> String { String(cString: strerror(errno)) }
  static func format(_ t: Double) -> String { t == t.rounded() ? String(Int(t)) : String(format: "%.1f", t) }
}
