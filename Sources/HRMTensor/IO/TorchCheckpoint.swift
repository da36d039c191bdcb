// TorchCheckpoint.swift: reads PyTorch checkpoints as the reference saves them
// (torch.save of a state dict: a zip with `<archive>/data.pkl`, `<archive>/data/<key>` raw
// little-endian storages, `<archive>/byteorder`, `<archive>/version`) without executing
// anything: the pickle goes through `RestrictedUnpickler`, the storages through `ZipArchive`.
// Tensors come out as (dtype, shape, values) in state-dict order, with strided views resolved.
// Legacy (pre-1.6, non-zip) torch files are refused.

import Foundation
import HRMSupport

/// A PyTorch state dict read from a torch.save file.
public struct TorchCheckpoint {
  /// One tensor: safetensors-style dtype name (F32, BF16, F16, F64, I64, I32, I16, I8, U8, BOOL), shape, values.
  public struct Tensor {
    /// Safetensors-style dtype name of the stored data.
    public let dtype: String
    /// Sizes, outermost first.
    public let shape: [Int]
    /// Elements in row-major order, converted to Float.
    public let values: [Float]
  }

  /// The file read.
  public let path: String
  /// Keys in state-dict order.
  public let names: [String]
  /// Tensors by key.
  public let tensors: [String: Tensor]

  /// (safetensors dtype, bytes per element) of torch storage types.
  static let storageTypes: [String: (String, Int)] = [
    "FloatStorage": ("F32", 4), "BFloat16Storage": ("BF16", 2), "HalfStorage": ("F16", 2),
    "DoubleStorage": ("F64", 8), "LongStorage": ("I64", 8), "IntStorage": ("I32", 4), "ShortStorage": ("I16", 2),
    "CharStorage": ("I8", 1), "ByteStorage": ("U8", 1), "BoolStorage": ("BOOL", 1),
  ]

  /// Reads and checks the file at `path`.
  public init(path: String) throws {
    guard let data = FileManager.default.contents(atPath: path) else { throw HRMError(file: path, "cannot read file") }
    guard ZipArchive.looksLikeZip(data) else {
      throw HRMError(file: path, "not a zip-format torch.save file (legacy torch files are not supported; re-save with torch>=1.6)")
    }
    let archive = try ZipArchive(data: data, path: path)
    guard let pkl = archive.entries.first(where: { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }) else {
      throw HRMError(file: path, "no data.pkl in the archive (not a torch.save file)")
    }
    let prefix = String(pkl.name.dropLast("data.pkl".count))
    if let bo = archive.entry(prefix + "byteorder") {
      let order = String(decoding: try archive.read(bo), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
      guard order == "little" else { throw HRMError(file: path, "byteorder '\(order)' is not supported (only little-endian)") }
    }
    let root = try RestrictedUnpickler(try archive.read(pkl), source: "\(path):\(pkl.name)").load()
    guard case .dict(let dict) = root else { throw HRMError(file: path, "data.pkl does not hold a state dict (a dict of tensors)") }

    var names: [String] = []
    var tensors: [String: Tensor] = [:]
    var storages: [String: Data] = [:]
    for (k, v) in dict.items {
      guard case .string(let name) = k else { throw HRMError(file: path, "state dict key is not a string") }
      guard case .tensor(let t) = v else { throw HRMError(file: path, "state dict entry '\(name)' is not a tensor") }
      guard let (dtype, size) = TorchCheckpoint.storageTypes[t.storageType] else {
        throw HRMError(file: path, "tensor '\(name)': unsupported storage type \(t.storageType)")
      }
      let storage: Data
      if let s = storages[t.storageKey] { storage = s } else {
        storage = try archive.read(prefix + "data/" + t.storageKey)
        storages[t.storageKey] = storage
      }
      guard t.shape.count == t.stride.count else { throw HRMError(file: path, "tensor '\(name)': size and stride ranks differ") }
      let elements = storage.count / size
      // Overflow-checked: count and the last element the view touches must fit the storage.
      var count = 1, last = t.offset, overflow = t.offset < 0
      for (n, st) in zip(t.shape, t.stride) {
        let c = count.multipliedReportingOverflow(by: n)
        let reach = (n - 1).multipliedReportingOverflow(by: st)
        let l = last.addingReportingOverflow(n > 0 ? reach.partialValue : 0)
        overflow = overflow || c.overflow || reach.overflow || l.overflow
        count = c.partialValue
        last = l.partialValue
      }
      guard !overflow, count <= 1 << 40 else { throw HRMError(file: path, "tensor '\(name)': impossible shape \(t.shape) / stride \(t.stride)") }
      if count > 0 {
        guard last < elements else {
          throw HRMError(file: path, "tensor '\(name)': view \(t.shape) at offset \(t.offset) exceeds its storage of \(elements) elements (truncated file?)")
        }
      }
      let values = TorchCheckpoint.gather(storage, dtype: dtype, size: size, offset: t.offset, shape: t.shape, stride: t.stride)
      names.append(name)
      tensors[name] = Tensor(dtype: dtype, shape: t.shape, values: values)
    }
    self.path = path
    self.names = names
    self.tensors = tensors
  }

  /// Element values of a strided view, row-major.
  static func gather(_ storage: Data, dtype: String, size: Int, offset: Int, shape: [Int], stride: [Int]) -> [Float] {
    let count = shape.reduce(1, *)
    var out = [Float](repeating: 0, count: count)
    if count == 0 { return out }
    storage.withUnsafeBytes { raw in
      guard let base = raw.baseAddress else { return }
      func value(_ e: Int) -> Float {
        let o = e * size
        switch dtype {
        case "F32": return Float(bitPattern: base.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian)
        case "BF16": return BF16.toFloat(base.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian)
        case "F16": return halfToFloat(base.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian)
        case "F64": return Float(Double(bitPattern: base.loadUnaligned(fromByteOffset: o, as: UInt64.self).littleEndian))
        case "I64": return Float(Int64(bitPattern: base.loadUnaligned(fromByteOffset: o, as: UInt64.self).littleEndian))
        case "I32": return Float(Int32(bitPattern: base.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian))
        case "I16": return Float(Int16(bitPattern: base.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian))
        case "I8": return Float(base.load(fromByteOffset: o, as: Int8.self))
        default: return Float(base.load(fromByteOffset: o, as: UInt8.self))
        }
      }
      var index = [Int](repeating: 0, count: shape.count)
      var e = offset
      for i in 0..<count {
        out[i] = value(e)
        var d = shape.count - 1
        while d >= 0 {
          index[d] += 1
          e += stride[d]
          if index[d] < shape[d] { break }
          e -= stride[d] * shape[d]
          index[d] = 0
          d -= 1
        }
      }
    }
    return out
  }

  /// IEEE half to Float.
  static func halfToFloat(_ h: UInt16) -> Float {
    let sign: UInt32 = UInt32(h >> 15) << 31
    let exp = Int((h >> 10) & 0x1F)
    let mant = UInt32(h & 0x3FF)
    if exp == 0 {
      let v = Float(mant) * Float(sign == 0 ? 1 : -1) / Float(1 << 24)
      return v
    }
    if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
    return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
  }

  /// The state dict as safetensors items (keys with `_orig_mod.` stripped, dtypes kept for
  /// F32/BF16; everything else as F32).
  public func safeTensorsItems(stripCompilePrefix: Bool = true) -> [SafeTensorsWriter.Item] {
    names.map { name in
      let t = tensors[name]!
      let key = stripCompilePrefix && name.hasPrefix("_orig_mod.") ? String(name.dropFirst("_orig_mod.".count)) : name
      return t.dtype == "BF16" ? .bf16(key, shape: t.shape, t.values) : .f32(key, shape: t.shape, t.values)
    }
  }
}
