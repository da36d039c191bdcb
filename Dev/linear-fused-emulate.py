#!/usr/bin/env python3
"""linear-fused-emulate.py: checks the index arithmetic of Sources/HRMCUDA/Kernels/linear_fused.cu
without a GPU. It replays, in numpy, what the kernel's threads do: the cp.async chunk
mapping into shared memory, the wgmma operands read through 128-byte-swizzle K-major
descriptors (element (i, j) of a slice at start + (i/8)*SBO + (i%8)*128 + 2j bytes, address
bits 4-6 XOR bits 7-9, as the PTX ISA defines the mode), the C-fragment layout of m64n128 accumulators, the SwiGLU and
RoPE epilogues and the swizzled staged store (store_c_rows_staged), and compares the output
with x W^T (+ SwiGLU / RoPE) computed directly, in f32. Keep it in step with the kernel.

  python3 Dev/linear-fused-emulate.py   # largest error and unwritten outputs per case; exit 1 on a mismatch
"""
import sys

import numpy as np
rng = np.random.default_rng(0)

def emulate(EPI, m, n, k, seq=1, heads=0, STAGES=3):
    BM, BN, BK = 128, 128, 64
    x = rng.standard_normal((m, k)).astype(np.float32)
    wrows = 2 * n if EPI == 'swiglu' else n
    w = rng.standard_normal((wrows, k)).astype(np.float32) / np.sqrt(k)
    cosT = rng.uniform(-1, 1, (seq, 64)).astype(np.float32); sinT = rng.uniform(-1, 1, (seq, 64)).astype(np.float32)
    outw = n
    out = np.full((m, outw), np.nan, np.float32)
    cols_per_block = BN // 2 if EPI == 'swiglu' else BN
    for by in range((m + 127) // 128):
        for bx in range(outw // cols_per_block):
            m0, c0 = by * BM, bx * cols_per_block
            smem = np.zeros(STAGES * (BM + BN) * BK, np.float32)   # element-addressed (bf16 slots)
            TILE = (BM + BN) * BK
            acc = np.zeros((2, 64, 128), np.float32)   # per warpgroup
            def load(stage, kt):
                for tid in range(256):
                    rx = tid >> 3; kc8 = (tid & 7) * 8
                    sdst = rx * BK + (((tid & 7) ^ (rx & 7)) * 8)
                    for kk in range(4):
                        r = rx + 32 * kk
                        a = stage * TILE + sdst + 32 * BK * kk
                        smem[a:a + 8] = x[m0 + r, kt * BK + kc8: kt * BK + kc8 + 8] if m0 + r < m else 0
                        wrow = (n + c0 + r - 64) if (EPI == 'swiglu' and kk >= 2) else c0 + r
                        b = stage * TILE + BM * BK + sdst + 32 * BK * kk
                        smem[b:b + 8] = w[wrow, kt * BK + kc8: kt * BK + kc8 + 8]
            def read(start_elem, rows, sbo):
                # 128-byte swizzle, K-major: element (i, j) of a rows x 16 slice at address
                # start + (i/8) sbo + (i%8) 128 + 2 j, then bits 4-6 XOR bits 7-9 (the
                # hardware's swizzle on the address; the tiles are 1024-byte aligned)
                out_ = np.zeros((rows, 16), np.float32)
                for i in range(rows):
                    for j in range(16):
                        addr = start_elem * 2 + (i // 8) * sbo + (i % 8) * 128 + j * 2
                        addr ^= ((addr >> 7) & 7) << 4
                        out_[i, j] = smem[addr // 2]
                return out_
            ktiles = k // BK
            for kt in range(ktiles):
                load(kt % STAGES, kt)   # (the pipeline order does not change the values)
                for wg in range(2):
                    a0 = (kt % STAGES) * TILE + wg * 64 * BK
                    b0 = (kt % STAGES) * TILE + BM * BK
                    for kc in range(4):
                        A = read(a0 + kc * 16, 64, 1024)
                        B = read(b0 + kc * 16, 128, 1024)
                        acc[wg] += A @ B.T
            # epilogue through the C-fragment layout and the staged store
            for wg in range(2):
                for warp in range(4):
                    rowBase = m0 + wg * 64 + warp * 16
                    c = np.zeros((32, 16, 4), np.float32)   # lane, nt, e
                    for lane in range(32):
                        g, t = lane >> 2, lane & 3
                        for nt in range(16):
                            for e in range(4):
                                row = warp * 16 + g + (8 if e >= 2 else 0)
                                c[lane, nt, e] = acc[wg, row, nt * 8 + 2 * t + (e & 1)]
                    def staged_store(vals, base_col):   # vals [lane, dn(8), e]
                        stage = np.zeros(16 * 64, np.float32)
                        for lane in range(32):
                            g, t = lane >> 2, lane & 3
                            for dn in range(8):
                                wi = g * 32 + (dn ^ g) * 4 + t
                                stage[2 * wi: 2 * wi + 2] = vals[lane, dn, 0:2]
                                wi = (g + 8) * 32 + (dn ^ g) * 4 + t
                                stage[2 * wi: 2 * wi + 2] = vals[lane, dn, 2:4]
                        for lane in range(32):
                            for kq in range(4):
                                q = kq * 32 + lane; r = q >> 3; cc = q & 7
                                v = stage[r * 64 + (cc ^ (r & 7)) * 8: r * 64 + (cc ^ (r & 7)) * 8 + 8]
                                if rowBase + r < m:
                                    out[rowBase + r, base_col + cc * 8: base_col + cc * 8 + 8] = v
                    if EPI == 'swiglu':
                        gate, up = c[:, 0:8], c[:, 8:16]
                        staged_store(gate / (1 + np.exp(-gate)) * up, c0)
                    elif EPI == 'rope':
                        for half in range(2):
                            r_ = np.zeros((32, 8, 4), np.float32)
                            rotate = c0 // 64 + half < 2 * heads
                            for lane in range(32):
                                g, t = lane >> 2, lane & 3
                                p0, p1 = (rowBase + g) % seq, (rowBase + g + 8) % seq
                                for nt in range(4):
                                    for e in range(4):
                                        x1, x2 = c[lane, half * 8 + nt, e], c[lane, half * 8 + nt + 4, e]
                                        if rotate:
                                            d = nt * 8 + 2 * t + (e & 1); p = p0 if e < 2 else p1
                                            r_[lane, nt, e] = x1 * cosT[p, d] - x2 * sinT[p, d]
                                            r_[lane, nt + 4, e] = x2 * cosT[p, d + 32] + x1 * sinT[p, d + 32]
                                        else:
                                            r_[lane, nt, e], r_[lane, nt + 4, e] = x1, x2
                            staged_store(r_, c0 + 64 * half)
                    else:
                        staged_store(c[:, 0:8], c0); staged_store(c[:, 8:16], c0 + 64)
    y = x @ w.T
    if EPI == 'swiglu':
        ref = y[:, :n] / (1 + np.exp(-y[:, :n])) * y[:, n:]
    elif EPI == 'rope':
        ref = y.copy()
        pos = np.arange(m) % seq
        for s in range(2 * heads):
            h0 = s * 64
            x1, x2 = y[:, h0:h0 + 32], y[:, h0 + 32:h0 + 64]
            ref[:, h0:h0 + 32] = x1 * cosT[pos, :32] - x2 * sinT[pos, :32]
            ref[:, h0 + 32:h0 + 64] = x2 * cosT[pos, 32:] + x1 * sinT[pos, 32:]
    else:
        ref = y
    err = np.nanmax(np.abs(out - ref)) if not np.isnan(out).any() else float('nan')
    print(EPI, (m, n, k), 'max error', err, 'unwritten', int(np.isnan(out).sum()))
    return err < 1e-4

results = [emulate('plain', 150, 256, 128), emulate('swiglu', 150, 128, 192),
           emulate('rope', 140, 384, 64, seq=70, heads=2)]
sys.exit(0 if all(results) else 1)
