#!/usr/bin/env python3
"""nvrtc-check.py: compile the embedded CUDA kernel files with a local NVRTC (no GPU needed)
to a cubin for one architecture and print the compiler log with ptxas's register and spill
lines, as the device would. Catches PTX errors (e.g. wgmma operands) before a device call.

  pip download --no-deps -d /tmp/nvrtcpkg nvidia-cuda-nvrtc-cu12 && unzip -q /tmp/nvrtcpkg/*.whl -d /tmp/nvrtc
  NVRTC=/tmp/nvrtc/nvidia/cuda_nvrtc/lib/libnvrtc.so.12 Dev/nvrtc-check.py [--arch sm_90a] [file.cu ...]

With --cubin-dir DIR the cubins are written there too (for nvdisasm -c, e.g. from the
nvidia-cuda-nvdisasm wheel, to read the SASS of a kernel). With --sass FILE (and NVDISASM
set to that nvdisasm) the instructions of every kernel, labels normalised, go to FILE: two
such listings taken before and after a refactoring that should not change the machine code
must be equal (`cmp`), which checks it without a GPU.

Mirrors KernelCompiler.swift's options (-std=c++17 -default-device, -DHRM_SM90A=1 for sm_90a,
common.cuh and the other headers passed by name). Exit status 1 on any compile error.
"""
import ctypes, glob, os, re, sys

here = os.path.dirname(os.path.abspath(__file__))
kernels = os.path.join(here, "..", "Sources", "HRMCUDA", "Kernels")
args = sys.argv[1:]
arch = "sm_90a"
cubin_dir = sass_file = None
if "--cubin-dir" in args:
    i = args.index("--cubin-dir"); cubin_dir = args[i + 1]; del args[i:i + 2]
if "--sass" in args:
    i = args.index("--sass"); sass_file = args[i + 1]; del args[i:i + 2]
    import subprocess, tempfile
    cubin_dir = cubin_dir or tempfile.mkdtemp()
    listing = []
if "--arch" in args:
    i = args.index("--arch"); arch = args[i + 1]; del args[i:i + 2]
files = args or sorted(glob.glob(os.path.join(kernels, "*.cu")))
lib = ctypes.CDLL(os.environ.get("NVRTC", "libnvrtc.so"))
headers = sorted(glob.glob(os.path.join(kernels, "*.cuh")))
hnames = (ctypes.c_char_p * len(headers))(*[os.path.basename(h).encode() for h in headers])
hsrcs = (ctypes.c_char_p * len(headers))(*[open(h, "rb").read() for h in headers])
opts = [f"--gpu-architecture={arch}", "-std=c++17", "-default-device", "--ptxas-options=-v"]
if arch == "sm_90a": opts.append("-DHRM_SM90A=1")
copts = (ctypes.c_char_p * len(opts))(*[o.encode() for o in opts])
status = 0
for f in files:
    prog = ctypes.c_void_p()
    src = open(f, "rb").read()
    lib.nvrtcCreateProgram(ctypes.byref(prog), src, os.path.basename(f).encode(), len(headers), hsrcs, hnames)
    rc = lib.nvrtcCompileProgram(prog, len(opts), copts)
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, log)
    text = log.value.decode(errors="replace")
    print(f"== {os.path.basename(f)}: {'OK' if rc == 0 else 'FAILED'}")
    if rc != 0:
        print(text); status = 1; continue
    if cubin_dir:
        os.makedirs(cubin_dir, exist_ok=True)
        lib.nvrtcGetCUBINSize(prog, ctypes.byref(size))
        cubin = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetCUBIN(prog, cubin)
        path = os.path.join(cubin_dir, os.path.basename(f) + ".cubin")
        open(path, "wb").write(cubin.raw)
        if sass_file:
            sass = subprocess.run([os.environ.get("NVDISASM", "nvdisasm"), "-c", path], capture_output=True,
                                  text=True).stdout
            for line in sass.splitlines():
                m = re.match(r"\s*(\.text\.\w+):", line) or re.match(r"\s+/\*[0-9a-f]+\*/\s+(.*?);", line)
                if m: listing.append(re.sub(r"\.L_x_\d+", "L", m.group(1)))
    name = None
    for line in text.splitlines():
        m = re.search(r"Compiling entry function '(\w+)'", line)
        if m: name = m.group(1)
        m = re.search(r"Used (\d+) registers", line)
        if m and name: print(f"  {name}: {m.group(1)} registers")
        m = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m and (m.group(1) != "0" or m.group(2) != "0"): print(f"  {name}: {line.strip()}")
        if "warning" in line.lower() or "Performance" in line: print("  " + line.strip())
if sass_file:
    open(sass_file, "w").write("\n".join(listing) + "\n")
    print(f"{len(listing)} lines of SASS in {sass_file}")
sys.exit(status)
