// Distributed.swift: what a training process learns about its place in a data-parallel job
// from the environment torchrun (or `hrm train gpus=N`) sets: RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR, MASTER_PORT. Bad or inconsistent values give one-line errors.
//
// Under torchrun the agent itself already serves its c10d store on MASTER_PORT (it says so
// with TORCHELASTIC_USE_AGENT_STORE=True), so the rendezvous then uses MASTER_PORT+1;
// HRM_RENDEZVOUS_PORT overrides the choice.

import Foundation
import HRMSupport

/// A process's rank and rendezvous point in a multi-process job.
public struct DistributedEnvironment: Equatable, Sendable {
  /// Global rank, 0 ..< worldSize.
  public var rank: Int
  /// Number of processes in the job.
  public var worldSize: Int
  /// Rank on this node (selects the GPU: cuda:<localRank>).
  public var localRank: Int
  /// Host of rank 0's rendezvous listener.
  public var masterAddr: String
  /// MASTER_PORT.
  public var masterPort: Int
  /// The TCP port rank 0's rendezvous listens on (see the file comment).
  public var rendezvousPort: Int

  /// A job description (no checks; see `parse`); the rendezvous port defaults to masterPort.
  public init(rank: Int, worldSize: Int, localRank: Int, masterAddr: String, masterPort: Int, rendezvousPort: Int? = nil) {
    self.rank = rank
    self.worldSize = worldSize
    self.localRank = localRank
    self.masterAddr = masterAddr
    self.masterPort = masterPort
    self.rendezvousPort = rendezvousPort ?? masterPort
  }

  /// The job described by `env`, or nil when WORLD_SIZE and RANK are both unset (a plain
  /// single-process run). WORLD_SIZE=1 alone is a one-rank job. MASTER_ADDR defaults to
  /// 127.0.0.1 and MASTER_PORT to 29500 (torchrun's defaults); LOCAL_RANK to RANK.
  public static func parse(_ env: [String: String]) throws -> DistributedEnvironment? {
    let worldRaw = env["WORLD_SIZE"], rankRaw = env["RANK"]
    if worldRaw == nil && rankRaw == nil { return nil }
    guard let worldRaw = worldRaw else { throw HRMError("RANK is set but WORLD_SIZE is not: set both (torchrun does)") }
    guard let world = Int(worldRaw.trimmingCharacters(in: .whitespaces)), world >= 1 else {
      throw HRMError("WORLD_SIZE=\(worldRaw): expected a positive integer")
    }
    let rankText = rankRaw ?? (world == 1 ? "0" : "")
    guard let rank = Int(rankText.trimmingCharacters(in: .whitespaces)) else {
      if rankRaw == nil { throw HRMError("WORLD_SIZE=\(world) is set but RANK is not: set both (torchrun does)") }
      throw HRMError("RANK=\(rankText): expected an integer")
    }
    guard (0..<world).contains(rank) else { throw HRMError("RANK=\(rank) is outside [0, WORLD_SIZE=\(world))") }
    var localRank = rank
    if let raw = env["LOCAL_RANK"] {
      guard let l = Int(raw.trimmingCharacters(in: .whitespaces)), l >= 0, l < world else {
        throw HRMError("LOCAL_RANK=\(raw): expected an integer in [0, WORLD_SIZE=\(world))")
      }
      localRank = l
    }
    let addr = env["MASTER_ADDR"].map { $0.trimmingCharacters(in: .whitespaces) } ?? "127.0.0.1"
    if addr.isEmpty { throw HRMError("MASTER_ADDR is empty: set it to rank 0's host name or address") }
    var port = 29500
    if let raw = env["MASTER_PORT"] {
      guard let p = Int(raw.trimmingCharacters(in: .whitespaces)), (1...65535).contains(p) else {
        throw HRMError("MASTER_PORT=\(raw): expected a TCP port in 1...65535")
      }
      port = p
    }
    var rendezvous = port
    if let raw = env["HRM_RENDEZVOUS_PORT"] {
      guard let p = Int(raw.trimmingCharacters(in: .whitespaces)), (1...65535).contains(p) else {
        throw HRMError("HRM_RENDEZVOUS_PORT=\(raw): expected a TCP port in 1...65535")
      }
      rendezvous = p
    } else if env["TORCHELASTIC_USE_AGENT_STORE"]?.lowercased() == "true" {
      guard port < 65535 else { throw HRMError("MASTER_PORT=65535: under torchrun the rendezvous needs MASTER_PORT+1; choose a lower port") }
      rendezvous = port + 1
    }
    return DistributedEnvironment(rank: rank, worldSize: world, localRank: localRank, masterAddr: addr, masterPort: port,
                                  rendezvousPort: rendezvous)
  }

  /// The variables a child process of `hrm train gpus=N` gets (NVLink multicast off).
  public static func childEnvironment(rank: Int, worldSize: Int, masterAddr: String, masterPort: Int) -> [String: String] {
    ["RANK": "\(rank)", "WORLD_SIZE": "\(worldSize)", "LOCAL_RANK": "\(rank)", "LOCAL_WORLD_SIZE": "\(worldSize)",
     "MASTER_ADDR": masterAddr, "MASTER_PORT": "\(masterPort)", "NCCL_NVLS_ENABLE": "0"]
  }
}
