// Tensor.swift: a dense, row-major array on one backend, plus its autodiff bookkeeping.
//
// Tensors are never strided views: every op writes a fresh contiguous output. `offset`
// lets a tensor start inside a larger buffer (used for parameter slabs and row windows).
// Not here: broadcasting rules and lazy evaluation; ops say exactly what shapes they take.

import Foundation

/// Allocates for a tensor. Running out of memory (e.g. "CUDA out of memory on cuda:0: asked for
/// ..., ... free") ends the program with that one line and status 1 rather than a trap: ops
/// allocate their outputs and do not throw, so there is no caller to hand the error to.
func allocateOrExit(_ backend: Backend, _ bytes: Int) -> Buffer {
  do {
    return try backend.allocate(byteCount: bytes)
  } catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
  }
}

public final class Tensor: @unchecked Sendable, CustomStringConvertible {
  public let buffer: Buffer
  /// Start of the data in `buffer`, in elements.
  public let offset: Int
  public let shape: [Int]
  public let dtype: DType

  /// Whether gradients flow to this tensor. Parameters set it; op outputs inherit it.
  public var requiresGrad: Bool = false
  /// Accumulated gradient of a leaf tensor (parameters), filled by `Tape.backward`.
  public var grad: Tensor?
  /// True when an op on the active tape produced this tensor.
  var producedByTape: Bool = false

  public init(buffer: Buffer, offset: Int = 0, shape: [Int], dtype: DType) {
    precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
    precondition((offset + shape.reduce(1, *)) * dtype.size <= buffer.byteCount,
                 "tensor \(shape) \(dtype) at offset \(offset) exceeds its buffer")
    self.buffer = buffer
    self.offset = offset
    self.shape = shape
    self.dtype = dtype
  }

  public var backend: Backend { buffer.backend }
  public var count: Int { shape.reduce(1, *) }
  public var rank: Int { shape.count }
  public var byteCount: Int { count * dtype.size }
  public var byteOffset: Int { offset * dtype.size }

  public var description: String { "Tensor(\(shape), \(dtype), \(backend.name))" }

  // MARK: - Creation

  /// Uninitialised tensor.
  public static func empty(_ shape: [Int], _ dtype: DType = .f32, on backend: Backend) -> Tensor {
    let bytes = max(shape.reduce(1, *) * dtype.size, 4)
    return Tensor(buffer: allocateOrExit(backend, bytes), shape: shape, dtype: dtype)
  }

  public static func zeros(_ shape: [Int], _ dtype: DType = .f32, on backend: Backend) -> Tensor {
    full(shape, 0, dtype, on: backend)
  }

  public static func full(_ shape: [Int], _ value: Float, _ dtype: DType = .f32, on backend: Backend) -> Tensor {
    let t = empty(shape, dtype, on: backend)
    backend.fill(t, value: value)
    return t
  }

  /// A tensor holding `values` (converted to `dtype`: f32 or bf16).
  public convenience init(_ values: [Float], shape: [Int], dtype: DType = .f32, on backend: Backend) {
    precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
    let bytes = max(values.count * dtype.size, 4)
    let buffer = allocateOrExit(backend, bytes)
    switch dtype {
    case .f32:
      values.withUnsafeBytes { backend.upload($0.baseAddress!, byteCount: values.count * 4, to: buffer, offset: 0) }
    case .bf16:
      let halves = values.map(BF16.fromFloat)
      halves.withUnsafeBytes { backend.upload($0.baseAddress!, byteCount: values.count * 2, to: buffer, offset: 0) }
    case .i32:
      let ints = values.map { Int32($0) }
      ints.withUnsafeBytes { backend.upload($0.baseAddress!, byteCount: values.count * 4, to: buffer, offset: 0) }
    }
    self.init(buffer: buffer, shape: shape, dtype: dtype)
  }

  /// An i32 tensor holding `values`.
  public convenience init(ints values: [Int32], shape: [Int], on backend: Backend) {
    precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
    let buffer = allocateOrExit(backend, max(values.count * 4, 4))
    values.withUnsafeBytes { backend.upload($0.baseAddress!, byteCount: values.count * 4, to: buffer, offset: 0) }
    self.init(buffer: buffer, shape: shape, dtype: .i32)
  }

  // MARK: - Reading back

  /// Float values (f32 or bf16 converted; i32 converted).
  public func toArray() -> [Float] {
    let n = count
    switch dtype {
    case .f32:
      var out = [Float](repeating: 0, count: n)
      out.withUnsafeMutableBytes { backend.download(buffer, offset: byteOffset, byteCount: n * 4, to: $0.baseAddress!) }
      return out
    case .bf16:
      var halves = [UInt16](repeating: 0, count: n)
      halves.withUnsafeMutableBytes { backend.download(buffer, offset: byteOffset, byteCount: n * 2, to: $0.baseAddress!) }
      return halves.map(BF16.toFloat)
    case .i32:
      return toInt32Array().map { Float($0) }
    }
  }

  public func toInt32Array() -> [Int32] {
    precondition(dtype == .i32, "toInt32Array on \(dtype) tensor")
    var out = [Int32](repeating: 0, count: count)
    out.withUnsafeMutableBytes { backend.download(buffer, offset: byteOffset, byteCount: count * 4, to: $0.baseAddress!) }
    return out
  }

  /// The single value of a one-element tensor.
  public func item() -> Float {
    precondition(count == 1, "item() on tensor of shape \(shape)")
    return toArray()[0]
  }

  // MARK: - Views

  /// Same data, new shape (element count must match). Shares the buffer; not recorded on
  /// the tape, so gradients of the view and of `self` are one and the same tensor shape-wise.
  public func reshaped(_ newShape: [Int]) -> Tensor {
    precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
    let t = Tensor(buffer: buffer, offset: offset, shape: newShape, dtype: dtype)
    t.requiresGrad = requiresGrad
    if requiresGrad && Autodiff.isRecording { Autodiff.recordReshape(from: self, to: t) }
    return t
  }

  /// A new tensor with the same contents, cut from the tape.
  public func detached() -> Tensor {
    let t = Tensor.empty(shape, dtype, on: backend)
    backend.copy(self, to: t)
    return t
  }
}
