"""Independent PyTorch reference of MViTv2 (PySlowFast's MViT with the MVITv2_S_16x4 options, configs/Kinetics/MVITv2_S_16x4.yaml), written from the paper (Li et al., CVPR 2022) and PySlowFast's documented behaviour, not from the Java code,
with the same state_dict names as PySlowFast (and as org.dualdistill.model.mvit.MViT).

Runs with Debian's python3-torch 1.13 (no safetensors package: the format is read and written by hand here).

  * golden fixture (what MViTGoldenTest loads; regenerate with)
        /usr/bin/python3 native/dev/mvit_ref.py golden src/test/resources/fixtures
    writes mvit_tiny.safetensors (random weights drawn here, PySlowFast names) and mvit_tiny_io.safetensors
    (input clip, logits, embedding, features, the token output of every block, the loss and the gradient of every
    parameter for loss = cross_entropy(logits, labels) + mean(features^2), eval mode), computed in float64.
  * comparison against tensors the Java model wrote (weights, input, outputs, per-block tokens, gradients):
        /usr/bin/python3 native/dev/mvit_ref.py compare WEIGHTS.safetensors JAVA_IO.safetensors [JAVA_GRADS.safetensors]

Model conventions (PySlowFast, MViTv2 with DIM_MUL_IN_ATT, REL_POS_SPATIAL/TEMPORAL, RESIDUAL_POOLING, conv pooling
after the qkv projection, CLS_EMBED_ON, no absolute position embedding, LayerNorm eps 1e-6):
  patch_embed.proj Conv3d k(3,7,7) s(2,4,4) p(1,3,3) -> tokens, cls token prepended
  block: u = norm1(x); attn(u) with q/k/v pooled by depthwise Conv3d (padding k//2) on the token grid (cls kept
         out of the conv) then LayerNorm (cls included); logits q.k*scale + decomposed rel-pos (q . R[d]) on the
         non-cls part; out = A v, + pooled q on non-cls rows; proj. Skip = proj(u) if width changes else x, then
         MaxPool3d k=s+1 (where s>1) s p=k//2 on its grid when q is strided. x = skip + attn; x = x + mlp(norm2(x)).
  head: norm, cls token -> Linear.
"""
import json
import math
import struct
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

EPS = 1e-6

# ---------------------------------------------------------------------------------------------------------------
# safetensors by hand: u64 little-endian header length, JSON header, raw little-endian data
# ---------------------------------------------------------------------------------------------------------------
_DT = {"F32": (torch.float32, 4), "F64": (torch.float64, 8), "I64": (torch.int64, 8)}
_DT_NAME = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = OrderedDict()
    entries = [(k, v) for k, v in header.items() if k != "__metadata__"]
    entries.sort(key=lambda kv: kv[1]["data_offsets"][0])
    for name, e in entries:
        dtype, size = _DT[e["dtype"]]
        b, en = e["data_offsets"]
        raw = bytearray(blob[base + b:base + en])
        t = torch.frombuffer(raw, dtype=dtype) if en > b else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(e["shape"]).clone()
    return out


def write_safetensors(path, tensors, metadata=None):
    header = {}
    chunks = []
    off = 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": _DT_NAME[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


# ---------------------------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------------------------
def round_width(width, multiplier, min_width=1, divisor=1):
    width *= multiplier
    w = max(min_width, int(width + divisor / 2) // divisor * divisor)
    if w < 0.9 * width:
        w += divisor
    return int(w)


def rel_index(nq, nk):
    """Offset table d[i, j] between query position i (of nq) and key position j (of nk): both axes are stretched to
    the finer one, then shifted to be >= 0 (PySlowFast evaluates this in float32, then truncates)."""
    qr = max(nk / nq, 1.0)
    kr = max(nq / nk, 1.0)
    d = torch.arange(nq)[:, None] * qr - torch.arange(nk)[None, :] * kr
    d = d + (nk - 1) * kr
    return d.long()


def table_rows(table, rows):
    """A rel-pos table resized to `rows` rows by linear interpolation (align_corners False) when needed."""
    if table.shape[0] == rows:
        return table
    r = F.interpolate(table.t().unsqueeze(0), size=rows, mode="linear", align_corners=False)
    return r.squeeze(0).t()


class PooledAttention(nn.Module):
    def __init__(self, dim, dim_out, heads, kernel, stride_q, stride_kv, grid):
        super().__init__()
        self.heads = heads
        self.dim_out = dim_out
        hd = dim_out // heads
        self.hd = hd
        self.qkv = nn.Linear(dim, 3 * dim_out)
        self.proj = nn.Linear(dim_out, dim_out)
        pad = [k // 2 for k in kernel]
        trivial_k = math.prod(kernel) == 1
        self.has_q = not (trivial_k and math.prod(stride_q) == 1)
        self.has_kv = not (trivial_k and math.prod(stride_kv) == 1)
        if self.has_q:
            self.pool_q = nn.Conv3d(hd, hd, kernel, stride_q, pad, groups=hd, bias=False)
            self.norm_q = nn.LayerNorm(hd, eps=EPS)
        if self.has_kv:
            self.pool_k = nn.Conv3d(hd, hd, kernel, stride_kv, pad, groups=hd, bias=False)
            self.norm_k = nn.LayerNorm(hd, eps=EPS)
            self.pool_v = nn.Conv3d(hd, hd, kernel, stride_kv, pad, groups=hd, bias=False)
            self.norm_v = nn.LayerNorm(hd, eps=EPS)
        size = grid[1]
        sp = 2 * max(size // stride_q[1], size // stride_kv[1]) - 1
        self.rel_pos_h = nn.Parameter(torch.zeros(sp, hd))
        self.rel_pos_w = nn.Parameter(torch.zeros(sp, hd))
        self.rel_pos_t = nn.Parameter(torch.zeros(2 * grid[0] - 1, hd))

    def _pool(self, t, conv, norm, grid):
        # t: [B, heads, 1 + N, hd]
        if conv is None:
            return t, grid
        B, H, _, C = t.shape
        T, Hh, W = grid
        body = t[:, :, 1:, :].reshape(B * H, T, Hh, W, C).permute(0, 4, 1, 2, 3)
        body = conv(body)
        g = list(body.shape[2:])
        body = body.flatten(2).reshape(B, H, C, -1).transpose(2, 3)
        return norm(torch.cat([t[:, :, :1, :], body], dim=2)), g

    def forward(self, x, grid):
        B, N, _ = x.shape
        qkv = self.qkv(x).view(B, N, 3, self.heads, self.hd)
        q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))
        q, gq = self._pool(q, getattr(self, "pool_q", None), getattr(self, "norm_q", None), grid)
        k, gk = self._pool(k, getattr(self, "pool_k", None), getattr(self, "norm_k", None), grid)
        v, _ = self._pool(v, getattr(self, "pool_v", None), getattr(self, "norm_v", None), grid)
        logits = (q / math.sqrt(self.hd)) @ k.transpose(-1, -2)

        # decomposed relative positions: for query (t,h,w) and key (t',h',w'),
        # + q . (Rt[dt(t,t')] + Rh[dh(h,h')] + Rw[dw(w,w')]); the cls row/column get nothing.
        nq = gq[0] * gq[1] * gq[2]
        nk = gk[0] * gk[1] * gk[2]
        qt, qh, qw = [torch.arange(n) for n in gq]
        kt, kh, kw = [torch.arange(n) for n in gk]
        # coordinates of every token in row-major (t, h, w) order
        cq = torch.stack(torch.meshgrid(qt, qh, qw, indexing="ij"), -1).reshape(nq, 3)
        ck = torch.stack(torch.meshgrid(kt, kh, kw, indexing="ij"), -1).reshape(nk, 3)
        bias = torch.zeros(B, self.heads, nq, nk, dtype=logits.dtype)
        qb = q[:, :, 1:, :]
        for axis, table in enumerate((self.rel_pos_t, self.rel_pos_h, self.rel_pos_w)):
            d = rel_index(gq[axis], gk[axis])                     # [nq_axis, nk_axis]
            tab = table_rows(table, 2 * max(gq[axis], gk[axis]) - 1)
            qdot = qb @ tab.t()                                   # [B, H, nq, L]: q . R[l] for every row l
            idx = d[cq[:, axis]][:, ck[:, axis]]                  # [nq, nk]
            bias = bias + torch.gather(qdot, 3, idx.expand(B, self.heads, nq, nk))
        logits = torch.cat([logits[:, :, :1, :],
                            torch.cat([logits[:, :, 1:, :1], logits[:, :, 1:, 1:] + bias], dim=3)], dim=2)
        a = logits.softmax(-1)
        o = a @ v
        o = o + F.pad(q[:, :, 1:, :], (0, 0, 1, 0))               # residual pooling, not on the cls row
        o = o.transpose(1, 2).reshape(B, -1, self.dim_out)
        return self.proj(o), gq


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, dim_out, heads, mlp_ratio, kernel, stride_q, stride_kv, grid):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=EPS)
        self.attn = PooledAttention(dim, dim_out, heads, kernel, stride_q, stride_kv, grid)
        self.norm2 = nn.LayerNorm(dim_out, eps=EPS)
        self.mlp = Mlp(dim_out, int(dim_out * mlp_ratio))
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)
        self.stride_q = stride_q
        self.change = dim != dim_out

    def forward(self, x, grid):
        u = self.norm1(x)
        a, g = self.attn(u, grid)
        s = self.proj(u) if self.change else x
        if math.prod(self.stride_q) > 1:
            ks = [st + 1 if st > 1 else st for st in self.stride_q]
            B, _, C = s.shape
            body = s[:, 1:, :].transpose(1, 2).reshape(B, C, *grid)
            body = F.max_pool3d(body, ks, self.stride_q, [kk // 2 for kk in ks])
            s = torch.cat([s[:, :1, :], body.flatten(2).transpose(1, 2)], dim=1)
        x = s + a
        return x + self.mlp(self.norm2(x)), g


class MViTv2(nn.Module):
    def __init__(self, classes, frames, crop, embed=96, depth=16, heads=1, stage_starts=(1, 3, 14), mlp_ratio=4.0,
                 patch_k=(3, 7, 7), patch_s=(2, 4, 4), patch_p=(1, 3, 3), pool_k=(3, 3, 3), q_stride=(1, 2, 2),
                 kv_adaptive=(1, 8, 8)):
        super().__init__()
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv3d(3, embed, patch_k, patch_s, patch_p)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed))
        self.grid0 = [frames // patch_s[0], crop // patch_s[1], crop // patch_s[2]]
        grid = list(self.grid0)
        kv = list(kv_adaptive)
        dim = embed
        blocks = []
        for i in range(depth):
            mul = 2.0 if i in stage_starts else 1.0
            heads = round_width(heads, mul)
            dim_out = round_width(dim, mul, divisor=round_width(heads, mul))
            sq = list(q_stride) if i in stage_starts else [1, 1, 1]
            kv = [max(kv[d] // sq[d], 1) for d in range(3)]
            blocks.append(Block(dim, dim_out, heads, mlp_ratio, list(pool_k), sq, list(kv), list(grid)))
            grid = [grid[d] // sq[d] for d in range(3)]
            dim = dim_out
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(dim, eps=EPS)
        self.head = nn.Module()
        self.head.projection = nn.Linear(dim, classes)

    def forward(self, clip, trace=None):
        x = self.patch_embed.proj(clip)
        B = x.shape[0]
        grid = list(x.shape[2:])
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(B, -1, -1), x], dim=1)
        if trace is not None:
            trace["patch"] = x
        for i, blk in enumerate(self.blocks):
            x, grid = blk(x, grid)
            if trace is not None:
                trace["block%d" % i] = x
        x = self.norm(x)
        emb = x[:, 0]
        feats = x[:, 1:].transpose(1, 2).reshape(B, x.shape[2], *grid)
        return self.head.projection(emb), emb, feats


TINY = dict(classes=4, frames=8, crop=32, embed=16, depth=2, heads=1, stage_starts=(1,))


def load_weights(model, tensors):
    sd = model.state_dict()
    missing = sorted(set(sd) - set(tensors))
    unexpected = sorted(set(tensors) - set(sd))
    if missing or unexpected:
        raise SystemExit("name mismatch: missing %s unexpected %s" % (missing, unexpected))
    for k in sd:
        if tuple(sd[k].shape) != tuple(tensors[k].shape):
            raise SystemExit("shape mismatch %s: %s vs %s" % (k, tuple(sd[k].shape), tuple(tensors[k].shape)))
    model.load_state_dict({k: v.to(sd[k].dtype) for k, v in tensors.items()})


def run(model, clip, labels):
    """Forward with trace, then the gradients of cross_entropy(logits, labels) + mean(features^2)."""
    model.zero_grad()
    trace = OrderedDict()
    logits, emb, feats = model(clip, trace)
    loss = F.cross_entropy(logits, labels) + feats.pow(2).mean()
    loss.backward()
    grads = OrderedDict((n, p.grad.detach().clone()) for n, p in model.named_parameters())
    return logits.detach(), emb.detach(), feats.detach(), trace, loss.detach(), grads


def compare(weights, java_io, java_grads=None):
    torch.set_grad_enabled(True)
    w = read_safetensors(weights)
    io = read_safetensors(java_io)
    model = MViTv2(**TINY).double()
    load_weights(model, w)
    model.eval()
    labels = torch.tensor([1, 3])
    logits, emb, feats, trace, loss, grads = run(model, io["input"].double(), labels)
    ours = OrderedDict(patch=trace["patch"])
    for k, v in trace.items():
        ours[k] = v
    ours.update(logits=logits, embedding=emb, features=feats)
    worst = 0.0
    for k, v in ours.items():
        if k not in io:
            continue
        d = (io[k].double() - v.detach()).abs().max().item()
        worst = max(worst, d)
        print("%-10s shape %-22s max|java-ref| %.3e  (max|ref| %.3e)" % (k, tuple(v.shape), d, v.abs().max().item()))
    if java_grads:
        g = read_safetensors(java_grads)
        print("loss java %.7f ref %.7f" % (g["loss"].item(), loss.item()))
        for k, v in grads.items():
            d = (g[k].double() - v).abs().max().item()
            rel = d / max(v.abs().max().item(), 1e-30)
            print("grad %-28s max abs diff %.3e rel %.3e" % (k, d, rel))
    return worst


def golden(outdir):
    torch.manual_seed(20261127)
    model = MViTv2(**TINY).double()
    # Weights drawn here, larger than PySlowFast's init so that every term (rel-pos tables, norm affine, biases,
    # pooling convs) moves the outputs well above the float32 noise.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            elif "rel_pos" in name:
                p.copy_(0.5 * torch.randn_like(p))
            elif "pool_" in name:
                p.copy_(0.3 * torch.randn_like(p))
            elif name == "cls_token":
                p.copy_(torch.randn_like(p))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn_like(p) / math.sqrt(fan_in))
    # store float32 weights and compute from exactly those values
    w32 = OrderedDict((n, p.detach().float()) for n, p in model.state_dict().items())
    load_weights(model, w32)
    model.eval()
    clip = torch.randn(2, 3, 8, 32, 32).float()
    labels = torch.tensor([1, 3])
    logits, emb, feats, trace, loss, grads = run(model, clip.double(), labels)
    io = OrderedDict(input=clip, labels=labels, logits=logits, embedding=emb, features=feats)
    for k, v in trace.items():
        io[k] = v.detach()
    io["loss"] = loss.reshape(1)
    for k, v in grads.items():
        io["grad." + k] = v
    io = OrderedDict((k, v.float() if v.is_floating_point() else v) for k, v in io.items())
    meta = {"model": "MViTv2 depth 2, embed 16, heads 1, stage starts [1], 8x32x32 clips, 4 classes",
            "by": "native/dev/mvit_ref.py golden (torch %s, float64 reference)" % torch.__version__}
    write_safetensors(outdir + "/mvit_tiny.safetensors", w32, meta)
    write_safetensors(outdir + "/mvit_tiny_io.safetensors", io, meta)
    print("loss %.6f logits %s" % (loss.item(), logits.tolist()))


if __name__ == "__main__":
    if sys.argv[1] == "golden":
        golden(sys.argv[2])
    elif sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        raise SystemExit(__doc__)
