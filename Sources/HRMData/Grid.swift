// Grid.swift: a small rectangular grid of byte values and the eight dihedral transforms
// (spec data §4.4), shared by the ARC and Maze builders and their augmentations.

/// A row-major H×W grid of byte values (ARC colours 0...9, maze tokens, ...).
public struct Grid: Equatable, Hashable, Sendable {
  /// Number of rows, H.
  public let rows: Int
  /// Number of columns, W.
  public let columns: Int
  /// The H·W values, row-major.
  public var cells: [UInt8]

  /// A grid from row-major values; `cells.count` must equal `rows * columns`.
  public init(rows: Int, columns: Int, cells: [UInt8]) {
    precondition(rows >= 0 && columns >= 0 && cells.count == rows * columns, "Grid size mismatch")
    self.rows = rows
    self.columns = columns
    self.cells = cells
  }

  /// A grid from a list of equally long rows (the caller checks they are).
  public init(_ rowList: [[UInt8]]) {
    self.init(rows: rowList.count, columns: rowList.first?.count ?? 0, cells: rowList.flatMap { $0 })
  }

  /// The value at (`r`, `c`).
  @inline(__always)
  public subscript(r: Int, c: Int) -> UInt8 { cells[r * columns + c] }

  /// The grid as a list of rows.
  public var rowList: [[UInt8]] { (0..<rows).map { Array(cells[$0 * columns..<($0 + 1) * columns]) } }

  /// Every value replaced by `map[value]` (e.g. an ARC colour permutation).
  public func mapped(_ map: [UInt8]) -> Grid {
    Grid(rows: rows, columns: columns, cells: cells.map { map[Int($0)] })
  }
}

/// The eight symmetries of the square, numbered as in the reference (spec data §4.4).
///
/// 0 identity, 1 rotate 90° counter-clockwise, 2 rotate 180°, 3 rotate 270° counter-clockwise,
/// 4 mirror left-right, 5 mirror top-bottom, 6 transpose, 7 anti-diagonal reflection.
public enum Dihedral {
  /// `inverse[t]` undoes transform t.
  public static let inverse = [0, 3, 2, 1, 4, 5, 6, 7]

  /// Whether transform `t` swaps the height and width.
  public static func swapsAxes(_ t: Int) -> Bool { [1, 3, 6, 7].contains(t) }

  /// Applies transform `t` (0...7) to `a`.
  public static func apply(_ t: Int, to a: Grid) -> Grid {
    precondition((0..<8).contains(t), "dihedral transform must be 0...7")
    let (h, w) = (a.rows, a.columns)
    let (oh, ow) = swapsAxes(t) ? (w, h) : (h, w)
    var out = [UInt8](repeating: 0, count: oh * ow)
    a.cells.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        for i in 0..<oh {
          for j in 0..<ow {
            let (r, c): (Int, Int)
            switch t {
            case 0: (r, c) = (i, j)
            case 1: (r, c) = (j, w - 1 - i)
            case 2: (r, c) = (h - 1 - i, w - 1 - j)
            case 3: (r, c) = (h - 1 - j, i)
            case 4: (r, c) = (i, w - 1 - j)
            case 5: (r, c) = (h - 1 - i, j)
            case 6: (r, c) = (j, i)
            default: (r, c) = (h - 1 - j, w - 1 - i)
            }
            dst[i * ow + j] = src[r * w + c]
          }
        }
      }
    }
    return Grid(rows: oh, columns: ow, cells: out)
  }
}
