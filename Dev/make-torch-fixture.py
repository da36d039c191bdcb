#!/usr/bin/env python3
# make-torch-fixture.py: writes the PyTorch-checkpoint fixtures the Swift tests read
# (Tests/Fixtures/torch/). Run once from the repository root: python3 Dev/make-torch-fixture.py
#
# PyTorch itself is not installed on the build machines (CPU torch from PyPI is ~200 MB), so
# this script reproduces the byte layout torch.save (zip format, torch>=1.6, default
# pickle_protocol=2) produces for a state dict, using only the standard library:
#   archive/data.pkl      protocol-2 pickle of an OrderedDict (with its _metadata attribute)
#                         whose values are torch._utils._rebuild_tensor_v2(storage, offset,
#                         size, stride, requires_grad, OrderedDict()) and whose storages are
#                         persistent ids ('storage', torch.<T>Storage, key, 'cpu', numel)
#   archive/byteorder     b"little"
#   archive/data/<key>    raw little-endian storage bytes, one entry per storage
#   archive/version       b"3\n"
#   archive/.data/serialization_id
# all as STORED (uncompressed) zip entries, as torch.save writes them. Stand-in modules named
# `torch` / `torch._utils` give the pickle the same GLOBAL opcodes the real classes produce.
#
# Fixtures:
#   tiny_state_dict.pt  a complete HRM state dict (hidden 8, 2 heads, 1+1 layers, expansion 4,
#                       vocab 11, one puzzle identifier), keys prefixed `_orig_mod.model.inner.`
#                       as a compiled reference model saves them; H_init/L_init in bf16, the
#                       rest f32. lm_head.weight is stored transposed (a strided view) and
#                       q_head.bias as a view at offset 2 of a larger storage, to exercise views.
#                       Element i (row-major) of the k-th key is value(k, i) below, exact in bf16.
#   evil.pt             the same container whose pickle calls os.system("echo pwned"); a safe
#                       reader must refuse it without running anything.

import collections, io, os, pickle, struct, sys, types, zipfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "torch")

# --- stand-ins with the real qualified names ------------------------------------------
torch = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")
def _rebuild_tensor_v2(*args):  # never called here; only its name is pickled
    raise RuntimeError("stand-in")
_rebuild_tensor_v2.__module__ = "torch._utils"
torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2
torch._utils = torch_utils
class FloatStorage: pass
class BFloat16Storage: pass
for cls in (FloatStorage, BFloat16Storage):
    cls.__module__ = "torch"
    setattr(torch, cls.__name__, cls)
sys.modules["torch"] = torch
sys.modules["torch._utils"] = torch_utils


class Storage:
    def __init__(self, kind, key, payload, numel):
        self.kind, self.key, self.payload, self.numel = kind, key, payload, numel


class FakeTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce_ex__(self, protocol):
        return (_rebuild_tensor_v2,
                (self.storage, self.offset, tuple(self.size), tuple(self.stride), False, collections.OrderedDict()))


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.kind, obj.key, "cpu", obj.numel)
        return None


def value(k, i):
    return float(((i * 7 + k * 13) % 29) - 14) / 64.0


def f32(values):
    return b"".join(struct.pack("<f", v) for v in values)


def bf16(values):
    return b"".join(struct.pack("<I", struct.unpack("<I", struct.pack("<f", v))[0])[2:] for v in values)


def tiny_layout():
    d, v, mlp = 8, 11, 256  # mlp = ceil(round(4*8*2/3)/256)*256
    out = [("H_init", [d], "bf16"), ("L_init", [d], "bf16"),
           ("embed_tokens.embedding_weight", [v, d], "f32"), ("lm_head.weight", [v, d], "f32"),
           ("q_head.weight", [2, d], "f32"), ("q_head.bias", [2], "f32"), ("puzzle_emb.weights", [1, d], "f32")]
    for level in ("H_level", "L_level"):
        p = level + ".layers.0."
        out += [(p + "self_attn.qkv_proj.weight", [3 * d, d], "f32"), (p + "self_attn.o_proj.weight", [d, d], "f32"),
                (p + "mlp.gate_up_proj.weight", [2 * mlp, d], "f32"), (p + "mlp.down_proj.weight", [d, mlp], "f32")]
    return out


def write_archive(path, pickled, storages):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickled)
        z.writestr("archive/byteorder", b"little")
        for s in storages:
            z.writestr("archive/data/" + s.key, s.payload)
        z.writestr("archive/version", b"3\n")
        z.writestr("archive/.data/serialization_id", b"1234567890123456789012345678901234567890")


def make_tiny():
    state = collections.OrderedDict()
    storages = []
    for k, (name, shape, dtype) in enumerate(tiny_layout()):
        n = 1
        for s in shape:
            n *= s
        vals = [value(k, i) for i in range(n)]
        key = str(len(storages))
        if name == "lm_head.weight":  # stored as the transpose: storage[c * rows + r] = W[r, c]
            rows, cols = shape
            st = [vals[r * cols + c] for c in range(cols) for r in range(rows)]
            storage = Storage(FloatStorage, key, f32(st), n)
            t = FakeTensor(storage, 0, shape, [1, rows])
        elif name == "q_head.bias":  # a view at offset 2 of a 4-element storage
            storage = Storage(FloatStorage, key, f32([9.0, 9.0] + vals), n + 2)
            t = FakeTensor(storage, 2, shape, [1])
        else:
            kind, payload = (BFloat16Storage, bf16(vals)) if dtype == "bf16" else (FloatStorage, f32(vals))
            storage = Storage(kind, key, payload, n)
            stride = [1] * len(shape)
            for j in range(len(shape) - 2, -1, -1):
                stride[j] = stride[j + 1] * shape[j + 1]
            t = FakeTensor(storage, 0, shape, stride)
        storages.append(storage)
        state["_orig_mod.model.inner." + name] = t
    state._metadata = collections.OrderedDict([("", {"version": 1}), ("_orig_mod", {"version": 1})])
    buf = io.BytesIO()
    TorchPickler(buf, protocol=2).dump(state)
    write_archive(os.path.join(OUT, "tiny_state_dict.pt"), buf.getvalue(), storages)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def make_evil():
    buf = io.BytesIO()
    pickle.Pickler(buf, protocol=2).dump(collections.OrderedDict([("model.inner.H_init", Evil())]))
    write_archive(os.path.join(OUT, "evil.pt"), buf.getvalue(), [])


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    make_tiny()
    make_evil()
    print("wrote", os.path.normpath(OUT))
