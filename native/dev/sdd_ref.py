"""Independent PyTorch reference of the SDD loss (docs/method.md) and a ctypes harness for
dd_sdd_cpu / dd_sdd_cuda in libdualdistill_kernels(.so|_cuda.so).

Used three ways:
  * golden fixtures:  /usr/bin/python3 native/dev/sdd_ref.py golden src/test/resources/golden/sdd_golden.json
                      (Debian's torch 1.13)
  * CPU check:        /usr/bin/python3 native/dev/sdd_ref.py check-cpu native/build/libdualdistill_kernels.so [--bench]
  * GPU check:        python3 native/dev/sdd_ref.py check-cuda native/build/libdualdistill_kernels_cuda.so [--bench]
                      (on the lent GPU machine)
  * sanitizer case:   compute-sanitizer --tool memcheck python3 native/dev/sdd_ref.py sanitize-case LIB_CUDA.so

The reference follows the formulas, not the kernel's algebra: F.normalize along the channel dimension (dim 1),
the residual target r = n(a) - n(b) under no_grad, F.mse_loss and autograd, all in float64.
"""
import ctypes
import json
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {torch.float32: 0, torch.float16: 1, torch.bfloat16: 2}
X3D_S_RES5 = (192, 13, 5, 5)  # student last stage, per sample


def reference(rh, a, b, eps=1e-6):
    """Returns (loss, grad like rh, per-sample sums of squared error [B]) in float64."""
    rh = rh.detach().double().requires_grad_(True)
    with torch.no_grad():
        r = F.normalize(a.double(), p=2.0, dim=1, eps=eps) - F.normalize(b.double(), p=2.0, dim=1, eps=eps)
    loss = F.mse_loss(rh, r)
    loss.backward()
    per_sample = ((rh.detach() - r) ** 2).reshape(rh.shape[0], -1).sum(1)
    return loss.detach(), rh.grad.detach(), per_sample


class Params(ctypes.Structure):
    _fields_ = [
        ("batch", ctypes.c_int64), ("channels", ctypes.c_int64), ("positions", ctypes.c_int64),
        ("dtype", ctypes.c_int32), ("num_threads", ctypes.c_int32),
        ("r_hat", ctypes.c_void_p), ("a", ctypes.c_void_p), ("b", ctypes.c_void_p),
        ("eps", ctypes.c_float), ("reserved0", ctypes.c_int32),
        ("grad_r_hat", ctypes.c_void_p), ("partial", ctypes.c_void_p), ("loss", ctypes.c_void_p),
        ("error_flag", ctypes.c_void_p), ("reserved1", ctypes.c_int32), ("stream", ctypes.c_void_p),
    ]


def run_kernel(fn, rh, a, b, eps=1e-6, threads=0, grad=True, stream=None):
    """Calls the kernel on contiguous tensors; returns (rc, loss [1], grad or None, partial [B], flag [1])."""
    dev = rh.device
    B, D = rh.shape[0], rh.shape[1]
    P = rh.numel() // (B * D)
    p = Params()
    p.batch, p.channels, p.positions, p.dtype, p.num_threads = B, D, P, DTYPES[rh.dtype], threads
    p.r_hat, p.a, p.b, p.eps = rh.data_ptr(), a.data_ptr(), b.data_ptr(), eps
    g = torch.full_like(rh, float("nan")) if grad else None
    partial = torch.empty(B, device=dev)
    loss = torch.empty(1, device=dev)
    flag = torch.zeros(1, dtype=torch.int32, device=dev)
    p.grad_r_hat = g.data_ptr() if grad else None
    p.partial, p.loss, p.error_flag, p.stream = partial.data_ptr(), loss.data_ptr(), flag.data_ptr(), stream
    rc = fn(ctypes.byref(p))
    return rc, loss, g, partial, flag


def make_case(shape, seed, dtype=torch.float32, device="cpu", scale=1.0, zeros=False):
    """r_hat ~ N(0, 0.5^2), a and b ~ N(0, scale^2) with unlike scales; with zeros, some positions of a are exactly
    zero and some of b have a norm below eps."""
    gen = torch.Generator().manual_seed(seed)
    rh = torch.randn(shape, generator=gen) * 0.5
    a = torch.randn(shape, generator=gen) * scale
    b = torch.randn(shape, generator=gen) * scale * 3.0
    if zeros:
        flat_a = a.view(shape[0], shape[1], -1)
        flat_b = b.view(shape[0], shape[1], -1)
        P = flat_a.shape[2]
        flat_a[:, :, 0:P:3] = 0.0
        flat_b[:, :, 1:P:4] *= 1e-9
    return tuple(t.to(dtype).to(device).contiguous() for t in (rh, a, b))


SHAPES = [(1,) + X3D_S_RES5, (2,) + X3D_S_RES5, (16,) + X3D_S_RES5, (3, 7, 5, 3, 2), (2, 1, 1, 1, 1),
          (2, 432, 3, 4, 5), (1, 3, 1, 1, 33), (2, 16, 4, 8, 8), (5, 2, 31), (1, 64, 1, 1, 1), (4, 33, 2, 7, 7)]


def compare(fn, device, sync, dtypes):
    worst = {}
    n = 0
    for dtype in dtypes:
        tol = 1e-5 if dtype == torch.float32 else 1e-2
        for i, shape in enumerate(SHAPES):
            for zeros in (False, True):
                rh, a, b = make_case(shape, seed=100 + i, dtype=dtype, device=device, zeros=zeros)
                rc, loss, g, partial, flag = run_kernel(fn, rh, a, b)
                sync()
                assert rc == 0 and flag.item() == 0, f"rc={rc} flag={flag.item()} for {shape}"
                L, rg, rp = reference(rh.cpu(), a.cpu(), b.cpu())
                errs = {
                    "loss": abs(loss.item() - L.item()) / max(1.0, abs(L.item())),
                    "grad": (g.cpu().double() - rg).abs().max().item() / max(1e-30, rg.abs().max().item()),
                    "partial": ((partial.cpu().double() - rp).abs() / rp.abs().clamp_min(1.0)).max().item(),
                }
                for k, v in errs.items():
                    worst[(str(dtype), k)] = max(worst.get((str(dtype), k), 0.0), v)
                bad = {k: v for k, v in errs.items() if not v <= tol}
                assert not bad, f"{dtype} {shape} zeros={zeros}: {bad}"
                assert torch.isfinite(g).all(), f"{dtype} {shape}: non-finite gradient"
                n += 1
    return n, worst


def check(libpath, cuda, bench):
    lib = ctypes.CDLL(libpath)
    lib.dd_abi_version.restype = ctypes.c_int32
    lib.dd_status_string.restype = ctypes.c_char_p
    fn = lib.dd_sdd_cuda if cuda else lib.dd_sdd_cpu
    fn.restype = ctypes.c_int32
    device = "cuda" if cuda else "cpu"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    print(f"abi {lib.dd_abi_version()} device {device} torch {torch.__version__}"
          + (f" ({torch.cuda.get_device_name(0)})" if cuda else ""))

    n, worst = compare(fn, device, sync, (torch.float32, torch.float16, torch.bfloat16))
    print(f"{n} cases agree with the float64 PyTorch reference; worst relative errors:")
    for k, v in sorted(worst.items()):
        print(f"  {k[0]:>15} {k[1]:>8} {v:.3e}")

    # determinism: thread counts (CPU) or repeated launches (CUDA) give bit-identical outputs
    rh, a, b = make_case((16,) + X3D_S_RES5, seed=7, device=device)
    outs = [run_kernel(fn, rh, a, b, threads=t) for t in ((1, 2, 3) if not cuda else (0, 0, 0))]
    sync()
    same = all(torch.equal(o[1], outs[0][1]) and torch.equal(o[2], outs[0][2]) and torch.equal(o[3], outs[0][3])
               for o in outs)
    print(f"deterministic over {'thread counts 1, 2, 3' if not cuda else 'three launches'}: {same}")
    assert same

    # loss only (no gradient buffer): same loss
    rc, loss_only, _, _, _ = run_kernel(fn, rh, a, b, grad=False)
    sync()
    assert rc == 0 and torch.equal(loss_only, outs[0][1]), "loss-only call differs"
    print("loss only: same loss")

    # huge but finite features: float sums of squares overflow, the result must stay right (CPU: double redo)
    rh, a, b = make_case((2, 64, 3, 3, 3), seed=8, device=device)
    a *= 1e20
    rc, loss, g, partial, flag = run_kernel(fn, rh, a, b)
    sync()
    L, rg, _ = reference(rh.cpu(), a.cpu(), b.cpu())
    err = abs(loss.item() - L.item()) / L.item()
    gerr = (g.cpu().double() - rg).abs().max().item() / rg.abs().max().item()
    print(f"|a| ~ 1e20: rc={rc} flag={flag.item()} loss rel err {err:.2e} grad {gerr:.2e}")
    assert rc == 0 and flag.item() == 0 and err < 1e-5 and gerr < 1e-5

    # non-finite inputs: DD_ERR_NONFINITE_INPUT (6), as the return code (CPU) or the device flag (CUDA)
    for name in ("r_hat", "a", "b"):
        for bad in (float("nan"), float("inf")):
            rh, a, b = make_case((3, 7, 5, 3, 2), seed=9, device=device)
            {"r_hat": rh, "a": a, "b": b}[name].view(-1)[200] = bad
            rc, loss, g, partial, flag = run_kernel(fn, rh, a, b)
            sync()
            status = flag.item() if cuda else rc
            assert status == 6, f"{name}={bad}: rc={rc} flag={flag.item()}"
    print(f"NaN/inf in r_hat, a or b: status 6 ({lib.dd_status_string(6).decode()})")

    # parameter checks, before any memory is touched
    rh, a, b = make_case((2, 3, 4), seed=10, device=device)
    codes = {}
    p = Params()
    p.batch, p.channels, p.positions, p.dtype, p.eps = 2, 3, 4, 0, 1e-6
    p.r_hat, p.a, p.b = rh.data_ptr(), a.data_ptr(), b.data_ptr()
    part, loss = torch.empty(2, device=device), torch.empty(1, device=device)
    p.partial, p.loss = part.data_ptr(), loss.data_ptr()
    codes["ok"] = fn(ctypes.byref(p))
    for field, value, name in (("eps", 0.0, "eps 0"), ("eps", float("nan"), "eps nan"), ("dtype", 7, "dtype 7"),
                               ("channels", 0, "D 0"), ("positions", -1, "P -1"), ("num_threads", -2, "threads -2"),
                               ("a", None, "a NULL"), ("loss", None, "loss NULL")):
        saved = getattr(p, field)
        setattr(p, field, value)
        codes[name] = fn(ctypes.byref(p))
        setattr(p, field, saved)
    codes["params NULL"] = fn(None)
    sync()
    print("parameter checks:", codes)
    assert codes == {"ok": 0, "eps 0": 8, "eps nan": 8, "dtype 7": 3, "D 0": 2, "P -1": 2, "threads -2": 8,
                     "a NULL": 1, "loss NULL": 1, "params NULL": 1}
    if bench:
        benchmark(fn, device, sync)


def torch_composite(rh, a, b, eps=1e-6):
    """Eager PyTorch of the same math in the input precision (the baseline the fused kernel replaces)."""
    with torch.no_grad():
        r = F.normalize(a, dim=1, eps=eps) - F.normalize(b, dim=1, eps=eps)
    return F.mse_loss(rh, r)


def prepared(fn, rh, a, b, threads=0):
    """Builds the params struct and output buffers once; returns a zero-argument call (the kernel alone)."""
    B, D = rh.shape[0], rh.shape[1]
    p = Params()
    p.batch, p.channels, p.positions = B, D, rh.numel() // (B * D)
    p.dtype, p.num_threads, p.eps = DTYPES[rh.dtype], threads, 1e-6
    p.r_hat, p.a, p.b = rh.data_ptr(), a.data_ptr(), b.data_ptr()
    keep = [torch.empty_like(rh), torch.empty(B, device=rh.device), torch.empty(1, device=rh.device),
            torch.zeros(1, dtype=torch.int32, device=rh.device)]
    p.grad_r_hat, p.partial, p.loss, p.error_flag = (t.data_ptr() for t in keep)
    ref = ctypes.byref(p)

    def call():
        return fn(ref)
    call.keep = (p, keep, rh, a, b)
    return call


def median_us(f, sync, n=200):
    for _ in range(20):
        f()
    sync()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2] * 1e6


def throughput_us(f, sync, n=500):
    for _ in range(20):
        f()
    sync()
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    sync()
    return (time.perf_counter() - t0) / n * 1e6


def benchmark(fn, device, sync):
    if device == "cpu":
        torch.set_num_threads(2)
    threads = 2 if device == "cpu" else 0
    print(f"benchmark, forward+backward (torch threads {torch.get_num_threads()}, kernel threads {threads}):")
    print("  latency = median of 200 synchronized calls; throughput = mean over 500 back-to-back calls, one sync")
    for shape in ((16,) + X3D_S_RES5, (64,) + X3D_S_RES5, (2,) + X3D_S_RES5, (16, 432, 8, 7, 7)):
        rh, a, b = make_case(shape, seed=1, device=device)
        call = prepared(fn, rh, a, b, threads)
        assert call() == 0
        leaf = rh.clone().requires_grad_(True)

        def composite():
            leaf.grad = None
            torch_composite(leaf, a, b).backward()

        fl, tl = median_us(call, sync), median_us(composite, sync)
        ft, tt = throughput_us(call, sync), throughput_us(composite, sync, n=200)
        gbs = 4 * rh.numel() * rh.element_size() / (ft * 1e-6) / 1e9  # r_hat, a, b read; grad written
        print(f"  {str(list(shape)):>22}: latency fused {fl:8.1f} us, torch eager {tl:8.1f} us ({tl / fl:5.1f}x); "
              f"throughput fused {ft:8.1f} us ({gbs:6.1f} GB/s), torch eager {tt:8.1f} us ({tt / ft:5.1f}x)")


def sanitize_case(libpath):
    """A few small CUDA launches for compute-sanitizer: every tile width (P = 1, 50, 100, 325), every dtype, with and
    without the gradient, and a NaN reported through the flag."""
    lib = ctypes.CDLL(libpath)
    fn = lib.dd_sdd_cuda
    fn.restype = ctypes.c_int32
    for dtype in DTYPES:
        for shape in ((2, 3, 1), (3, 5, 50), (2, 70, 100), (2, 192, 13, 5, 5), (1, 1, 1, 1, 1)):
            rh, a, b = make_case(shape, seed=3, dtype=dtype, device="cuda", zeros=True)
            for grad in (True, False):
                assert run_kernel(fn, rh, a, b, grad=grad)[0] == 0
    rh, a, b = make_case((2, 8, 40), seed=4, device="cuda")
    a.view(-1)[5] = float("nan")
    flag = run_kernel(fn, rh, a, b)[4]
    torch.cuda.synchronize()
    assert flag.item() == 6
    print("sanitize case done")


def _digits(t, n):
    """Values as a flat list with n significant digits (9 round-trip float32 exactly)."""
    return [float(f"{v:.{n}g}") for v in t.flatten().tolist()]


def golden(out_path):
    """Small odd shapes in float32 (inputs as stored), float64 reference outputs."""
    specs = [
        ((2, 5, 3, 2, 2), 1e-6, {}),
        ((3, 7, 5, 3, 2), 1e-6, {}),
        ((1, 4, 1, 1, 3), 1e-6, {"zeros": True}),
        ((2, 1, 1, 1, 1), 1e-6, {}),
        ((2, 3, 5), 1e-6, {}),                  # rank 3: [B, D, P]
        ((2, 6, 2, 3), 0.5, {"scale": 0.1}),     # rank 4 and a large eps: most norms are floored
        ((1, 9, 2, 2, 2), 1e-6, {"same": True}),  # a == b: r = 0
        ((1, 40, 1, 5, 7), 1e-6, {"zeros": True}),  # D > 32 (two channel blocks); P = 35: a full and a partial strip
    ]
    cases = []
    for i, (shape, eps, opt) in enumerate(specs):
        rh, a, b = make_case(shape, seed=2000 + i, scale=opt.get("scale", 1.0), zeros=opt.get("zeros", False))
        if opt.get("same"):
            b = a.clone()
        L, g, per = reference(rh, a, b, eps=eps)
        cases.append({
            "shape": list(shape), "eps": eps,
            "r_hat": _digits(rh, 9), "a": _digits(a, 9), "b": _digits(b, 9),
            "loss": _digits(L, 13)[0], "grad": _digits(g, 13), "partial": _digits(per, 13),
        })
    with open(out_path, "w") as f:
        json.dump({"generator": "native/dev/sdd_ref.py golden", "torch": torch.__version__, "cases": cases}, f)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {out_path}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    cmd = sys.argv[1]
    if cmd == "golden":
        golden(sys.argv[2])
    elif cmd == "sanitize-case":
        sanitize_case(sys.argv[2])
    elif cmd in ("check-cpu", "check-cuda"):
        check(sys.argv[2], cmd == "check-cuda", "--bench" in sys.argv)
    else:
        raise SystemExit(__doc__)
