"""Independent PyTorch reference of the DATW + KD + CE loss (docs/method.md) and a ctypes
harness for libdualdistill_kernels(.so|_cuda.so).

Used three ways:
  * golden fixtures:  /usr/bin/python3 native/dev/datw_ref.py golden OUT.json  (Debian's torch 1.13; see
    src/test/resources/golden/README.md)
  * CPU check:        /usr/bin/python3 native/dev/datw_ref.py check-cpu native/build/libdualdistill_kernels.so
  * GPU check:        python3 native/dev/datw_ref.py check-cuda LIB.so [--bench]   (on the lent GPU machine)

The reference is written from the formulas with autograd, deliberately not from the kernel's algebra: it builds
softmax/entropy/KL the textbook way in float64, so agreement says something.
"""
import ctypes
import json
import math
import sys
import time

import torch

WEIGHTINGS = {"datw": 0, "uniform": 1, "ebkd": 2, "camkd": 3}
SCORES = {"product": 0, "sum": 1}
NORMS = {"softmax": 0, "linear": 1}
DTYPES = {torch.float32: 0, torch.float16: 1, torch.bfloat16: 2}
MAXK = 8


def reference(s, ts, y, weighting="datw", score="product", norm="softmax", T=4.0, tau_c=1.0, tau_w=0.25,
              lam=0.5, eps=1e-8, a_ce=1.0, a_kd=1.0, ls=0.0):
    """Returns (total, kd, ce, grad [B,C], weights [B,K], conf [B,K], disc [B,K]) in float64."""
    s = s.detach().double().requires_grad_(True)
    ts = [t.detach().double() for t in ts]
    B, C = s.shape
    K = len(ts)
    with torch.no_grad():
        ent = []
        for t in ts:
            pt = torch.softmax(t / tau_c, dim=1)
            logpt = torch.log_softmax(t / tau_c, dim=1)
            ent.append(-(pt * logpt).sum(1))
        ent = torch.stack(ent, 1)
        conf = (1.0 - ent / math.log(C)).clamp(0.0, 1.0)
        sn = s.norm(dim=1).clamp_min(1e-8)
        disc = torch.stack([(1.0 - (s * t).sum(1) / (sn * t.norm(dim=1).clamp_min(1e-8))) / 2.0 for t in ts], 1)
        if weighting == "uniform" or K == 1:
            w = torch.full((B, K), 1.0 / K, dtype=torch.float64)
        elif weighting == "ebkd":
            w = 1.0 - ent / (ent.sum(1, keepdim=True) + 1e-12)
            w = w / w.sum(1, keepdim=True)
        elif weighting == "camkd":
            ce_t = torch.stack([torch.nn.functional.cross_entropy(t, y, reduction="none") for t in ts], 1)
            w = (1.0 - torch.softmax(ce_t, dim=1)) / (K - 1)
        else:
            e = conf * disc if score == "product" else lam * conf + (1.0 - lam) * disc
            if norm == "softmax":
                w = torch.softmax(e / tau_w, dim=1)
            else:
                w = (e + eps) / (e + eps).sum(1, keepdim=True)
        z = sum(w[:, k:k + 1] * ts[k] for k in range(K))
        q = torch.softmax(z / T, dim=1)
    logp = torch.log_softmax(s / T, dim=1)
    kl = (q * (torch.log(q.clamp_min(1e-300)) - logp)).sum(1)
    kd = T * T * kl.mean()
    if y is not None:
        ce = torch.nn.functional.cross_entropy(s, y, label_smoothing=ls)
    else:
        ce = torch.zeros((), dtype=torch.float64)
    total = a_kd * kd + (a_ce * ce if y is not None else 0.0)
    total.backward()
    return total.detach(), kd.detach(), ce.detach(), s.grad.detach(), w, conf, disc


class Params(ctypes.Structure):
    _fields_ = [
        ("batch", ctypes.c_int64), ("classes", ctypes.c_int64), ("teachers", ctypes.c_int32), ("dtype", ctypes.c_int32),
        ("student", ctypes.c_void_p), ("student_stride", ctypes.c_int64),
        ("teacher", ctypes.c_void_p * MAXK), ("teacher_stride", ctypes.c_int64 * MAXK), ("labels", ctypes.c_void_p),
        ("weighting", ctypes.c_int32), ("score_mode", ctypes.c_int32), ("norm_mode", ctypes.c_int32),
        ("num_threads", ctypes.c_int32),
        ("temperature", ctypes.c_float), ("tau_conf", ctypes.c_float), ("tau_weight", ctypes.c_float),
        ("lambda_", ctypes.c_float), ("linear_eps", ctypes.c_float), ("alpha_ce", ctypes.c_float),
        ("alpha_kd", ctypes.c_float), ("label_smoothing", ctypes.c_float),
        ("grad_student", ctypes.c_void_p), ("grad_stride", ctypes.c_int64),
        ("weights", ctypes.c_void_p), ("confidence", ctypes.c_void_p), ("discrepancy", ctypes.c_void_p),
        ("row_loss", ctypes.c_void_p), ("loss", ctypes.c_void_p), ("error_flag", ctypes.c_void_p),
        ("reserved", ctypes.c_int32), ("stream", ctypes.c_void_p),
    ]


def run_kernel(lib, fn, s, ts, y, weighting="datw", score="product", norm="softmax", T=4.0, tau_c=1.0, tau_w=0.25,
               lam=0.5, eps=1e-8, a_ce=1.0, a_kd=1.0, ls=0.0, stream=None, grad=True):
    dev = s.device
    B, C = s.shape
    K = len(ts)
    p = Params()
    p.batch, p.classes, p.teachers, p.dtype = B, C, K, DTYPES[s.dtype]
    p.student, p.student_stride = s.data_ptr(), s.stride(0)
    for k, t in enumerate(ts):
        p.teacher[k] = t.data_ptr()
        p.teacher_stride[k] = t.stride(0)
    p.labels = y.data_ptr() if y is not None else None
    p.weighting, p.score_mode, p.norm_mode = WEIGHTINGS[weighting], SCORES[score], NORMS[norm]
    p.temperature, p.tau_conf, p.tau_weight, p.lambda_, p.linear_eps = T, tau_c, tau_w, lam, eps
    p.alpha_ce, p.alpha_kd, p.label_smoothing = a_ce, a_kd, ls
    g = torch.empty_like(s) if grad else None
    w = torch.empty(B, K, device=dev)
    cf = torch.empty(B, K, device=dev)
    ds = torch.empty(B, K, device=dev)
    rl = torch.empty(B, 2, device=dev)
    loss = torch.empty(3, device=dev)
    flag = torch.zeros(1, dtype=torch.int32, device=dev)
    p.grad_student, p.grad_stride = (g.data_ptr(), g.stride(0)) if grad else (None, 0)
    p.weights, p.confidence, p.discrepancy = w.data_ptr(), cf.data_ptr(), ds.data_ptr()
    p.row_loss, p.loss, p.error_flag = rl.data_ptr(), loss.data_ptr(), flag.data_ptr()
    p.stream = stream
    rc = fn(ctypes.byref(p))
    return rc, loss, g, w, cf, ds, flag


def make_case(B, C, K, seed, scale=3.0, dtype=torch.float32, device="cpu", labels=True):
    gen = torch.Generator().manual_seed(seed)
    s = (torch.randn(B, C, generator=gen) * scale).to(dtype).to(device)
    ts = [(torch.randn(B, C, generator=gen) * scale * (k + 1)).to(dtype).to(device) for k in range(K)]
    y = torch.randint(0, C, (B,), generator=gen).to(device) if labels else None
    return s, ts, y


MODES = [dict(weighting="datw", score="product", norm="softmax"), dict(weighting="datw", score="sum", norm="softmax"),
         dict(weighting="datw", score="product", norm="linear"), dict(weighting="datw", score="sum", norm="linear"),
         dict(weighting="uniform"), dict(weighting="ebkd"), dict(weighting="camkd")]


def compare(lib, fn, device, shapes, dtypes=(torch.float32,), sync=lambda: None):
    worst = {}
    n = 0
    for dtype in dtypes:
        tol = 2e-5 if dtype == torch.float32 else 2e-2
        for (B, C, K) in shapes:
            for m in MODES:
                if m["weighting"] == "camkd" and K < 2:
                    continue
                s, ts, y = make_case(B, C, K, seed=B * 131 + C * 7 + K, dtype=dtype, device=device)
                rc, loss, g, w, cf, ds, flag = run_kernel(lib, fn, s, ts, y, ls=0.1 if m["weighting"] == "ebkd" else 0.0, **m)
                sync()
                assert rc == 0, f"rc={rc} for {B, C, K, m}"
                tot, kd, ce, rg, rw, rcf, rds = reference(s.cpu().float(), [t.cpu().float() for t in ts], y.cpu(),
                                                          ls=0.1 if m["weighting"] == "ebkd" else 0.0, **m)
                errs = {
                    "loss": abs(loss[0].item() - tot.item()) / max(1.0, abs(tot.item())),
                    "grad": (g.cpu().double() - rg).abs().max().item() / max(1e-3, rg.abs().max().item()),
                    "weights": (w.cpu().double() - rw).abs().max().item(),
                }
                for k2, v in errs.items():
                    worst[(str(dtype), k2)] = max(worst.get((str(dtype), k2), 0.0), v)
                bad = {k2: v for k2, v in errs.items() if v > tol}
                assert not bad, f"{dtype} {B, C, K} {m}: {bad}"
                n += 1
    return n, worst


def check(libpath, cuda, bench):
    lib = ctypes.CDLL(libpath)
    lib.dd_abi_version.restype = ctypes.c_int32
    lib.dd_status_string.restype = ctypes.c_char_p
    fn = lib.dd_datw_cuda if cuda else lib.dd_datw_cpu
    fn.restype = ctypes.c_int32
    device = "cuda" if cuda else "cpu"
    print(f"abi {lib.dd_abi_version()} device {device} torch {torch.__version__}")
    if cuda:
        cnt = ctypes.c_int32(0)
        rc = lib.dd_cuda_device_count(ctypes.byref(cnt))
        print(f"dd_cuda_device_count rc={rc} count={cnt.value} ({torch.cuda.get_device_name(0)})")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    shapes = [(B, C, K) for B in (1, 7, 64, 257) for C in (2, 51, 400, 1000, 4096) for K in (1, 2, 3)]
    dtypes = (torch.float32, torch.float16, torch.bfloat16)
    n, worst = compare(lib, fn, device, shapes, dtypes, sync)
    print(f"{n} cases agree with the float64 PyTorch reference; worst relative errors:")
    for k, v in sorted(worst.items()):
        print(f"  {k[0]:>15} {k[1]:>8} {v:.3e}")
    # extremes
    for name, s_scale in (("+-1e4", 1e4), ("equal", 0.0)):
        s, ts, y = make_case(64, 400, 2, seed=5, scale=max(s_scale, 1.0), device=device)
        if s_scale == 0.0:
            s.zero_(); ts[0].zero_(); ts[1].fill_(3.0)
        rc, loss, g, *_ = run_kernel(lib, fn, s, ts, y)
        sync()
        print(f"extreme {name}: rc={rc} loss={loss.tolist()} grad finite={bool(torch.isfinite(g).all())}")
        assert rc == 0 and torch.isfinite(loss).all() and torch.isfinite(g).all()
    s, ts, y = make_case(8, 51, 2, seed=6, device=device)
    ts[1][3, 7] = float("nan")
    rc, loss, g, w, cf, ds, flag = run_kernel(lib, fn, s, ts, y)
    sync()
    print(f"NaN teacher: rc={rc} error_flag={flag.item()} ({lib.dd_status_string(flag.item() or rc).decode()})")
    assert (flag.item() if cuda else rc) == 6
    if bench:
        benchmark(lib, fn, device, sync)
        benchmark_throughput(lib, fn, device, sync)


def torch_composite(s, ts, y, T=4.0, tau_c=1.0, tau_w=0.25):
    """Eager PyTorch of the same math in the input precision (the baseline the fused kernel replaces)."""
    C = s.shape[1]
    with torch.no_grad():
        confs, discs = [], []
        for t in ts:
            lp = torch.log_softmax(t / tau_c, 1)
            confs.append(1 + (lp.exp() * lp).sum(1) / math.log(C))
            discs.append((1 - torch.nn.functional.cosine_similarity(s.detach(), t, dim=1, eps=1e-8)) / 2)
        w = torch.softmax(torch.stack(confs, 1) * torch.stack(discs, 1) / tau_w, 1)
        z = sum(w[:, k:k + 1] * ts[k] for k in range(len(ts)))
        q = torch.softmax(z / T, 1)
    kd = torch.nn.functional.kl_div(torch.log_softmax(s / T, 1), q, reduction="batchmean") * T * T
    return kd + torch.nn.functional.cross_entropy(s, y)


def benchmark(lib, fn, device, sync):
    print("benchmark (forward+backward, median of 200):")
    for (B, C, K) in ((64, 400, 2), (64, 51, 2), (256, 400, 2), (1024, 400, 2), (4096, 1000, 3)):
        s, ts, y = make_case(B, C, K, seed=1, device=device)
        s.requires_grad_(True)

        def fused():
            run_kernel(lib, fn, s.detach(), ts, y)

        def composite():
            s.grad = None
            composite_loss = torch_composite(s, ts, y)
            composite_loss.backward()

        res = {}
        for name, f in (("fused", fused), ("torch", composite)):
            for _ in range(20):
                f()
            sync()
            times = []
            for _ in range(200):
                t0 = time.perf_counter()
                f()
                sync()
                times.append(time.perf_counter() - t0)
            times.sort()
            res[name] = times[len(times) // 2] * 1e6
        print(f"  B={B:5d} C={C:5d} K={K}: fused {res['fused']:8.1f} us  torch eager {res['torch']:8.1f} us  "
              f"ratio {res['torch'] / res['fused']:.1f}x")


def prepared(lib, fn, s, ts, y):
    """Builds the params struct and buffers once; returns a zero-argument call (kernel launch only)."""
    keep = []
    B, C = s.shape
    K = len(ts)
    p = Params()
    p.batch, p.classes, p.teachers, p.dtype = B, C, K, DTYPES[s.dtype]
    p.student, p.student_stride = s.data_ptr(), s.stride(0)
    for k, t in enumerate(ts):
        p.teacher[k], p.teacher_stride[k] = t.data_ptr(), t.stride(0)
    p.labels = y.data_ptr()
    p.temperature, p.tau_conf, p.tau_weight, p.lambda_, p.linear_eps = 4.0, 1.0, 0.25, 0.5, 1e-8
    p.alpha_ce, p.alpha_kd = 1.0, 1.0
    for name, shape, dt in (("grad_student", (B, C), s.dtype), ("weights", (B, K), torch.float32),
                            ("row_loss", (B, 2), torch.float32), ("loss", (3,), torch.float32),
                            ("error_flag", (1,), torch.int32)):
        buf = torch.zeros(shape, dtype=dt, device=s.device)
        keep.append(buf)
        setattr(p, name, buf.data_ptr())
    p.grad_stride = C
    ref = ctypes.byref(p)

    def call():
        return fn(ref)
    call.keep = (p, keep)
    return call


def throughput(f, sync, n=500):
    for _ in range(20):
        f()
    sync()
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    sync()
    return (time.perf_counter() - t0) / n * 1e6


def benchmark_throughput(lib, fn, device, sync):
    print("throughput (forward+backward, back-to-back calls, one sync at the end, mean us/call):")
    for (B, C, K) in ((64, 400, 2), (64, 51, 2), (256, 400, 2), (1024, 400, 2), (4096, 1000, 3), (16384, 400, 2)):
        s, ts, y = make_case(B, C, K, seed=1, device=device)
        call = prepared(lib, fn, s, ts, y)
        sl = s.clone().requires_grad_(True)

        def composite():
            sl.grad = None
            torch_composite(sl, ts, y).backward()
        fu = throughput(call, sync)
        co = throughput(composite, sync, n=200)
        print(f"  B={B:5d} C={C:5d} K={K}: fused kernel {fu:8.1f} us  torch eager {co:8.1f} us  ratio {co / fu:.1f}x")


def golden(out_path):
    cases = []
    for i, (B, C, K, m, ls, scale) in enumerate([
            (4, 5, 2, MODES[0], 0.0, 3.0), (3, 7, 3, MODES[1], 0.1, 2.0), (5, 11, 2, MODES[2], 0.0, 5.0),
            (2, 6, 2, MODES[3], 0.0, 1.0), (4, 9, 3, MODES[4], 0.0, 3.0), (6, 8, 2, MODES[5], 0.2, 4.0),
            (5, 10, 3, MODES[6], 0.0, 3.0), (3, 4, 1, MODES[0], 0.0, 2.0), (2, 5, 2, MODES[0], 0.0, 1000.0)]):
        s, ts, y = make_case(B, C, K, seed=1000 + i, scale=scale)
        tot, kd, ce, g, w, cf, ds = reference(s, ts, y, ls=ls, **m)
        cases.append({
            "mode": m, "label_smoothing": ls, "B": B, "C": C, "K": K,
            "student": s.flatten().tolist(), "teachers": [t.flatten().tolist() for t in ts], "labels": y.tolist(),
            "loss": tot.item(), "kd": kd.item(), "ce": ce.item(), "grad": g.flatten().tolist(),
            "weights": w.flatten().tolist(), "confidence": cf.flatten().tolist(), "discrepancy": ds.flatten().tolist(),
        })
    with open(out_path, "w") as f:
        json.dump({"generator": "native/dev/datw_ref.py golden", "torch": torch.__version__, "cases": cases}, f, indent=1)
    print(f"wrote {len(cases)} cases to {out_path}")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "golden":
        golden(sys.argv[2])
    elif cmd in ("check-cpu", "check-cuda"):
        check(sys.argv[2], cmd == "check-cuda", "--bench" in sys.argv)
    else:
        raise SystemExit(__doc__)
