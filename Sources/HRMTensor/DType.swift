// DType.swift: element types of tensors, and the bfloat16 <-> float32 conversions.
//
// Float math always happens in float32 (or wider) on the CPU; bf16 is a storage format
// there. The CUDA backend computes on bf16 natively.

/// Element type of a tensor.
public enum DType: String, Codable, Sendable, CustomStringConvertible {
  case f32
  case bf16
  case i32

  /// Bytes per element.
  public var size: Int {
    switch self {
    case .f32, .i32: return 4
    case .bf16: return 2
    }
  }

  public var isFloat: Bool { self != .i32 }
  public var description: String { rawValue }
}

/// bfloat16 helpers (round to nearest even, NaN kept quiet).
public enum BF16 {
  @inline(__always)
  public static func fromFloat(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    if x.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x40) }
    let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
  }

  @inline(__always)
  public static func toFloat(_ h: UInt16) -> Float {
    Float(bitPattern: UInt32(h) << 16)
  }

  /// Rounds a float32 to the nearest bf16 value, returned as float32.
  @inline(__always)
  public static func round(_ x: Float) -> Float { toFloat(fromFloat(x)) }
}
