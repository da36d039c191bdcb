// Communicator.swift: the collective operations data-parallel training needs (spec §6.2–6.3),
// behind one small protocol so the trainer does not care whether ranks talk over NCCL
// (HRMCUDA's NCCLCommunicator) or, in tests, over threads of one process.
//
// Every rank must call the same collectives in the same order with tensors of the same
// shapes and dtypes; a rank that fails or times out throws a one-line HRMError.

/// Collective operations among the ranks of one data-parallel job.
public protocol Communicator: AnyObject {
  /// This process's rank, 0 ..< worldSize.
  var rank: Int { get }
  /// Number of ranks.
  var worldSize: Int { get }
  /// Replaces every tensor, in place, by its element-wise sum over all ranks (f32).
  func allReduceSum(_ tensors: [Tensor]) throws
  /// Overwrites every tensor, in place, with rank `root`'s values (any dtype).
  func broadcast(_ tensors: [Tensor], root: Int) throws
  /// Concatenates every rank's `tensor` along the first axis, in rank order:
  /// [n, ...] per rank -> [worldSize·n, ...] on every rank.
  func allGather(_ tensor: Tensor) throws -> Tensor
  /// Returns once every rank has called it.
  func barrier() throws
}

extension Communicator {
  /// Sums `values` over all ranks (through an f32 tensor on `backend`).
  public func allReduceSum(_ values: [Double], on backend: Backend) throws -> [Double] {
    let t = Tensor(values.map { Float($0) }, shape: [values.count], on: backend)
    try allReduceSum([t])
    return t.toArray().map { Double($0) }
  }
}
