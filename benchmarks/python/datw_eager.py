"""Eager-PyTorch baseline for DatwLossBenchmark: the DATW + KD + CE loss, forward and backward, at the same shapes.

The math is ../docs/method.md with the library's defaults (weighting DATW, score PRODUCT,
normalization SOFTMAX, T = 4, tau_c = 1, tau_w = 0.25, alpha_ce = alpha_kd = 1, no label smoothing), in float32,
written the way a PyTorch user would: teacher statistics and weights under no_grad, KD and CE by autograd.

Timing: each iteration drops the student's gradient (s.grad = None, as the JMH benchmark does), computes the loss
and calls backward(); the median of time.perf_counter() over --iters iterations after --warmup is printed in
microseconds, one line per shape. Threads are fixed with torch.set_num_threads (default 2, like the JMH
benchmark's @Param threads).

Run with Debian's torch:  /usr/bin/python3 benchmarks/python/datw_eager.py [--threads 2] [--iters 200]
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F

SHAPES = ((64, 400, 2), (64, 51, 2), (256, 400, 2))


def datw_loss(s, teachers, y, T=4.0, tau_c=1.0, tau_w=0.25, a_ce=1.0, a_kd=1.0):
    """L = a_ce * CE(s, y) + a_kd * T^2 / B * sum_b KL(q_b || p_b), q from the DATW-weighted teacher mixture."""
    num_classes = s.shape[1]
    with torch.no_grad():
        s_const = s.detach()
        s_norm = s_const.norm(dim=1).clamp_min(1e-8)
        scores = []
        for t in teachers:
            # confidence: 1 - H(softmax(t / tau_c)) / log C, with 0 log 0 = 0 (log_softmax is finite)
            log_pt = F.log_softmax(t / tau_c, dim=1)
            entropy = -(log_pt.exp() * log_pt).sum(dim=1)
            conf = (1.0 - entropy / math.log(num_classes)).clamp(0.0, 1.0)
            # discrepancy: (1 - cos(s, t)) / 2, eps 1e-8 on each norm
            cos = (s_const * t).sum(dim=1) / (s_norm * t.norm(dim=1).clamp_min(1e-8))
            disc = (1.0 - cos) / 2.0
            scores.append(conf * disc)  # PRODUCT score
        w = torch.softmax(torch.stack(scores, dim=1) / tau_w, dim=1)  # SOFTMAX normalization over teachers, [B, K]
        z = teachers[0] * w[:, 0:1]
        for k in range(1, len(teachers)):
            z = z + teachers[k] * w[:, k:k + 1]
        q = torch.softmax(z / T, dim=1)
    log_p = F.log_softmax(s / T, dim=1)
    kd = F.kl_div(log_p, q, reduction="batchmean") * (T * T)
    ce = F.cross_entropy(s, y)
    return a_ce * ce + a_kd * kd


def make_inputs(batch, classes, k, seed=20261127):
    gen = torch.Generator().manual_seed(seed)
    s = (torch.randn(batch, classes, generator=gen) * 3.0).requires_grad_(True)
    teachers = [torch.randn(batch, classes, generator=gen) * (3.0 * (i + 1)) for i in range(k)]
    y = torch.randint(0, classes, (batch,), generator=gen)
    return s, teachers, y


def time_step(batch, classes, k, warmup, iters):
    s, teachers, y = make_inputs(batch, classes, k)

    def step():
        s.grad = None
        loss = datw_loss(s, teachers, y)
        loss.backward()
        return loss

    for _ in range(warmup):
        loss = step()
    if not math.isfinite(loss.item()):
        raise RuntimeError(f"loss is not finite at B={batch} C={classes} K={k}: {loss.item()}")
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed iterations per shape (default 20)")
    ap.add_argument("--iters", type=int, default=200, help="timed iterations per shape (default 200)")
    args = ap.parse_args()
    if args.warmup < 1 or args.iters < 1:
        ap.error("--warmup and --iters must be >= 1")
    torch.set_num_threads(args.threads)
    for (batch, classes, k) in SHAPES:
        us = time_step(batch, classes, k, args.warmup, args.iters)
        print(f"datw_eager torch {torch.__version__} threads={torch.get_num_threads()} shape={batch}x{classes}x{k} "
              f"forward+backward median {us:.1f} us (n={args.iters})", flush=True)


if __name__ == "__main__":
    main()
