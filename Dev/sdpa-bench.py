#!/usr/bin/env python3
"""Times PyTorch's scaled_dot_product_attention (each backend) on the HRM attention shapes,
forward and forward+backward, as a target for the CUDA kernels. A measuring tool for the
device machine only; nothing in the product uses it.

  python3 Dev/sdpa-bench.py [--shapes 96x901,384x82] [--heads 8] [--head-dim 64]
"""
import argparse
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def timed(fn, repeats):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) * 1000.0 / repeats   # us per call


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shapes", default="96x901,384x82")
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--head-dim", type=int, default=64)
    p.add_argument("--repeats", type=int, default=20)
    a = p.parse_args()
    h, d = a.heads, a.head_dim
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, cudnn {torch.backends.cudnn.version()}")
    backends = [("default", None), ("flash", SDPBackend.FLASH_ATTENTION),
                ("efficient", SDPBackend.EFFICIENT_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)]
    for shape in a.shapes.split(","):
        b, t = (int(x) for x in shape.split("x"))
        qkv = torch.randn(b, t, 3 * h, d, device="cuda", dtype=torch.bfloat16, requires_grad=True)
        q, k, v = (qkv[:, :, i * h:(i + 1) * h].transpose(1, 2) for i in range(3))
        flops = 4.0 * b * h * t * t * d
        for name, be in backends:
            def fwd():
                return F.scaled_dot_product_attention(q, k, v)
            def fwdbwd():
                out = F.scaled_dot_product_attention(q, k, v)
                out.backward(gout)
            gout = torch.randn(b, h, t, d, device="cuda", dtype=torch.bfloat16)
            try:
                if be is None:
                    f_us, fb_us = timed(fwd, a.repeats), timed(fwdbwd, a.repeats)
                else:
                    with sdpa_kernel([be]):
                        f_us, fb_us = timed(fwd, a.repeats), timed(fwdbwd, a.repeats)
            except Exception as e:   # a backend that does not take this shape
                print(f"B{b} T{t} {name:9s} unavailable: {str(e).splitlines()[0][:100]}")
                continue
            print(f"B{b} T{t} {name:9s} fwd {f_us:8.1f} us ({flops / f_us / 1e6:5.1f} TFLOP/s)  "
                  f"bwd {fb_us - f_us:8.1f} us ({2.5 * flops / (fb_us - f_us) / 1e6:5.1f} TFLOP/s)")
            qkv.grad = None


if __name__ == "__main__":
    main()
