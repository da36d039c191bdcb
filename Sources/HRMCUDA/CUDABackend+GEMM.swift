// CUDABackend+GEMM.swift: row-major GEMM through cuBLASLt (bf16 or f32 operands, f32
// accumulation and scaling), with the built-in tiled kernel (gemm.cu) as the fallback.
//
// Row-major C [m, n] = op(A) op(B) is computed as the column-major product
// C^T [n, m] = op(B)^T op(A)^T, so cuBLASLt's "A" is our B and its "B" is our A.
// Operand mixes cuBLASLt has no kernel for are converted first: when either input is bf16
// both go in as bf16 (the reference casts f32 weights to bf16 at every use); f32 inputs with
// a bf16 output are multiplied into an f32 temporary and rounded once.

import Foundation
import HRMSupport
import HRMTensor

/// Everything that selects a cuBLASLt plan.
struct GemmKey: Hashable {
  var transA: Bool, transB: Bool
  var m: Int, n: Int, k: Int
  var inputType: Int32, outputType: Int32
  var alignA: Int, alignB: Int, alignC: Int
}

/// A cached cuBLASLt descriptor set and algorithm for one GemmKey.
final class GemmPlan {
  let desc: OpaquePointer?
  let ltA: OpaquePointer?, ltB: OpaquePointer?, ltC: OpaquePointer?
  /// The heuristic result (algo first) in use.
  var heuristic: [UInt8]
  let workspaceBytes: Int
  /// Further heuristic results (each fitting the workspace) still to be timed against
  /// `heuristic` on first use when GEMM tuning is on; empty once tuned.
  var candidates: [[UInt8]] = []
  init(desc: OpaquePointer?, ltA: OpaquePointer?, ltB: OpaquePointer?, ltC: OpaquePointer?, heuristic: [UInt8], workspaceBytes: Int) {
    self.desc = desc; self.ltA = ltA; self.ltB = ltB; self.ltC = ltC
    self.heuristic = heuristic; self.workspaceBytes = workspaceBytes
  }
}

extension CUDABackend {
  /// Largest power of two (<= 256) dividing the address.
  static func alignment(_ address: UInt64) -> Int {
    var a = 1
    while a < 256 && address % UInt64(a * 2) == 0 { a *= 2 }
    return a
  }

  /// Loads cuBLASLt and creates the handle on first use; nil (with the reason kept for
  /// `summary`) when it is not available.
  func ensureCublasLt() -> (CublasLtAPI, OpaquePointer?)? {
    lock.lock(); defer { lock.unlock() }
    if let lt = cublasLt { return (lt, cublasLtHandle) }
    if cublasLtLoadError != nil { return nil }
    do {
      let lt = try CublasLtAPI.load()
      var handle: OpaquePointer?
      try lt.check(lt.cublasLtCreate(&handle), "cublasLtCreate")
      cublasLt = lt
      cublasLtHandle = handle
      return (lt, handle)
    } catch {
      cublasLtLoadError = "\(error)"
      FileHandle.standardError.write("warning: \(error); using the built-in GEMM kernel\n".data(using: .utf8)!)
      return nil
    }
  }

  private func plan(_ key: GemmKey, lt: CublasLtAPI, handle: OpaquePointer?) throws -> GemmPlan? {
    lock.lock()
    if let p = gemmPlans[key] { lock.unlock(); return p }
    lock.unlock()
    var desc: OpaquePointer?
    try lt.check(lt.cublasLtMatmulDescCreate(&desc, CublasLtConstants.computeF32, CublasLtConstants.dataTypeF32), "cublasLtMatmulDescCreate")
    // cuBLASLt A = our B, cuBLASLt B = our A (see the file comment).
    var opA: Int32 = key.transB ? CublasLtConstants.opT : CublasLtConstants.opN
    var opB: Int32 = key.transA ? CublasLtConstants.opT : CublasLtConstants.opN
    try lt.check(lt.cublasLtMatmulDescSetAttribute(desc, CublasLtConstants.descTransA, &opA, 4), "cublasLtMatmulDescSetAttribute(TRANSA)")
    try lt.check(lt.cublasLtMatmulDescSetAttribute(desc, CublasLtConstants.descTransB, &opB, 4), "cublasLtMatmulDescSetAttribute(TRANSB)")
    var la: OpaquePointer?, lb: OpaquePointer?, lc: OpaquePointer?
    // Our B stored [k, n] (or [n, k] when transB), seen column-major.
    let (aRows, aCols) = key.transB ? (key.k, key.n) : (key.n, key.k)
    try lt.check(lt.cublasLtMatrixLayoutCreate(&la, key.inputType, UInt64(aRows), UInt64(aCols), Int64(aRows)), "cublasLtMatrixLayoutCreate(A)")
    // Our A stored [m, k] (or [k, m] when transA), seen column-major.
    let (bRows, bCols) = key.transA ? (key.m, key.k) : (key.k, key.m)
    try lt.check(lt.cublasLtMatrixLayoutCreate(&lb, key.inputType, UInt64(bRows), UInt64(bCols), Int64(bRows)), "cublasLtMatrixLayoutCreate(B)")
    try lt.check(lt.cublasLtMatrixLayoutCreate(&lc, key.outputType, UInt64(key.n), UInt64(key.m), Int64(key.n)), "cublasLtMatrixLayoutCreate(C)")

    var pref: OpaquePointer?
    try lt.check(lt.cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate")
    var ws = UInt64(gemmWorkspaceBytes)
    try lt.check(lt.cublasLtMatmulPreferenceSetAttribute(pref, CublasLtConstants.prefMaxWorkspaceBytes, &ws, 8), "cublasLtMatmulPreferenceSetAttribute(workspace)")
    // Minimum alignments (bytes) of cuBLASLt's A (our B), B (our A), C and D.
    var alignA = UInt32(key.alignB), alignB = UInt32(key.alignA), alignC = UInt32(key.alignC)
    _ = lt.cublasLtMatmulPreferenceSetAttribute(pref, 5, &alignA, 4)
    _ = lt.cublasLtMatmulPreferenceSetAttribute(pref, 6, &alignB, 4)
    _ = lt.cublasLtMatmulPreferenceSetAttribute(pref, 7, &alignC, 4)
    _ = lt.cublasLtMatmulPreferenceSetAttribute(pref, 8, &alignC, 4)

    let size = CublasLtConstants.heuristicResultSize
    let requested = gemmTune ? 8 : 1
    var results = [UInt8](repeating: 0, count: size * requested)
    var returned: Int32 = 0
    let status = results.withUnsafeMutableBytes {
      lt.cublasLtMatmulAlgoGetHeuristic(handle, desc, la, lb, lc, lc, pref, Int32(requested), $0.baseAddress!, &returned)
    }
    if status != 0 || returned == 0 { return nil }
    let all = (0..<Int(returned)).map { Array(results[($0 * size)..<(($0 + 1) * size)]) }
    func workspace(_ r: [UInt8]) -> Int {
      r.withUnsafeBytes { $0.load(fromByteOffset: CublasLtConstants.heuristicWorkspaceOffset, as: Int.self) }
    }
    func state(_ r: [UInt8]) -> Int32 {
      r.withUnsafeBytes { $0.load(fromByteOffset: CublasLtConstants.heuristicWorkspaceOffset + 8, as: Int32.self) }
    }
    let result = all[0]
    let wsNeeded = workspace(result)
    let p = GemmPlan(desc: desc, ltA: la, ltB: lb, ltC: lc, heuristic: result, workspaceBytes: wsNeeded)
    p.candidates = all.dropFirst().filter { state($0) == 0 && workspace($0) <= gemmWorkspaceBytes }
    lock.lock()
    gemmPlans[key] = p
    lock.unlock()
    return p
  }

  /// Row-major GEMM: cuBLASLt (f32 or bf16 operands, f32 accumulation), else the tiled kernel.
  public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                   alpha: Float, _ a: Tensor, _ b: Tensor, beta: Float, _ c: Tensor) {
    precondition(a.dtype.isFloat && b.dtype.isFloat && c.dtype.isFloat, "gemm needs float tensors")
    precondition(a.count >= m * k && b.count >= k * n && c.count >= m * n, "gemm operands too small for \(m)x\(n)x\(k)")
    if m == 0 || n == 0 { return }
    if k == 0 {
      if beta == 0 { fill(c, value: 0) } else { scale(c, by: beta, out: c) }
      return
    }
    if !forceSimpleGemm, let (lt, handle) = ensureCublasLt() {
      if gemmLt(lt: lt, handle: handle, transA: transA, transB: transB, m: m, n: n, k: k,
                alpha: alpha, a, b, beta: beta, c) { return }
    }
    gemmSimple(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, b, beta: beta, c)
  }

  /// The built-in tiled kernel (any dtype mix).
  func gemmSimple(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                  alpha: Float, _ a: Tensor, _ b: Tensor, beta: Float, _ c: Tensor) {
    launch("gemm.cu", "gemm_simple_kernel", grid: ((n + 15) / 16, (m + 15) / 16, 1), block: (16, 16, 1), [
      .i32(transA ? 1 : 0), .i32(transB ? 1 : 0), .i32(Int32(m)), .i32(Int32(n)), .i32(Int32(k)), .f32(alpha),
      .ptr(a.devicePointer), .i32(a.dtypeCode), .ptr(b.devicePointer), .i32(b.dtypeCode), .f32(beta),
      .ptr(c.devicePointer), .i32(c.dtypeCode),
    ])
  }

  /// cuBLASLt path; false when no algorithm fits (the caller falls back).
  private func gemmLt(lt: CublasLtAPI, handle: OpaquePointer?, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                      alpha: Float, _ a: Tensor, _ b: Tensor, beta: Float, _ c: Tensor) -> Bool {
    guard m <= Int(Int32.max) && n <= Int(Int32.max) && k <= Int(Int32.max) else { return false }
    let bf16In = a.dtype == .bf16 || b.dtype == .bf16
    let inType = bf16In ? DType.bf16 : DType.f32
    // Operands in the input type (converted copies where needed).
    let aIn = a.dtype == inType ? a : converted(a, count: m * k, to: inType)
    let bIn = b.dtype == inType ? b : converted(b, count: k * n, to: inType)
    // Output: bf16 inputs write f32 or bf16 directly; f32 inputs need an f32 output.
    var cOut = c
    var cTemp: Tensor?
    if !bf16In && c.dtype == .bf16 {
      let t = Tensor(buffer: scratch(bytes: m * n * 4), shape: [m * n], dtype: .f32)
      if beta != 0 { copy(Tensor(buffer: c.buffer, offset: c.offset, shape: [m * n], dtype: c.dtype), to: t) }
      cOut = t
      cTemp = t
    }
    let key = GemmKey(transA: transA, transB: transB, m: m, n: n, k: k,
                      inputType: inType == .bf16 ? CublasLtConstants.dataTypeBF16 : CublasLtConstants.dataTypeF32,
                      outputType: cOut.dtype == .bf16 ? CublasLtConstants.dataTypeBF16 : CublasLtConstants.dataTypeF32,
                      alignA: CUDABackend.alignment(aIn.devicePointer), alignB: CUDABackend.alignment(bIn.devicePointer),
                      alignC: CUDABackend.alignment(cOut.devicePointer))
    let p: GemmPlan?
    do { p = try plan(key, lt: lt, handle: handle) } catch { cudaFatal(error) }
    guard let plan = p else { return false }
    if plan.workspaceBytes > gemmWorkspaceBytes { return false }
    lock.lock()
    if gemmWorkspace == nil { lock.unlock(); let ws = scratch(bytes: gemmWorkspaceBytes); lock.lock(); if gemmWorkspace == nil { gemmWorkspace = ws } }
    let workspace = gemmWorkspace!
    lock.unlock()
    makeCurrent()
    var alphaV = alpha, betaV = beta
    if !plan.candidates.isEmpty { tune(plan, lt: lt, handle: handle, aIn: aIn, bIn: bIn, cOut: cOut, alpha: alpha, workspace: workspace) }
    let name = "cuBLASLt gemm \(m)x\(n)x\(k)\(transA ? " tA" : "")\(transB ? " tB" : "") \(aIn.dtype)"
    let status = profiled(name) {
      plan.heuristic.withUnsafeBytes { algo in
        lt.cublasLtMatmul(handle, plan.desc, &alphaV, bIn.devicePointer, plan.ltA, aIn.devicePointer, plan.ltB, &betaV,
                          cOut.devicePointer, plan.ltC, cOut.devicePointer, plan.ltC, algo.baseAddress,
                          workspace.address, gemmWorkspaceBytes, stream)
      }
    }
    if status != 0 {
      cudaFatal(HRMError("cuBLASLt cublasLtMatmul(\(m)x\(n)x\(k), transA \(transA), transB \(transB)) failed on \(name): \(lt.describe(status)) (\(status))"))
    }
    if debugSync { checkOrDie(driver.cuStreamSynchronize(stream), "cublasLtMatmul \(m)x\(n)x\(k)") }
    if let t = cTemp { copy(t, to: Tensor(buffer: c.buffer, offset: c.offset, shape: [m * n], dtype: c.dtype)) }
    return true
  }

  /// Times the plan's heuristic result and its candidates on these operands (beta = 0 into a
  /// scratch output, so C is untouched; 2 warm-up and 5 timed calls each, host clock around
  /// stream synchronisations; two rounds over all candidates, each keeping its better round,
  /// so a clock still ramping up in the first timings does not decide) and keeps the fastest.
  /// Once per plan, with HRM_CUDA_GEMM_TUNE on (the default).
  private func tune(_ plan: GemmPlan, lt: CublasLtAPI, handle: OpaquePointer?, aIn: Tensor, bIn: Tensor, cOut: Tensor,
                    alpha: Float, workspace: Buffer) {
    let scratchOut = scratch(bytes: max(cOut.count, 1) * cOut.dtype.size)
    let all = [plan.heuristic] + plan.candidates
    var times = [Double](repeating: .infinity, count: all.count)
    for _ in 0..<2 {
      for (i, candidate) in all.enumerated() {
        var alphaV = alpha, betaV: Float = 0
        var failed = false
        func once() {
          let status = candidate.withUnsafeBytes { algo in
            lt.cublasLtMatmul(handle, plan.desc, &alphaV, bIn.devicePointer, plan.ltA, aIn.devicePointer, plan.ltB, &betaV,
                              scratchOut.address, plan.ltC, scratchOut.address, plan.ltC, algo.baseAddress,
                              workspace.address, gemmWorkspaceBytes, stream)
          }
          if status != 0 { failed = true }
        }
        once(); once()
        synchronize()
        if failed { continue }
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<5 { once() }
        synchronize()
        if !failed { times[i] = min(times[i], Double(DispatchTime.now().uptimeNanoseconds - t0)) }
      }
    }
    var best = plan.heuristic, bestTime = Double.infinity
    for (i, candidate) in all.enumerated() where times[i] < bestTime { bestTime = times[i]; best = candidate }
    lock.lock()
    plan.heuristic = best
    plan.candidates = []
    lock.unlock()
  }

  /// A fresh copy of the first `count` elements of `t` in `dtype`.
  private func converted(_ t: Tensor, count: Int, to dtype: DType) -> Tensor {
    let out = Tensor(buffer: scratch(bytes: count * dtype.size), shape: [count], dtype: dtype)
    copy(Tensor(buffer: t.buffer, offset: t.offset, shape: [count], dtype: t.dtype), to: out)
    return out
  }
}
