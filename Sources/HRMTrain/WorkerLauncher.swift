// WorkerLauncher.swift: `hrm train ... gpus=N` as its own torchrun. Starts N child processes
// of the same binary with the same arguments and RANK / WORLD_SIZE / LOCAL_RANK /
// MASTER_ADDR=127.0.0.1 / MASTER_PORT (a free port) / NCCL_NVLS_ENABLE=0 set, waits for them,
// and forwards the outcome: the first child to fail has the others terminated (SIGTERM, then
// SIGKILL after a grace period) and its exit status becomes the launcher's. SIGINT/SIGTERM
// sent to the launcher alone (a scheduler, `kill PID`) stop the workers the same way.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import HRMSupport

/// Starts and supervises the worker processes of a single-node data-parallel run.
public enum WorkerLauncher {
  /// How a supervised run ended.
  public struct Outcome: Equatable, Sendable {
    /// The launcher's exit status: 0, or the first failing worker's status (128+signal if killed).
    public var status: Int32
    /// The rank that failed first (nil when all succeeded).
    public var failedRank: Int?
    /// An outcome.
    public init(status: Int32, failedRank: Int?) {
      self.status = status
      self.failedRank = failedRank
    }
  }

  /// Runs `count` copies of `executable arguments`, rank r with `environment` plus the
  /// distributed variables, and waits. When one fails, the others are stopped within
  /// `grace` seconds and its status is returned. `notice` receives one line about the failure.
  /// With `forwardSignals`, SIGINT/SIGTERM to this process stop the workers and give 128+signal.
  public static func run(executable: String, arguments: [String], count: Int, environment: [String: String],
                         masterPort: Int? = nil, grace: Double = 5, forwardSignals: Bool = true,
                         notice: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) throws -> Outcome {
    guard count >= 1 else { throw HRMError("gpus=\(count): must be at least 1") }
    let port = try masterPort ?? freePort()
    var children: [Process] = []
    func stopAll() {
      for c in children where c.isRunning { kill(c.processIdentifier, SIGTERM) }
      let deadline = Date().addingTimeInterval(grace)
      while children.contains(where: { $0.isRunning }) && Date() < deadline { usleep(20_000) }
      for c in children where c.isRunning { kill(c.processIdentifier, SIGKILL) }
      for c in children { c.waitUntilExit() }
    }
    for rank in 0..<count {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: executable)
      p.arguments = arguments
      p.environment = environment.merging(
        DistributedEnvironment.childEnvironment(rank: rank, worldSize: count, masterAddr: "127.0.0.1", masterPort: port)) { _, new in new }
      do { try p.run() } catch {
        stopAll()
        throw HRMError("cannot start worker \(rank) (\(executable)): \(error.localizedDescription)")
      }
      children.append(p)
    }
    var previous: [(Int32, (@convention(c) (Int32) -> Void)?)] = []
    if forwardSignals {
      launcherCaughtSignal = 0
      for sig in [SIGINT, SIGTERM] { previous.append((sig, signal(sig, launcherSignalHandler))) }
    }
    defer { for (sig, handler) in previous { signal(sig, handler) } }
    while true {
      if forwardSignals, launcherCaughtSignal != 0 {
        let sig = launcherCaughtSignal
        notice("hrm train: got signal \(sig); stopping the \(count) workers")
        stopAll()
        return Outcome(status: 128 + sig, failedRank: nil)
      }
      var allDone = true
      for (rank, c) in children.enumerated() {
        if c.isRunning { allDone = false; continue }
        let status = c.terminationReason == .uncaughtSignal ? 128 + c.terminationStatus : c.terminationStatus
        if status != 0 {
          let how = c.terminationReason == .uncaughtSignal ? "was killed by signal \(c.terminationStatus)" : "exited with status \(status)"
          notice("hrm train: worker \(rank) of \(count) \(how); stopping the others")
          stopAll()
          return Outcome(status: status, failedRank: rank)
        }
      }
      if allDone { return Outcome(status: 0, failedRank: nil) }
      usleep(50_000)
    }
  }

  /// A TCP port on 127.0.0.1 that is free right now (the kernel's choice).
  public static func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HRMError("cannot pick a free port: socket() failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) { ptr -> Bool in
      ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
      }
    }
    guard ok else { throw HRMError("cannot pick a free port: \(String(cString: strerror(errno)))") }
    return Int(UInt16(bigEndian: addr.sin_port))
  }
}

/// The signal the launcher caught (0: none); written only by `launcherSignalHandler`.
nonisolated(unsafe) var launcherCaughtSignal: Int32 = 0

/// Records SIGINT/SIGTERM for the launcher's supervision loop (async-signal-safe: one store).
let launcherSignalHandler: @convention(c) (Int32) -> Void = { launcherCaughtSignal = $0 }
