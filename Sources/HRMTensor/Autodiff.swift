// Autodiff.swift: reverse-mode automatic differentiation over a tape of fused ops.
//
// An op records an entry (its inputs, its output and a closure that maps the output's
// gradient to its inputs' gradients) while a tape is active, recording is on, and one of
// its inputs requires a gradient. `Tape.backward` walks the entries in reverse, sums the
// gradients of reused tensors, and adds (+=) the gradients of leaf tensors (parameters)
// into their `grad`. `Autodiff.withoutGradient { }` marks the no-grad regions of HRM's
// one-step gradient; nothing inside them reaches the tape.

import Foundation

public final class Tape {
  struct Entry {
    let output: Tensor
    let inputs: [Tensor]
    /// gradient of the output -> gradients of the inputs (nil: no gradient for that input).
    let backward: (Tensor) -> [Tensor?]
  }

  var entries: [Entry] = []

  public init() {}

  /// Number of recorded ops (for tests that check the tape does not grow).
  public var count: Int { entries.count }

  /// Back-propagates `seed` (default: ones) from `output` and accumulates into the `grad`
  /// of every leaf tensor that requires it. Clears the tape.
  public func backward(_ output: Tensor, seed: Tensor? = nil) {
    let backend = output.backend
    var grads: [ObjectIdentifier: Tensor] = [:]
    var leaves: [ObjectIdentifier: Tensor] = [:]
    grads[ObjectIdentifier(output)] = seed ?? Tensor.full(output.shape, 1, output.dtype, on: backend)

    func accumulate(_ g: Tensor, into t: Tensor) {
      let id = ObjectIdentifier(t)
      if let existing = grads[id] {
        // Out of place: backward closures may hand the same gradient tensor to several inputs.
        let sum = Tensor.empty(existing.shape, existing.dtype, on: backend)
        backend.addScaled(existing, alpha: 1, g, beta: 1, out: sum)
        grads[id] = sum
      } else {
        grads[id] = g
      }
      if !t.producedByTape && t.requiresGrad { leaves[id] = t }
    }

    for entry in entries.reversed() {
      guard let gradOut = grads.removeValue(forKey: ObjectIdentifier(entry.output)) else { continue }
      let inputGrads = entry.backward(gradOut)
      precondition(inputGrads.count == entry.inputs.count, "backward returned wrong gradient count")
      for (input, g) in zip(entry.inputs, inputGrads) {
        guard let g = g, input.requiresGrad else { continue }
        precondition(g.count == input.count, "gradient \(g.shape) for input \(input.shape)")
        accumulate(g.shape == input.shape ? g : g.reshapedRaw(input.shape), into: input)
      }
    }
    for (id, leaf) in leaves {
      guard let g = grads[id] else { continue }
      if let existing = leaf.grad {
        backend.addScaled(existing, alpha: 1, g, beta: 1, out: existing)
      } else {
        let copy = Tensor.empty(leaf.shape, g.dtype == leaf.dtype ? g.dtype : .f32, on: backend)
        backend.copy(g, to: copy)
        leaf.grad = copy
      }
    }
    entries.removeAll()
  }

}

/// Global autodiff state: the active tape and the no-grad switch.
public enum Autodiff {
  nonisolated(unsafe) static var activeTape: Tape?
  nonisolated(unsafe) static var noGradDepth = 0

  /// True while ops are recorded.
  public static var isRecording: Bool { activeTape != nil && noGradDepth == 0 }

  /// Runs `body` with `tape` recording every differentiable op.
  public static func record<R>(on tape: Tape, _ body: () throws -> R) rethrows -> R {
    let previous = activeTape
    activeTape = tape
    defer { activeTape = previous }
    return try body()
  }

  /// Runs `body` with recording off (the reference's `torch.no_grad()`).
  public static func withoutGradient<R>(_ body: () throws -> R) rethrows -> R {
    noGradDepth += 1
    defer { noGradDepth -= 1 }
    return try body()
  }

  /// Whether `record(_:inputs:backward:)` with these inputs would record (for ops whose
  /// forward does extra work only the backward needs).
  public static func willRecord(_ inputs: [Tensor]) -> Bool {
    activeTape != nil && noGradDepth == 0 && inputs.contains(where: { $0.requiresGrad })
  }

  /// Records `output = f(inputs)` when recording and some input requires a gradient.
  /// Returns `output` (marked as requiring a gradient when recorded).
  @discardableResult
  public static func record(_ output: Tensor, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
    guard willRecord(inputs), let tape = activeTape else {
      return output
    }
    output.requiresGrad = true
    output.producedByTape = true
    tape.entries.append(Tape.Entry(output: output, inputs: inputs, backward: backward))
    return output
  }

  static func recordReshape(from source: Tensor, to view: Tensor) {
    record(view, inputs: [source]) { g in [g.reshapedRaw(source.shape)] }
  }
}

extension Tensor {
  /// Reshape that never touches the tape: for tensors without gradient (ids, masks,
  /// carries) and inside backward closures.
  public func reshapedRaw(_ newShape: [Int]) -> Tensor {
    Tensor(buffer: buffer, offset: offset, shape: newShape, dtype: dtype)
  }
}
