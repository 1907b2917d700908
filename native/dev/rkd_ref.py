"""Independent PyTorch reference of the RKD loss (docs/method.md; jextract/dualdistill_kernels.h,
dd_rkd_params) and a ctypes harness for libdualdistill_kernels(.so|_cuda.so).

Used three ways:
  * golden fixtures:  /usr/bin/python3 native/dev/rkd_ref.py golden src/test/resources/golden/rkd_golden.json
                      (Debian's torch 1.13; the Java tests read that file)
  * CPU check:        /usr/bin/python3 native/dev/rkd_ref.py check-cpu native/build/libdualdistill_kernels.so
  * GPU check:        python3 native/dev/rkd_ref.py check-cuda native/build/libdualdistill_kernels_cuda.so [--bench]
                      (on the lent GPU machine; it also runs the CPU library at native/build when it is there).
                      Build there with `make -C native -s OUT=build`: the machine exports $OUT, which the Makefile
                      would otherwise take as its output folder.

The reference is written the naive way, deliberately not from the kernels' Gram-matrix algebra: it forms the
B x B x D difference tensor, the B x B x B cosines from it, masks the pairs and triples, and lets float64 autograd
differentiate it (through mu_s as well), so agreement says something.
"""
import ctypes
import json
import os
import sys
import time

import torch

DTYPES = {torch.float32: 0, torch.float16: 1, torch.bfloat16: 2}
STATUS_OK, STATUS_NULL, STATUS_SHAPE, STATUS_DTYPE, STATUS_NONFINITE, STATUS_PARAM = 0, 1, 2, 3, 6, 8


def reference(s, t, wd=25.0, wa=50.0, eps=1e-12):
    """Returns (L, L_D, L_A, dL/ds [B, Ds]) in float64 for student s [B, Ds] and teacher t [B, Dt]."""
    eps = torch.tensor(eps, dtype=torch.float32).item()  # the kernels receive a float32 eps
    s = s.detach().double().requires_grad_(True)
    t = t.detach().double()
    B = s.shape[0]
    pairs = ~torch.eye(B, dtype=torch.bool)                      # i != j
    triples = pairs.unsqueeze(2) & pairs.unsqueeze(1)            # j != i and k != i

    def relations(e):
        diff = e.unsqueeze(0) - e.unsqueeze(1)                   # diff[i, j] = e_j - e_i, [B, B, D]
        d = torch.sqrt(torch.clamp((diff * diff).sum(2), min=eps))  # [B, B]
        mu = d[pairs].mean()
        dots = torch.bmm(diff, diff.transpose(1, 2))             # [i, j, k] = <e_j - e_i, e_k - e_i>
        cos = dots / (d.unsqueeze(2) * d.unsqueeze(1))
        return d / mu, cos

    with torch.no_grad():
        psi_t, cos_t = relations(t)
    psi_s, cos_s = relations(s)
    l_d = torch.nn.functional.smooth_l1_loss(psi_s[pairs], psi_t[pairs], reduction="mean", beta=1.0)
    l_a = torch.nn.functional.smooth_l1_loss(cos_s[triples], cos_t[triples], reduction="mean", beta=1.0)
    total = wd * l_d + wa * l_a
    total.backward()
    return total.item(), l_d.item(), l_a.item(), s.grad.detach()


class Params(ctypes.Structure):
    _fields_ = [
        ("batch", ctypes.c_int64), ("student_dim", ctypes.c_int64), ("teacher_dim", ctypes.c_int64),
        ("dtype", ctypes.c_int32), ("num_threads", ctypes.c_int32),
        ("student", ctypes.c_void_p), ("teacher", ctypes.c_void_p),
        ("distance_weight", ctypes.c_float), ("angle_weight", ctypes.c_float), ("eps", ctypes.c_float),
        ("reserved0", ctypes.c_int32),
        ("grad_student", ctypes.c_void_p), ("workspace", ctypes.c_void_p), ("workspace_floats", ctypes.c_int64),
        ("loss", ctypes.c_void_p), ("error_flag", ctypes.c_void_p), ("reserved1", ctypes.c_int32),
        ("stream", ctypes.c_void_p),
    ]


def open_lib(path):
    lib = ctypes.CDLL(path)
    lib.dd_abi_version.restype = ctypes.c_int32
    lib.dd_status_string.restype = ctypes.c_char_p
    lib.dd_rkd_workspace_floats.restype = ctypes.c_int64
    lib.dd_rkd_workspace_floats.argtypes = [ctypes.c_int64]
    for name in ("dd_rkd_cpu", "dd_rkd_cuda"):
        if hasattr(lib, name):
            getattr(lib, name).restype = ctypes.c_int32
    return lib


def prepare(lib, s, t, wd=25.0, wa=50.0, eps=1e-12, threads=0, grad=True, stream=None):
    """The params struct and its buffers; returns (params, keep-alive dict)."""
    B, Ds = s.shape
    Dt = t.shape[1]
    dev = s.device
    n = lib.dd_rkd_workspace_floats(B)
    bufs = {
        "ws": torch.empty(max(n, 1), dtype=torch.float32, device=dev),
        "loss": torch.full((3,), float("nan"), dtype=torch.float32, device=dev),
        "flag": torch.zeros(1, dtype=torch.int32, device=dev),
        "grad": torch.full_like(s, float("nan")) if grad else None,
        "s": s, "t": t,
    }
    p = Params()
    p.batch, p.student_dim, p.teacher_dim, p.dtype, p.num_threads = B, Ds, Dt, DTYPES[s.dtype], threads
    p.student, p.teacher = s.data_ptr(), t.data_ptr()
    p.distance_weight, p.angle_weight, p.eps = wd, wa, eps
    p.grad_student = bufs["grad"].data_ptr() if grad else None
    p.workspace, p.workspace_floats = bufs["ws"].data_ptr(), n
    p.loss, p.error_flag, p.stream = bufs["loss"].data_ptr(), bufs["flag"].data_ptr(), stream
    return p, bufs


def run_kernel(lib, fn, s, t, **kw):
    p, bufs = prepare(lib, s, t, **kw)
    rc = fn(ctypes.byref(p))
    return rc, bufs["loss"], bufs["grad"], bufs["flag"]


def make_case(B, Ds, Dt, seed, scale=1.0, offset=0.0, dtype=torch.float32, device="cpu"):
    gen = torch.Generator().manual_seed(seed)
    s = torch.randn(B, Ds, generator=gen) * scale + offset
    t = torch.randn(B, Dt, generator=gen) * scale * 2.0 - offset
    return s.to(dtype).to(device).contiguous(), t.to(dtype).to(device).contiguous()


def errors(loss, g, ref):
    tot, l_d, l_a, rg = ref
    return {
        "loss": max(abs(loss[i].item() - v) / max(1.0, abs(v)) for i, v in enumerate((tot, l_d, l_a))),
        "grad": (g.cpu().double() - rg).abs().max().item() / max(1e-12, rg.abs().max().item()),
    }


def compare(lib, fn, device, sync):
    worst = {}
    n = 0
    tols = {torch.float32: 2e-6, torch.float16: 3e-3, torch.bfloat16: 2e-2}
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        for B in (2, 3, 16, 64):
            for Ds in (1, 7, 432, 768):
                for Dt in ((Ds, 432) if Ds != 432 else (Ds, 7)):
                    if dtype != torch.float32 and Ds != Dt:
                        continue
                    s, t = make_case(B, Ds, Dt, seed=B * 1009 + Ds * 13 + Dt, dtype=dtype, device=device)
                    rc, loss, g, flag = run_kernel(lib, fn, s, t)
                    sync()
                    assert rc == 0 and flag.item() == 0, f"rc={rc} flag={flag.item()} for {B, Ds, Dt, dtype}"
                    ref = reference(s.cpu().double(), t.cpu().double())
                    errs = errors(loss, g, ref)
                    for k, v in errs.items():
                        worst[(str(dtype), k)] = max(worst.get((str(dtype), k), 0.0), v)
                    bad = {k: v for k, v in errs.items() if not v <= tols[dtype]}
                    assert not bad, f"{dtype} B={B} Ds={Ds} Dt={Dt}: {bad}"
                    n += 1
    # weights, eps floor active, a large common offset (cancellation in the Gram identity)
    for kw, scale, offset in ((dict(wd=1.0, wa=2.0), 1.0, 0.0), (dict(eps=0.0625), 0.03, 0.0),
                              (dict(), 1.0, 300.0), (dict(wd=0.0, wa=1.0), 1e-3, 1.0)):
        s, t = make_case(24, 33, 19, seed=7, scale=scale, offset=offset, device=device)
        rc, loss, g, flag = run_kernel(lib, fn, s, t, **kw)
        sync()
        assert rc == 0, rc
        errs = errors(loss, g, reference(s.cpu().double(), t.cpu().double(), **kw))
        for k, v in errs.items():
            worst[("special", k)] = max(worst.get(("special", k), 0.0), v)
        assert all(v <= 1e-5 for v in errs.values()), f"{kw} scale={scale} offset={offset}: {errs}"
        n += 1
    return n, worst


def check(libpath, cuda, bench):
    lib = open_lib(libpath)
    fn = lib.dd_rkd_cuda if cuda else lib.dd_rkd_cpu
    device = "cuda" if cuda else "cpu"
    print(f"abi {lib.dd_abi_version()} device {device} torch {torch.__version__}")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    n, worst = compare(lib, fn, device, sync)
    print(f"{n} cases agree with the float64 PyTorch reference; worst relative errors:")
    for k, v in sorted(worst.items()):
        print(f"  {k[0]:>15} {k[1]:>5} {v:.3e}")

    # degenerate inputs: identical rows, zeros; loss finite, gradient finite (zero when the student is degenerate)
    for name in ("student identical", "student zero", "teacher zero", "both identical"):
        s, t = make_case(16, 64, 48, seed=3, device=device)
        if name == "student identical":
            s[:] = s[0].clone()
        elif name == "student zero":
            s.zero_()
        elif name == "teacher zero":
            t.zero_()
        else:
            s[:] = s[0].clone()
            t[:] = t[0].clone()
        rc, loss, g, flag = run_kernel(lib, fn, s, t)
        sync()
        ref = reference(s.cpu().double(), t.cpu().double())
        errs = errors(loss, g, ref)
        print(f"degenerate {name}: rc={rc} loss={[round(v, 6) for v in loss.tolist()]} ref={[round(v, 6) for v in ref[:3]]}"
              f" |grad|max={g.abs().max().item():.3e} errs={errs}")
        assert rc == 0 and torch.isfinite(loss).all() and torch.isfinite(g).all()
        assert errs["loss"] <= 1e-5
        assert (g.abs().max().item() == 0.0) if name.startswith("student") or name == "both identical" else errs["grad"] <= 1e-5

    # loss only: same loss, grad untouched
    s, t = make_case(16, 40, 30, seed=4, device=device)
    rc1, l1, g1, _ = run_kernel(lib, fn, s, t)
    rc2, l2, _, _ = run_kernel(lib, fn, s, t, grad=False)
    sync()
    assert rc1 == 0 and rc2 == 0 and torch.equal(l1, l2), (l1, l2)
    print("loss-only call: same loss")

    # deterministic: repeated calls, and (CPU) different thread counts, are bit-identical
    s, t = make_case(64, 768, 768, seed=5, device=device)
    runs = [run_kernel(lib, fn, s, t, threads=th) for th in ((1, 2, 3, 0) if not cuda else (0, 0))]
    sync()
    same = all(torch.equal(r[1], runs[0][1]) and torch.equal(r[2], runs[0][2]) for r in runs)
    print(f"deterministic across {'thread counts' if not cuda else 'runs'}: {same}")
    assert same

    # a NaN or an infinity anywhere: DD_ERR_NONFINITE_INPUT (CPU: the return code; CUDA: the device flag)
    for where in ("student", "teacher", "row0"):
        s, t = make_case(8, 17, 9, seed=6, device=device)
        if where == "student":
            s[3, 5] = float("nan")
        elif where == "teacher":
            t[6, 2] = float("inf")
        else:
            s[0, 0] = float("-inf")
        rc, loss, g, flag = run_kernel(lib, fn, s, t)
        sync()
        code = flag.item() if cuda else rc
        print(f"non-finite {where}: rc={rc} flag={flag.item()} ({lib.dd_status_string(code).decode()})")
        assert code == STATUS_NONFINITE and (rc == 0 if cuda else True)

    # argument validation (host side, both backends)
    s, t = make_case(4, 5, 6, seed=8, device=device)
    for what, mutate, want in (
            ("B = 1", lambda p: setattr(p, "batch", 1), STATUS_SHAPE),
            ("Ds = 0", lambda p: setattr(p, "student_dim", 0), STATUS_SHAPE),
            ("bad dtype", lambda p: setattr(p, "dtype", 7), STATUS_DTYPE),
            ("eps = 0", lambda p: setattr(p, "eps", 0.0), STATUS_PARAM),
            ("weight NaN", lambda p: setattr(p, "angle_weight", float("nan")), STATUS_PARAM),
            ("workspace short", lambda p: setattr(p, "workspace_floats", p.workspace_floats - 1), STATUS_SHAPE),
            ("no workspace", lambda p: setattr(p, "workspace", None), STATUS_NULL),
            ("no loss", lambda p: setattr(p, "loss", None), STATUS_NULL),
            ("no student", lambda p: setattr(p, "student", None), STATUS_NULL)):
        p, keep = prepare(lib, s, t)
        mutate(p)
        rc = fn(ctypes.byref(p))
        assert rc == want, f"{what}: rc={rc}, want {want}"
    assert fn(None) == STATUS_NULL
    print("argument validation: ok")

    if bench:
        benchmark(lib, fn, device, sync)


def naive_torch(s, t, wd=25.0, wa=50.0, eps=1e-12):
    """Eager PyTorch in the input precision (the baseline the fused kernel replaces): differences, then autograd."""
    B = s.shape[0]
    pairs = ~torch.eye(B, dtype=torch.bool, device=s.device)
    triples = pairs.unsqueeze(2) & pairs.unsqueeze(1)

    def rel(e):
        diff = e.unsqueeze(0) - e.unsqueeze(1)
        d = torch.sqrt(torch.clamp((diff * diff).sum(2), min=eps))
        cos = torch.bmm(diff, diff.transpose(1, 2)) / (d.unsqueeze(2) * d.unsqueeze(1))
        return d / d[pairs].mean(), cos

    with torch.no_grad():
        pt, ct = rel(t)
    ps, cs = rel(s)
    return wd * torch.nn.functional.smooth_l1_loss(ps[pairs], pt[pairs]) + \
        wa * torch.nn.functional.smooth_l1_loss(cs[triples], ct[triples])


def benchmark(lib, fn, device, sync):
    """Median forward+backward time; the eager baseline only where its O(B^3) tensors fit (B <= 256)."""
    print("benchmark (forward+backward, median of 100):")
    sizes = ((64, 768), (128, 768), (256, 768)) + (((1024, 768),) if device == "cuda" else ())
    for (B, D) in sizes:
        s, t = make_case(B, D, D, seed=1, device=device)
        p, keep = prepare(lib, s, t)
        ref = ctypes.byref(p)
        sl = s.clone().requires_grad_(True)

        def fused():
            fn(ref)

        def composite():
            sl.grad = None
            naive_torch(sl, t).backward()
        res = {}
        runs = [("fused", fused, 100)] + ([("torch", composite, 100)] if B <= 256 else [])
        for name, f, reps in runs:
            for _ in range(3):
                f()
            sync()
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                f()
                sync()
                times.append(time.perf_counter() - t0)
            times.sort()
            res[name] = times[len(times) // 2] * 1e6
        line = f"  B={B:5d} D={D:4d}: fused {res['fused']:10.1f} us"
        if "torch" in res:
            line += f"  torch eager {res['torch']:10.1f} us  ratio {res['torch'] / res['fused']:.1f}x"
        else:
            line += "  (torch eager: its B^3 tensors do not fit)"
        print(line)


def golden(out_path):
    """Small cases for the Java tests: odd shapes, B = 2 and 3, weights, the eps floor, degenerate rows."""
    cases = []
    specs = [
        # (B, Ds, Dt, seed, scale, kwargs, tweak)
        (2, 3, 5, 1, 1.0, {}, None),
        (3, 4, 4, 2, 1.0, {}, None),
        (3, 1, 2, 3, 2.0, {}, None),
        (5, 7, 3, 4, 1.0, dict(wd=1.0, wa=2.0), None),
        (8, 16, 12, 5, 3.0, {}, None),
        (6, 9, 9, 6, 0.05, dict(eps=0.0625), None),
        (4, 6, 5, 7, 1.0, {}, "student identical"),
        (4, 6, 5, 8, 1.0, {}, "student zero"),
        (4, 6, 5, 9, 1.0, {}, "teacher zero"),
        (5, 8, 8, 10, 1.0, {}, "two student rows equal"),
        (7, 10, 6, 11, 1.0, dict(wd=0.0, wa=1.0), None),
    ]
    for (B, Ds, Dt, seed, scale, kw, tweak) in specs:
        s, t = make_case(B, Ds, Dt, seed=2000 + seed, scale=scale)
        if tweak == "student identical":
            s[:] = s[0].clone()
        elif tweak == "student zero":
            s.zero_()
        elif tweak == "teacher zero":
            t.zero_()
        elif tweak == "two student rows equal":
            s[3] = s[1]
        tot, l_d, l_a, g = reference(s, t, **kw)
        cases.append({
            "B": B, "Ds": Ds, "Dt": Dt, "note": tweak or "",
            "distance_weight": kw.get("wd", 25.0), "angle_weight": kw.get("wa", 50.0), "eps": kw.get("eps", 1e-12),
            "student": s.flatten().tolist(), "teacher": t.flatten().tolist(),
            "loss": tot, "distance": l_d, "angle": l_a, "grad": g.flatten().tolist(),
        })
    with open(out_path, "w") as f:
        json.dump({"generator": "native/dev/rkd_ref.py golden", "torch": torch.__version__, "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {out_path}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    cmd = sys.argv[1]
    if cmd == "golden":
        golden(sys.argv[2])
    elif cmd in ("check-cpu", "check-cuda"):
        check(sys.argv[2], cmd == "check-cuda", "--bench" in sys.argv)
        if cmd == "check-cuda":
            cpu_lib = os.path.join(os.path.dirname(sys.argv[2]), "libdualdistill_kernels.so")
            if os.path.exists(cpu_lib):
                print("== the CPU library, for comparison")
                check(cpu_lib, False, "--bench" in sys.argv)
    else:
        raise SystemExit(__doc__)
