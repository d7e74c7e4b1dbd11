"""What the PyTorch peer runs on, checked rather than assumed: the thread count it is given (2 by
default, as tlpipe's two workers; Debian's torch starts with 1 here), which BLAS the process actually
loaded (Debian's torch links libblas.so.3, which the alternatives system points at the reference BLAS
or, once libopenblas0-pthread is installed, at OpenBLAS), and whether oneDNN runs its convolutions.
Each of bench/pytorch_*.py calls `configure()` first and puts `describe()` into its JSON."""
import os
import re

import torch

REFERENCE_BLAS_DIR = "/usr/lib/x86_64-linux-gnu/blas/"


def configure():
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
    # Off unless asked: a plain PyTorch user's loop does not flush denormals (see compare-pytorch.ts).
    if os.environ.get("TORCH_FLUSH_DENORMAL") == "1":
        torch.set_flush_denormal(True)


def mapped_libraries():
    """Every shared library this process has mapped (after the work that loads them)."""
    with open("/proc/self/maps") as maps:
        return sorted({line.split()[-1] for line in maps if ".so" in line.split()[-1]})


def describe():
    # A matmul and a convolution first: BLAS and oneDNN are loaded (or dispatched to) on first use.
    torch.ones(64, 64) @ torch.ones(64, 64)
    torch.nn.functional.conv2d(torch.ones(1, 3, 16, 16), torch.ones(8, 3, 3, 3))
    libraries = mapped_libraries()
    blas_libraries = [lib for lib in libraries if re.search(r"blas|mkl_|libblis|libflexiblas", os.path.basename(lib))]
    blas = {"api": "unknown", "libraries": blas_libraries}
    try:
        from threadpoolctl import threadpool_info

        found = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    except ImportError:
        found = []
        blas["threadpoolctl"] = "not installed (Debian: python3-threadpoolctl)"
    reference = [lib for lib in blas_libraries if os.path.realpath(lib).startswith(REFERENCE_BLAS_DIR) or lib.startswith(REFERENCE_BLAS_DIR)]
    if reference:
        # Whatever else is mapped (a numpy wheel's own OpenBLAS, say), a reference libblas in the process may be
        # the one torch calls: threadpoolctl's first BLAS entry cannot tell, so this counts as the reference BLAS.
        blas.update(api="reference", library=reference[0])
    elif found:
        # threadpoolctl knows OpenBLAS, MKL, BLIS and FlexiBLAS by their own entry points.
        p = found[0]
        blas.update(api=p.get("internal_api"), version=p.get("version"), threads=p.get("num_threads"), library=p.get("filepath"))
    elif any("openblas" in lib for lib in blas_libraries):
        blas.update(api="openblas", library=next(lib for lib in blas_libraries if "openblas" in lib))
    dnnl = [lib for lib in libraries if "libdnnl" in lib or "libmkldnn" in lib]
    onednn = {
        "available": bool(torch.backends.mkldnn.is_available()),
        "enabled": bool(torch.backends.mkldnn.enabled),
        "library": dnnl[0] if dnnl else None,
    }
    onednn["on"] = onednn["available"] and onednn["enabled"]
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": blas,
        "onednn": onednn,
        "flushDenormal": os.environ.get("TORCH_FLUSH_DENORMAL") == "1",
        # libgomp spins between parallel regions unless told PASSIVE: on a shared machine that spinning
        # starves the other thread (compare-pytorch.ts sets PASSIVE for the peer; this reports what ran).
        "ompWaitPolicy": os.environ.get("OMP_WAIT_POLICY", "default (spinning)"),
    }
