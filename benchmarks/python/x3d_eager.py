"""Eager-PyTorch baseline for X3dBenchmark: X3D-S (pytorchvideo's create_x3d layout, 400 classes) in plain torch.nn.

Same model as org.dualdistill.model.x3d.X3d at its defaults (width 2.0, depth 2.2, bottleneck 2.25, SE 1/16 on
every other block, Swish, head 432 -> 2048 -> 400, dropout 0.5), input 13 x 160 x 160, float32, NCDHW, depthwise
convs by nn.Conv3d(groups = C) as pytorchvideo writes them. Times, like the JMH benchmark: eval forward under
no_grad (batch 1 and 8) and one training step (zero_grad, forward, mean(logits^2), backward) at batch 8. Prints
the best and the median of --iters calls after --warmup, in ms. Threads: torch.set_num_threads(--threads).

Run with Debian's torch:  /usr/bin/python3 benchmarks/python/x3d_eager.py [--threads 1] [--iters 2]
(glibc malloc on both sides unless MALLOC_* / LD_PRELOAD are set; the script prints what it finds.)
"""
import argparse
import math
import os
import statistics
import time

import torch
import torch.nn as nn


def round_width(width, multiplier):
    w = width * multiplier
    out = max(8, int(w + 4) // 8 * 8)
    if out < 0.9 * w:
        out += 8
    return out


class Block(nn.Module):
    def __init__(self, cin, cout, inner, stride, se):
        super().__init__()
        self.conv_a = nn.Conv3d(cin, inner, 1, bias=False)
        self.norm_a = nn.BatchNorm3d(inner)
        self.conv_b = nn.Conv3d(inner, inner, 3, stride=(1, stride, stride), padding=1, groups=inner, bias=False)
        self.norm_b = nn.BatchNorm3d(inner)
        self.se = None
        if se:
            r = round_width(inner, 0.0625)
            self.se = nn.Sequential(nn.AdaptiveAvgPool3d(1), nn.Conv3d(inner, r, 1), nn.ReLU(), nn.Conv3d(r, inner, 1),
                                    nn.Sigmoid())
        self.conv_c = nn.Conv3d(inner, cout, 1, bias=False)
        self.norm_c = nn.BatchNorm3d(cout)
        self.short = None
        if cin != cout or stride != 1:
            self.short = nn.Conv3d(cin, cout, 1, stride=(1, stride, stride), bias=False)
        self.short_norm = nn.BatchNorm3d(cout) if cin != cout else None

    def forward(self, x):
        y = torch.relu(self.norm_a(self.conv_a(x)))
        y = self.norm_b(self.conv_b(y))
        if self.se is not None:
            y = y * self.se(y)
        y = y * torch.sigmoid(y)
        y = self.norm_c(self.conv_c(y))
        s = x if self.short is None else self.short(x)
        if self.short_norm is not None:
            s = self.short_norm(s)
        return torch.relu(s + y)


class X3dS(nn.Module):
    def __init__(self, classes=400):
        super().__init__()
        stem = round_width(12, 2.0)
        self.conv_t = nn.Conv3d(3, stem, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), bias=False)
        self.conv_xy = nn.Conv3d(stem, stem, (5, 1, 1), padding=(2, 0, 0), groups=stem, bias=False)
        self.norm = nn.BatchNorm3d(stem)
        blocks = []
        cin = stem
        for s, base in enumerate((1, 2, 5, 3)):
            cout = stem << s
            inner = int(2.25 * cout)
            for i in range(math.ceil(2.2 * base)):
                blocks.append(Block(cin if i == 0 else cout, cout, inner, 2 if i == 0 else 1, i % 2 == 0))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        hin = int(2.25 * cin)
        self.pre_conv = nn.Conv3d(cin, hin, 1, bias=False)
        self.pre_norm = nn.BatchNorm3d(hin)
        self.post_conv = nn.Conv3d(hin, 2048, 1, bias=False)
        self.dropout = nn.Dropout(0.5)
        self.proj = nn.Linear(2048, classes)

    def forward(self, x):
        x = torch.relu(self.norm(self.conv_xy(self.conv_t(x))))
        x = self.blocks(x)
        h = torch.relu(self.pre_norm(self.pre_conv(x)))
        h = torch.relu(self.post_conv(h.mean(dim=(2, 3, 4), keepdim=True))).flatten(1)
        return self.proj(self.dropout(h))


def timed(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return min(ts), statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--iters", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    m = X3dS()
    print(f"torch {torch.__version__}, threads {a.threads}, parameters {sum(p.numel() for p in m.parameters())}, "
          f"malloc: {os.environ.get('LD_PRELOAD') or 'glibc'} {({k: v for k, v in os.environ.items() if k.startswith('MALLOC_')})}")
    for batch in (1, 8):
        clip = torch.randn(batch, 3, 13, 160, 160) * 0.5
        m.eval()

        def infer():
            with torch.no_grad():
                return m(clip).sum().item()
        best, med = timed(infer, a.warmup, a.iters)
        print(f"inference batch {batch}: best {best:.0f} ms, median {med:.0f} ms")
    clip = torch.randn(8, 3, 13, 160, 160) * 0.5
    m.train()

    def step():
        m.zero_grad(set_to_none=True)
        out = m(clip)
        loss = (out * out).mean()
        loss.backward()
        return loss.item()
    best, med = timed(step, a.warmup, a.iters)
    print(f"train step batch 8: best {best:.0f} ms, median {med:.0f} ms")


if __name__ == "__main__":
    main()
