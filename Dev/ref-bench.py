#!/usr/bin/env python3
"""A same-run stand-in for the PyTorch reference's timings: HRM ACT v1 (default arch) written
from the specification in PyTorch, compiled with torch.compile, SDPA attention, bf16 weights
cast at use, timed on the issue shapes beside `hrm bench model` on the same GPU:

- training step: one ACT segment with the one-step gradient (5 module calls without
  gradient, then one L and one H call with it), the Q-target forward from the new carry,
  stablemax cross-entropy in f64 plus the two Q losses, backward, AdamATan2 (a = 1 form, as the
  reference's kernel) on every dense parameter and SignSGD on the puzzle-embedding rows;
- evaluation batch: 16 segments without gradient.

It is not the reference code, so its figures are a proxy for it measured on the same machine
(the issue's fixed reference figures come from one machine; H200s differ by several percent).
A measuring tool for the device machine; nothing in the product uses it.

  python3 Dev/ref-bench.py [--shapes 384x81x11,768x81x11,96x900x12] [--repeats 10]
                           [--eval-repeats 3] [--no-compile] [--no-tiling-analysis]
                           [--device cuda|cpu]

On the device machine (torch 2.11, run 60) torch.compile of this model stopped with an
Inductor assertion in its Triton tiling analysis; --no-tiling-analysis turns that analysis
off (a compile setting the reference's own measurement did not need). With it the stand-in
compiled and ran there (runs 65-66, docs/perf-cuda.md); each shape takes ~2 minutes of
compilation, so give a three-shape call ~6 minutes.
"""
import argparse
import math
import time

import torch
import torch.nn.functional as F

D, HEADS, DH, INNER = 512, 8, 64, 1536
LAYERS, H_CYCLES, L_CYCLES, MAX_STEPS = 4, 2, 2, 16
BF16 = torch.bfloat16


def rms_norm(x):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-5)).to(x.dtype)


def rope(x, cos, sin):
    """x [B, T, h, 64] bf16, half-split pairs (i, i + 32); cos/sin [T, 64] f32."""
    xf = x.float()
    rotated = torch.cat([-xf[..., DH // 2:], xf[..., :DH // 2]], -1)
    return (xf * cos[None, :, None] + rotated * sin[None, :, None]).to(x.dtype)


def linear(x, w, b=None):
    return F.linear(x, w.to(x.dtype), None if b is None else b.to(x.dtype))


def block(u, w, cos, sin):
    """Post-norm block: u <- rms(u + attn(u)); u <- rms(u + swiglu(u))."""
    b, t, _ = u.shape
    qkv = linear(u, w["qkv"]).view(b, t, 3 * HEADS, DH)
    q, k, v = qkv[:, :, :HEADS], qkv[:, :, HEADS:2 * HEADS], qkv[:, :, 2 * HEADS:]
    q, k = rope(q, cos, sin), rope(k, cos, sin)
    a = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    u = rms_norm(u + linear(a.transpose(1, 2).reshape(b, t, D), w["o"]))
    gate, up = linear(u, w["gate_up"]).chunk(2, -1)
    return rms_norm(u + linear(F.silu(gate) * up, w["down"]))


def module(z, injection, blocks, cos, sin):
    u = z + injection
    for w in blocks:
        u = block(u, w, cos, sin)
    return u


class Model:
    def __init__(self, vocab, seq, device):
        def p(*shape, std):
            return (torch.randn(*shape, device=device) * std).requires_grad_()
        def blocks():
            return [{"qkv": p(3 * D, D, std=D ** -0.5), "o": p(D, D, std=D ** -0.5),
                     "gate_up": p(2 * INNER, D, std=D ** -0.5), "down": p(D, INNER, std=INNER ** -0.5)}
                    for _ in range(LAYERS)]
        self.H, self.L = blocks(), blocks()
        self.embed = p(vocab, D, std=1 / math.sqrt(D))
        self.lm_head = p(vocab, D, std=D ** -0.5)
        self.q_w = torch.zeros(2, D, device=device, requires_grad=True)
        self.q_b = torch.full((2,), -5.0, device=device, requires_grad=True)
        self.puzzle_table = torch.zeros(1, D, device=device)   # one identifier (Sudoku / Maze)
        self.H_init = torch.randn(D, device=device).to(BF16)
        self.L_init = torch.randn(D, device=device).to(BF16)
        t = seq + 1   # one puzzle-prefix position
        inv_freq = 1.0 / (10000.0 ** (torch.arange(0, DH, 2, device=device).float() / DH))
        angles = torch.outer(torch.arange(t, device=device).float(), inv_freq)
        self.cos, self.sin = torch.cat([angles, angles], -1).cos(), torch.cat([angles, angles], -1).sin()

    def dense(self):
        return [w for blk in self.H + self.L for w in blk.values()] + [self.embed, self.lm_head, self.q_w, self.q_b]

    def inner(self, z_h, z_l, inputs, puzzle):
        """One segment: x = sqrt(D) [prefix ; E[inputs]], the recurrence, logits, Q values."""
        x = torch.cat([puzzle.to(BF16)[:, None], self.embed.to(BF16)[inputs]], 1) * math.sqrt(D)
        with torch.no_grad():
            for hc in range(H_CYCLES):
                for lc in range(L_CYCLES):
                    if not (hc == H_CYCLES - 1 and lc == L_CYCLES - 1):
                        z_l = module(z_l, z_h + x, self.L, self.cos, self.sin)
                if hc != H_CYCLES - 1:
                    z_h = module(z_h, z_l, self.H, self.cos, self.sin)
        z_l = module(z_l, z_h + x, self.L, self.cos, self.sin)
        z_h = module(z_h, z_l, self.H, self.cos, self.sin)
        logits = linear(z_h, self.lm_head)[:, 1:]
        q = linear(z_h[:, 0], self.q_w, self.q_b).float()
        return z_h.detach(), z_l.detach(), logits, q[:, 0], q[:, 1]


def stablemax_ce(logits, labels):
    z = logits.double()
    s = torch.where(z < 0, 1 / (1 - z + 1e-30), z + 1)
    logp = torch.log(s / s.sum(-1, keepdim=True))
    mask = labels != -100
    ce = -torch.gather(logp, -1, torch.where(mask, labels, 0)[..., None])[..., 0]
    return torch.where(mask, ce, 0), mask


def train_loss(model, z_h, z_l, inputs, labels, puzzle, steps):
    z_h, z_l, logits, q_halt, q_cont = model.inner(z_h, z_l, inputs, puzzle)
    with torch.no_grad():
        steps = steps + 1
        last = steps >= MAX_STEPS
        _, _, _, nq_halt, nq_cont = model.inner(z_h, z_l, inputs, puzzle)   # Q target from the new carry
        target = torch.sigmoid(torch.where(last, nq_halt, torch.maximum(nq_halt, nq_cont)))
    ce, mask = stablemax_ce(logits, labels)
    n = mask.sum(-1).clamp_min(1)
    lm_loss = (ce.sum(-1) / n).sum()
    with torch.no_grad():
        seq_correct = ((logits.argmax(-1) == labels) | ~mask).all(-1)
    q_halt_loss = F.binary_cross_entropy_with_logits(q_halt, seq_correct.float(), reduction="sum")
    q_cont_loss = F.binary_cross_entropy_with_logits(q_cont, target, reduction="sum")
    return (lm_loss + 0.5 * (q_halt_loss + q_cont_loss)) / inputs.shape[0], z_h, z_l, steps


@torch.no_grad()
def adam_atan2(params, state, lr=1e-4, weight_decay=1.0, beta1=0.9, beta2=0.95):
    """The reference kernel's update (a = b = 1, 1/bc1 outside the atan2), per the spec."""
    state["t"] += 1
    t = state["t"]
    bc1, bc2 = 1 - beta1 ** t, 1 - beta2 ** t
    grads = [p.grad for p in params]
    torch._foreach_mul_(params, 1 - lr * weight_decay)
    torch._foreach_lerp_(state["m"], grads, 1 - beta1)
    torch._foreach_mul_(state["v"], beta2)
    torch._foreach_addcmul_(state["v"], grads, grads, 1 - beta2)
    denom = torch._foreach_sqrt(state["v"])
    torch._foreach_div_(denom, math.sqrt(bc2))
    torch._foreach_add_(params, [torch.atan2(m, d) for m, d in zip(state["m"], denom)], alpha=-lr / bc1)
    for p in params:
        p.grad = None


def timed(fn, device, repeats):
    fn()
    fn()   # compile and warm up
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) * 1000 / repeats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="384x81x11,768x81x11,96x900x12", help="BATCHxSEQxVOCAB, comma-separated")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--eval-repeats", type=int, default=3)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--no-tiling-analysis", action="store_true",
                    help="Inductor's Triton coalescing analysis off (run 60 died in it, tiling_utils.get_pw_red_splits)")
    ap.add_argument("--device", default="cuda")
    a = ap.parse_args()
    if a.no_tiling_analysis:
        torch._inductor.config.triton.coalesce_tiling_analysis = False
    device = a.device
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    print(f"torch {torch.__version__}, {name}, compile {not a.no_compile}, tiling analysis {not a.no_tiling_analysis}")
    for shape in a.shapes.split(","):
        batch, seq, vocab = (int(v) for v in shape.split("x"))
        torch.manual_seed(0)
        model = Model(vocab, seq, device)
        inputs = torch.randint(0, vocab, (batch, seq), device=device)
        labels = torch.randint(0, vocab, (batch, seq), device=device)
        ids = torch.zeros(batch, dtype=torch.long, device=device)
        z_h = model.H_init.expand(batch, seq + 1, D).contiguous()
        z_l = model.L_init.expand(batch, seq + 1, D).contiguous()
        steps = torch.zeros(batch, dtype=torch.int32, device=device)
        loss_fn = train_loss if a.no_compile else torch.compile(train_loss)
        params = model.dense()
        state = {"t": 0, "m": [torch.zeros_like(p) for p in params], "v": [torch.zeros_like(p) for p in params]}

        def train_step():
            # Every step starts from the same carry and data (no slot replacement between
            # steps): the work per step is the same as the reference's, which is what is timed.
            local = model.puzzle_table[ids].clone().requires_grad_()   # the sparse embedding's scratch rows
            loss, _, _, _ = loss_fn(model, z_h, z_l, inputs, labels, local, steps)
            loss.backward()
            with torch.no_grad():   # SignSGD on the rows present (one identifier here)
                g = torch.zeros_like(model.puzzle_table).index_add_(0, ids, local.grad)
                model.puzzle_table.mul_(1 - 1e-2 * 0.1).sub_(1e-2 * g.sign())
            adam_atan2(params, state)

        inner = model.inner if a.no_compile else torch.compile(model.inner)

        def eval_batch():
            with torch.no_grad():
                zh, zl = z_h, z_l
                puzzle = model.puzzle_table[ids]
                for _ in range(MAX_STEPS):
                    zh, zl, logits, _, _ = inner(zh, zl, inputs, puzzle)
                    logits.argmax(-1)

        train_ms = timed(train_step, device, a.repeats)
        eval_ms = timed(eval_batch, device, a.eval_repeats)
        print(f"batch {batch} x {seq} tokens: train step {train_ms:.1f} ms, evaluation batch (16 segments) {eval_ms:.1f} ms")


if __name__ == "__main__":
    main()
