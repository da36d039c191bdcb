// Embedding.swift: CPU row gather (forward) and scatter-add (backward) of embedding tables.
//
// The forward copies rows with dtype conversion, so a large f32 table is never converted as
// a whole. The backward adds gradient rows in row order; threads split the columns, so
// duplicate ids are summed deterministically. Ids outside the table stop the program.

extension CPUBackend {
  /// out [N, D] = table [R, D] rows ids [N] (i32).
  public func embeddingForward(table: Tensor, ids: Tensor, out: Tensor) {
    let n = ids.count
    precondition(table.rank == 2, "embeddingForward: table must be [R, D], got \(table.shape)")
    let (rows, d) = (table.shape[0], table.shape[1])
    precondition(out.count == n * d, "embeddingForward: out \(out.shape) for \(n) ids of width \(d)")
    let pid = ids.i32Pointer
    for i in 0..<n {
      precondition(pid[i] >= 0 && Int(pid[i]) < rows, "embedding id \(pid[i]) outside a table of \(rows) rows")
    }
    CPUParallel.forEach(n, minPerThread: max(1, CPUBackend.elementwiseGrain / max(d, 1))) { i in
      HostF32.convert(table, from: Int(pid[i]) * d, to: out, at: i * d, count: d)
    }
  }

  /// gradTable [R, D] += scatter of gradOut [N, D] by ids [N] (duplicates summed in row order).
  public func embeddingBackward(gradOut: Tensor, ids: Tensor, gradTable: Tensor) {
    let n = ids.count
    precondition(gradTable.rank == 2, "embeddingBackward: gradTable must be [R, D], got \(gradTable.shape)")
    let (rows, d) = (gradTable.shape[0], gradTable.shape[1])
    precondition(gradOut.count == n * d, "embeddingBackward: gradOut \(gradOut.shape) for \(n) ids of width \(d)")
    if n == 0 || d == 0 { return }
    let pid = ids.i32Pointer
    for i in 0..<n {
      precondition(pid[i] >= 0 && Int(pid[i]) < rows, "embedding id \(pid[i]) outside a table of \(rows) rows")
    }
    HostF32.read(gradOut) { pg in
      HostF32.write(gradTable, load: true) { pt in
        CPUParallel.forRanges(d, minPerThread: max(1, CPUBackend.elementwiseGrain / n)) { cols in
          for i in 0..<n {
            let src = pg + i * d
            let dst = pt + Int(pid[i]) * d
            for j in cols { dst[j] += src[j] }
          }
        }
      }
    }
  }
}
