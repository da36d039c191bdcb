// Pickle.swift: a restricted unpickler for PyTorch state dicts. It never executes code:
// it interprets the pickle opcodes that torch.save emits for a plain state dict (protocols
// 2-4: containers, strings, numbers, memo, persistent ids) and allows exactly these globals:
//
//   collections.OrderedDict                    (the state dict and its _metadata)
//   torch._utils._rebuild_tensor_v2            (a tensor: storage, offset, size, stride, ...)
//   torch._utils._rebuild_parameter            (an nn.Parameter around such a tensor)
//   torch.<Dtype>Storage, torch.UntypedStorage (storage types inside persistent ids)
//
// Any other GLOBAL / STACK_GLOBAL (os.system, builtins.eval, ...) and the object-building
// opcodes INST, OBJ, NEWOBJ are refused with an error naming them, before anything is built.

import Foundation
import HRMSupport

/// A value built by the restricted unpickler.
public indirect enum PickleValue {
  /// Python None.
  case none
  /// Python bool.
  case bool(Bool)
  /// Python int (up to 64 bits).
  case int(Int)
  /// Python float.
  case float(Double)
  /// Python str.
  case string(String)
  /// Python bytes.
  case bytes([UInt8])
  /// Python tuple.
  case tuple([PickleValue])
  /// Python list.
  case list(PickleList)
  /// Python dict or OrderedDict.
  case dict(PickleDict)
  /// An allowed global (module, name).
  case global(String, String)
  /// A persistent id, as torch.save writes for storages: ("storage", type, key, location, numel).
  case persistent(PickleValue)
  /// A tensor (torch._utils._rebuild_tensor_v2).
  case tensor(PickledTensor)
}

/// A mutable list (pickle appends to lists after creating them).
public final class PickleList {
  /// The elements.
  public var items: [PickleValue] = []
}

/// A mutable dict that keeps insertion order (as OrderedDict and Python dicts do).
public final class PickleDict {
  /// Key/value pairs in insertion order.
  public var items: [(key: PickleValue, value: PickleValue)] = []
}

/// A tensor reference: which storage, and how the tensor views it.
public struct PickledTensor {
  /// Storage type name, e.g. "FloatStorage", "BFloat16Storage".
  public var storageType: String
  /// The storage's key: its file is `<archive>/data/<key>`.
  public var storageKey: String
  /// Offset into the storage, in elements.
  public var offset: Int
  /// Sizes, outermost first.
  public var shape: [Int]
  /// Element strides per dimension.
  public var stride: [Int]
}

/// The restricted unpickler.
public struct RestrictedUnpickler {
  /// Globals a state dict may reference.
  public static let allowedGlobals: Set<String> = [
    "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
    "torch.FloatStorage", "torch.BFloat16Storage", "torch.HalfStorage", "torch.DoubleStorage",
    "torch.LongStorage", "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage", "torch.ByteStorage",
    "torch.BoolStorage", "torch.UntypedStorage",
  ]

  let bytes: [UInt8]
  let source: String

  /// `source` names the pickle in errors (e.g. "model.pt:archive/data.pkl").
  public init(_ data: Data, source: String) {
    self.bytes = [UInt8](data)
    self.source = source
  }

  /// Interprets the pickle and returns its top-level value.
  public func load() throws -> PickleValue {
    var stack: [PickleValue] = []
    var marks: [Int] = []
    var memo: [Int: PickleValue] = [:]
    var pc = 0
    let markSentinel = PickleValue.none

    func fail(_ why: String) -> HRMError { HRMError(file: source, "refusing the pickle: \(why)") }
    func need(_ n: Int) throws {
      if pc + n > bytes.count { throw fail("truncated at byte \(pc)") }
    }
    func uint(_ n: Int) throws -> Int {
      try need(n)
      var v = 0
      for i in 0..<n { v |= Int(bytes[pc + i]) << (8 * i) }
      pc += n
      return v
    }
    func line() throws -> String {
      guard let nl = bytes[pc...].firstIndex(of: 0x0A) else { throw fail("unterminated text at byte \(pc)") }
      let s = String(decoding: bytes[pc..<nl], as: UTF8.self)
      pc = nl + 1
      return s
    }
    func take(_ n: Int) throws -> [UInt8] {
      guard n >= 0 else { throw fail("negative length at byte \(pc)") }
      try need(n)
      defer { pc += n }
      return Array(bytes[pc..<pc + n])
    }
    func pop() throws -> PickleValue {
      guard let v = stack.popLast() else { throw fail("stack underflow at byte \(pc)") }
      return v
    }
    func popMark() throws -> [PickleValue] {
      guard let m = marks.popLast(), m <= stack.count else { throw fail("MARK missing at byte \(pc)") }
      let items = Array(stack[m...])
      stack.removeSubrange(m...)
      return items
    }
    func global(_ module: String, _ name: String) throws -> PickleValue {
      let full = "\(module).\(name)"
      guard RestrictedUnpickler.allowedGlobals.contains(full) else {
        throw fail("global '\(full)' is not allowed (a PyTorch state dict needs only tensors and OrderedDict; this file may try to run code)")
      }
      return .global(module, name)
    }
    func setItems(_ target: PickleValue, _ kv: [PickleValue]) throws {
      guard case .dict(let d) = target, kv.count % 2 == 0 else { throw fail("SETITEMS on a non-dict at byte \(pc)") }
      for i in stride(from: 0, to: kv.count, by: 2) { d.items.append((kv[i], kv[i + 1])) }
    }

    while true {
      try need(1)
      let op = bytes[pc]
      let at = pc
      pc += 1
      switch op {
      case 0x80: _ = try uint(1)                                        // PROTO
      case 0x95: _ = try uint(8)                                        // FRAME
      case 0x2E: return try pop()                                       // STOP
      case 0x28: marks.append(stack.count)                              // MARK
      case 0x4E: stack.append(.none)                                    // NONE
      case 0x88: stack.append(.bool(true))                              // NEWTRUE
      case 0x89: stack.append(.bool(false))                             // NEWFALSE
      case 0x4B: stack.append(.int(try uint(1)))                        // BININT1
      case 0x4D: stack.append(.int(try uint(2)))                        // BININT2
      case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))  // BININT
      case 0x8A:                                                        // LONG1
        let n = try uint(1)
        guard n <= 8 else { throw fail("integer of \(n) bytes at byte \(at)") }
        let b = try take(n)
        var v: Int64 = 0
        for (i, x) in b.enumerated() { v |= Int64(x) << (8 * Int64(i)) }
        if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 { v -= Int64(1) << (8 * Int64(n)) }
        stack.append(.int(Int(v)))
      case 0x47:                                                        // BINFLOAT (big-endian)
        let b = try take(8)
        var u: UInt64 = 0
        for x in b { u = u << 8 | UInt64(x) }
        stack.append(.float(Double(bitPattern: u)))
      case 0x58: stack.append(.string(String(decoding: try take(try uint(4)), as: UTF8.self)))  // BINUNICODE
      case 0x8C: stack.append(.string(String(decoding: try take(try uint(1)), as: UTF8.self)))  // SHORT_BINUNICODE
      case 0x8D: stack.append(.string(String(decoding: try take(try uint(8)), as: UTF8.self)))  // BINUNICODE8
      case 0x55: stack.append(.string(String(decoding: try take(try uint(1)), as: UTF8.self)))  // SHORT_BINSTRING
      case 0x54: stack.append(.string(String(decoding: try take(try uint(4)), as: UTF8.self)))  // BINSTRING
      case 0x43: stack.append(.bytes(try take(try uint(1))))            // SHORT_BINBYTES
      case 0x42: stack.append(.bytes(try take(try uint(4))))            // BINBYTES
      case 0x29: stack.append(.tuple([]))                               // EMPTY_TUPLE
      case 0x85: stack.append(.tuple([try pop()]))                      // TUPLE1
      case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))        // TUPLE2
      case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))  // TUPLE3
      case 0x74: stack.append(.tuple(try popMark()))                    // TUPLE
      case 0x5D: stack.append(.list(PickleList()))                      // EMPTY_LIST
      case 0x6C: let l = PickleList(); l.items = try popMark(); stack.append(.list(l))  // LIST
      case 0x61:                                                        // APPEND
        let v = try pop()
        guard case .list(let l)? = stack.last else { throw fail("APPEND on a non-list at byte \(at)") }
        l.items.append(v)
      case 0x65:                                                        // APPENDS
        let items = try popMark()
        guard case .list(let l)? = stack.last else { throw fail("APPENDS on a non-list at byte \(at)") }
        l.items += items
      case 0x7D: stack.append(.dict(PickleDict()))                      // EMPTY_DICT
      case 0x64: let d = PickleDict(); let kv = try popMark(); try setItems(.dict(d), kv); stack.append(.dict(d))  // DICT
      case 0x73:                                                        // SETITEM
        let v = try pop(), k = try pop()
        guard let top = stack.last else { throw fail("SETITEM without a dict at byte \(at)") }
        try setItems(top, [k, v])
      case 0x75:                                                        // SETITEMS
        let kv = try popMark()
        guard let top = stack.last else { throw fail("SETITEMS without a dict at byte \(at)") }
        try setItems(top, kv)
      case 0x71: memo[try uint(1)] = stack.last ?? markSentinel         // BINPUT
      case 0x72: memo[try uint(4)] = stack.last ?? markSentinel         // LONG_BINPUT
      case 0x94: memo[memo.count] = stack.last ?? markSentinel          // MEMOIZE
      case 0x68, 0x6A:                                                  // BINGET, LONG_BINGET
        let k = try uint(op == 0x68 ? 1 : 4)
        guard let v = memo[k] else { throw fail("memo \(k) missing at byte \(at)") }
        stack.append(v)
      case 0x63:                                                        // GLOBAL
        let module = try line(), name = try line()
        stack.append(try global(module, name))
      case 0x93:                                                        // STACK_GLOBAL
        guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
          throw fail("STACK_GLOBAL needs two strings at byte \(at)")
        }
        stack.append(try global(module, name))
      case 0x51: stack.append(.persistent(try pop()))                   // BINPERSID
      case 0x52:                                                        // REDUCE
        let args = try pop(), callable = try pop()
        stack.append(try reduce(callable, args, at: at))
      case 0x62:                                                        // BUILD
        let state = try pop()
        guard case .dict? = stack.last, case .dict = state else {
          throw fail("BUILD is only allowed to set a dict's attributes (e.g. _metadata), at byte \(at)")
        }
      case 0x69, 0x6F, 0x81, 0x92:                                      // INST, OBJ, NEWOBJ, NEWOBJ_EX
        throw fail(String(format: "opcode 0x%02x builds arbitrary objects (byte %d)", op, at))
      default:
        throw fail(String(format: "unsupported pickle opcode 0x%02x at byte %d", op, at))
      }
    }
  }

  /// Applies an allowed callable to its arguments.
  func reduce(_ callable: PickleValue, _ args: PickleValue, at: Int) throws -> PickleValue {
    func fail(_ why: String) -> HRMError { HRMError(file: source, "refusing the pickle: \(why) (byte \(at))") }
    guard case .global(let module, let name) = callable, case .tuple(let a) = args else {
      throw fail("REDUCE needs an allowed global and an argument tuple")
    }
    switch "\(module).\(name)" {
    case "collections.OrderedDict":
      guard a.isEmpty else { throw fail("OrderedDict with arguments") }
      return .dict(PickleDict())
    case "torch._utils._rebuild_parameter":
      guard let first = a.first, case .tensor = first else { throw fail("_rebuild_parameter without a tensor") }
      return first
    case "torch._utils._rebuild_tensor_v2":
      guard a.count >= 4, case .persistent(let pid) = a[0], case .int(let offset) = a[1],
            case .tuple(let size) = a[2], case .tuple(let stride) = a[3] else {
        throw fail("_rebuild_tensor_v2 with unexpected arguments")
      }
      guard case .tuple(let p) = pid, p.count >= 3, case .string("storage") = p[0],
            case .global(_, let storageType) = p[1] else {
        throw fail("a persistent id that is not a tensor storage")
      }
      let key: String
      switch p[2] {
      case .string(let s): key = s
      case .int(let i): key = String(i)
      default: throw fail("storage key of an unexpected type")
      }
      func ints(_ t: [PickleValue]) throws -> [Int] {
        try t.map { v -> Int in
          guard case .int(let i) = v, i >= 0 else { throw fail("tensor size/stride is not a non-negative integer") }
          return i
        }
      }
      return .tensor(PickledTensor(storageType: storageType, storageKey: key, offset: offset, shape: try ints(size),
                                   stride: try ints(stride)))
    default:
      throw fail("global '\(module).\(name)' cannot be called")
    }
  }
}
