"""Independent PyTorch reference of SlowFast-R50 8x8 as pytorchvideo's create_slowfast builds it (defaults: depth 50,
alpha 4, beta 1/8, fusion conv (7,1,1) stride (4,1,1) with channel ratio 2, stems (1,7,7)/(5,7,7), conv_a temporal
kernels slow 1,1,3,3 / fast 3,3,3,3, spatial strides 1,2,2,2, head AvgPool3d (8,7,7)/(32,7,7) stride 1 over both
pathways, dropout 0.5, Linear 2304 -> classes, then a global average), written here from reading pytorchvideo's
builders and PySlowFast's SlowFast class, not from the Java code and without their code. The state_dict names are
pytorchvideo's; a second module tree written the same way carries PySlowFast's names (s1.pathway0_stem.conv,
s1_fuse.conv_f2s, s2.pathway0_res0.branch2.a, head.projection, ...), so both name lists come from a real nn.Module.

Runs with Debian's python3-torch 1.13 (no safetensors package: the format is written by hand here).

    /usr/bin/python3 native/dev/slowfast_ref.py lists src/test/resources/reference
        slowfast_r50_k400_parameters.tsv      pytorchvideo names and shapes of every parameter (400 classes)
        slowfast_r50_k400_pyslowfast.tsv      PySlowFast names and shapes of every state_dict entry (params + BN
                                              buffers), in PySlowFast's module order
    /usr/bin/python3 native/dev/slowfast_ref.py gmacs
        conv + linear multiply-accumulates of the canonical view (fast 32x224x224, slow 8x224x224), counted by
        forward hooks on a real forward pass
    /usr/bin/python3 native/dev/slowfast_ref.py golden src/test/resources/fixtures
        slowfast_tiny.safetensors     random weights and BN statistics of a shrunk model (pytorchvideo names)
        slowfast_tiny_io.safetensors  its input (the fast clip), and in eval mode, computed in float64: logits,
                                      embedding, features, the res5 map of each pathway, every level's outputs,
                                      loss = cross_entropy(logits, labels) + mean(features^2) and the gradient of
                                      the stems, fusions, each stage's first conv_a and the head,
                                      and the conv + linear MACs of one clip counted by forward hooks
    /usr/bin/python3 native/dev/slowfast_ref.py crosscheck src/test/resources
        only where pytorchvideo itself is importable (PYTHONPATH; never part of this repo): builds create_slowfast()
        and compares its parameter list with the TSV, then loads the tiny fixture into create_slowfast(stem_dim_outs=
        (8, 1), model_num_class=5, head_pool_kernel_sizes=((2, 1, 1), (8, 1, 1))) and compares its logits with the
        golden ones. Run on 2026-12-03 against pytorchvideo f3142bb0 (its models/ and layers/ modules, with
        torchvision and fvcore stubbed out): identical 332-entry list, 34,566,488 parameters, logits within 1.5e-8.
        The same day PySlowFast 287ec007's SlowFast class itself (video_model_builder.py and its helpers, logging,
        registry, weight init and detectron2 stubbed out, cfg = defaults + SLOWFAST_8x8_R50.yaml) gave a state_dict
        identical to slowfast_r50_k400_pyslowfast.tsv, names, shapes and order (662 entries, 34,566,488 parameters).
        Neither codebase nor the stubs are kept here.

The model takes the fast clip [B, 3, T, H, W] and takes the slow pathway out of it with PySlowFast's and
pytorchvideo's PackPathway rule: frames linspace(0, T-1, T // alpha) truncated to integers.
"""
import json
import math
import struct
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------------------------
# safetensors by hand: u64 little-endian header length, JSON header, raw little-endian data
# ---------------------------------------------------------------------------------------------------------------
_DT_NAME = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


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
# geometry shared by both naming schemes
# ---------------------------------------------------------------------------------------------------------------
DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
SLOW_TK = (1, 1, 3, 3)   # conv_a temporal kernel per res stage, slow pathway
FAST_TK = (3, 3, 3, 3)   # fast pathway
STEM_TK = (1, 5)         # stem temporal kernel, slow / fast
SPATIAL = (1, 2, 2, 2)


def plan(width=64, beta_inv=8, fusion_ratio=2, depth=50):
    """Per res stage and pathway: (dim_in, dim_inner, dim_out, blocks, temporal kernel, spatial stride)."""
    stages = []
    d_in, d_out = width, 4 * width
    for s, n in enumerate(DEPTHS[depth]):
        slow = (d_in + d_in * fusion_ratio // beta_inv, d_out // 4, d_out, n, SLOW_TK[s], SPATIAL[s])
        fast = (d_in // beta_inv, d_out // 4 // beta_inv, d_out // beta_inv, n, FAST_TK[s], SPATIAL[s])
        stages.append((slow, fast))
        d_in, d_out = d_out, 2 * d_out
    return stages


def bn(c):
    return nn.BatchNorm3d(c, eps=1e-5, momentum=0.1)


def conv(i, o, k, s=(1, 1, 1)):
    return nn.Conv3d(i, o, k, stride=s, padding=[x // 2 for x in k], bias=False)


# ---------------------------------------------------------------------------------------------------------------
# pytorchvideo's module tree (names: blocks.L.multipathway_blocks.P..., blocks.L.multipathway_fusion..., blocks.6.proj)
# ---------------------------------------------------------------------------------------------------------------
class Stem(nn.Module):
    def __init__(self, cin, cout, tk):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, (tk, 7, 7), stride=(1, 2, 2), padding=(tk // 2, 3, 3), bias=False)
        self.norm = bn(cout)

    def forward(self, x):
        return F.max_pool3d(F.relu(self.norm(self.conv(x))), (1, 3, 3), (1, 2, 2), (0, 1, 1))


class Bottleneck(nn.Module):
    def __init__(self, cin, inner, cout, tk, stride):
        super().__init__()
        self.conv_a = conv(cin, inner, (tk, 1, 1))
        self.norm_a = bn(inner)
        self.conv_b = conv(inner, inner, (1, 3, 3), (1, stride, stride))
        self.norm_b = bn(inner)
        self.conv_c = conv(inner, cout, (1, 1, 1))
        self.norm_c = bn(cout)

    def forward(self, x):
        x = F.relu(self.norm_a(self.conv_a(x)))
        x = F.relu(self.norm_b(self.conv_b(x)))
        return self.norm_c(self.conv_c(x))


class ResBlock(nn.Module):
    def __init__(self, cin, inner, cout, tk, stride):
        super().__init__()
        self.has_short = cin != cout or stride != 1
        if self.has_short:
            self.branch1_conv = nn.Conv3d(cin, cout, 1, stride=(1, stride, stride), bias=False)
            self.branch1_norm = bn(cout)
        self.branch2 = Bottleneck(cin, inner, cout, tk, stride)

    def forward(self, x):
        s = self.branch1_norm(self.branch1_conv(x)) if self.has_short else x
        return F.relu(s + self.branch2(x))


class Stage(nn.Module):
    def __init__(self, cin, inner, cout, n, tk, stride):
        super().__init__()
        self.res_blocks = nn.ModuleList(
            [ResBlock(cin if i == 0 else cout, inner, cout, tk, stride if i == 0 else 1) for i in range(n)])

    def forward(self, x):
        for b in self.res_blocks:
            x = b(x)
        return x


class Fuse(nn.Module):
    """Fast -> slow lateral: Conv3d (k,1,1) stride (alpha,1,1) pad (k//2,0,0), BN, ReLU, concatenated to slow."""

    def __init__(self, fast_dim, ratio, kernel, alpha):
        super().__init__()
        self.conv_fast_to_slow = nn.Conv3d(fast_dim, fast_dim * ratio, (kernel, 1, 1), stride=(alpha, 1, 1),
                                           padding=(kernel // 2, 0, 0), bias=False)
        self.norm = bn(fast_dim * ratio)

    def forward(self, xs):
        f = F.relu(self.norm(self.conv_fast_to_slow(xs[1])))
        return [torch.cat([xs[0], f], 1), xs[1]]


class Level(nn.Module):
    def __init__(self, slow, fast, fusion):
        super().__init__()
        self.multipathway_blocks = nn.ModuleList([slow, fast])
        self.multipathway_fusion = fusion

    def forward(self, xs):
        ys = [self.multipathway_blocks[0](xs[0]), self.multipathway_blocks[1](xs[1])]
        return self.multipathway_fusion(ys) if self.multipathway_fusion is not None else ys


class NoParams(nn.Module):
    """blocks.5 (PoolConcatPathway): pooling only, no state."""


class Head(nn.Module):
    def __init__(self, cin, classes):
        super().__init__()
        self.proj = nn.Linear(cin, classes)


def slow_frames(t, alpha):
    return torch.linspace(0, t - 1, t // alpha).long()


class SlowFastRef(nn.Module):
    def __init__(self, classes=400, width=64, beta_inv=8, alpha=4, fusion_ratio=2, fusion_kernel=7, depth=50,
                 frames=32, crop=224, dropout=0.5):
        super().__init__()
        self.alpha = alpha
        self.dropout = dropout
        fw = width // beta_inv
        levels = [Level(Stem(3, width, STEM_TK[0]), Stem(3, fw, STEM_TK[1]), Fuse(fw, fusion_ratio, fusion_kernel, alpha))]
        p = plan(width, beta_inv, fusion_ratio, depth)
        for s, (slow, fast) in enumerate(p):
            fusion = Fuse(fast[2], fusion_ratio, fusion_kernel, alpha) if s < 3 else None
            levels.append(Level(Stage(*slow), Stage(*fast), fusion))
        levels.append(NoParams())
        cin = p[-1][0][2] + p[-1][1][2]
        levels.append(Head(cin, classes))
        self.blocks = nn.ModuleList(levels)
        s = crop // 32
        self.pool_kernels = [(frames // alpha, s, s), (frames, s, s)]

    def forward(self, clip, trace=None):
        idx = slow_frames(clip.shape[2], self.alpha)
        xs = [torch.index_select(clip, 2, idx), clip]
        for i in range(5):
            xs = self.blocks[i](xs)
            if trace is not None:
                trace["level%d.slow" % i] = xs[0]
                trace["level%d.fast" % i] = xs[1]
        slow5, fast5 = xs
        pooled = torch.cat([F.avg_pool3d(slow5, self.pool_kernels[0], 1), F.avg_pool3d(fast5, self.pool_kernels[1], 1)], 1)
        d = F.dropout(pooled, self.dropout, self.training)
        y = self.blocks[6].proj(d.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)
        logits = y.mean(dim=(2, 3, 4))
        embedding = pooled.mean(dim=(2, 3, 4))
        # the SDD tap: fast res5 averaged over alpha frames to the slow time grid, concatenated after slow's channels
        b, c, t, h, w = fast5.shape
        fast_on_slow = fast5.reshape(b, c, t // self.alpha, self.alpha, h, w).mean(3)
        features = torch.cat([slow5, fast_on_slow], 1)
        return logits, embedding, features, slow5, fast5


# ---------------------------------------------------------------------------------------------------------------
# PySlowFast's module tree, names only (s1.pathway0_stem.conv, s1_fuse.conv_f2s, s2.pathway0_res0.branch2.a, head)
# ---------------------------------------------------------------------------------------------------------------
class PsfStem(nn.Module):
    def __init__(self, cin, cout, tk):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, (tk, 7, 7), stride=(1, 2, 2), padding=(tk // 2, 3, 3), bias=False)
        self.bn = bn(cout)


class PsfTransform(nn.Module):
    def __init__(self, cin, inner, cout, tk, stride):
        super().__init__()
        self.a = conv(cin, inner, (tk, 1, 1))
        self.a_bn = bn(inner)
        self.b = conv(inner, inner, (1, 3, 3), (1, stride, stride))
        self.b_bn = bn(inner)
        self.c = conv(inner, cout, (1, 1, 1))
        self.c_bn = bn(cout)


class PsfBlock(nn.Module):
    def __init__(self, cin, inner, cout, tk, stride):
        super().__init__()
        if cin != cout or stride != 1:
            self.branch1 = nn.Conv3d(cin, cout, 1, stride=(1, stride, stride), bias=False)
            self.branch1_bn = bn(cout)
        self.branch2 = PsfTransform(cin, inner, cout, tk, stride)


class PsfFuse(nn.Module):
    def __init__(self, fast_dim, ratio, kernel, alpha):
        super().__init__()
        self.conv_f2s = nn.Conv3d(fast_dim, fast_dim * ratio, (kernel, 1, 1), stride=(alpha, 1, 1),
                                  padding=(kernel // 2, 0, 0), bias=False)
        self.bn = bn(fast_dim * ratio)


class PsfSlowFast(nn.Module):
    def __init__(self, classes=400, width=64, beta_inv=8, alpha=4, fusion_ratio=2, fusion_kernel=7, depth=50):
        super().__init__()
        fw = width // beta_inv
        self.s1 = nn.Module()
        self.s1.add_module("pathway0_stem", PsfStem(3, width, STEM_TK[0]))
        self.s1.add_module("pathway1_stem", PsfStem(3, fw, STEM_TK[1]))
        self.s1_fuse = PsfFuse(fw, fusion_ratio, fusion_kernel, alpha)
        p = plan(width, beta_inv, fusion_ratio, depth)
        for s, pw in enumerate(p):
            st = nn.Module()
            for k, (cin, inner, cout, n, tk, stride) in enumerate(pw):
                for i in range(n):
                    st.add_module("pathway%d_res%d" % (k, i),
                                  PsfBlock(cin if i == 0 else cout, inner, cout, tk, stride if i == 0 else 1))
            self.add_module("s%d" % (s + 2), st)
            if s < 3:
                self.add_module("s%d_fuse" % (s + 2), PsfFuse(pw[1][2], fusion_ratio, fusion_kernel, alpha))
        self.head = nn.Module()
        self.head.projection = nn.Linear(p[-1][0][2] + p[-1][1][2], classes)


# ---------------------------------------------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------------------------------------------
def shape_str(t):
    return ",".join(str(d) for d in t.shape)


def lists(outdir):
    m = SlowFastRef()
    n = sum(p.numel() for p in m.parameters())
    params = list(m.named_parameters())
    with open(outdir + "/slowfast_r50_k400_parameters.tsv", "w") as f:
        f.write("# SlowFast-R50 8x8 (pytorchvideo create_slowfast defaults), 400 classes: %d parameters in %d tensors; "
                "BN buffers (running_mean, running_var, num_batches_tracked) not listed; written by "
                "native/dev/slowfast_ref.py lists\n" % (n, len(params)))
        f.write("name\tshape\n")
        for k, p in params:
            f.write("%s\t%s\n" % (k, shape_str(p)))
    psf = PsfSlowFast()
    npsf = sum(p.numel() for p in psf.parameters())
    assert npsf == n, (npsf, n)
    sd = psf.state_dict()
    with open(outdir + "/slowfast_r50_k400_pyslowfast.tsv", "w") as f:
        f.write("# SlowFast-R50 8x8 under PySlowFast's names (slowfast/models/video_model_builder.py SlowFast with "
                "configs/Kinetics/SLOWFAST_8x8_R50.yaml), 400 classes: %d parameters; every state_dict entry "
                "(parameters and BN buffers) in module order; written by native/dev/slowfast_ref.py lists\n" % npsf)
        f.write("name\tshape\n")
        for k, t in sd.items():
            f.write("%s\t%s\n" % (k, shape_str(t)))
    print("parameters %d in %d tensors; PySlowFast state_dict %d entries" % (n, len(params), len(sd)))


def count_macs(model, clip):
    macs = [0]

    def conv_hook(mod, inp, out):
        k = math.prod(mod.kernel_size)
        macs[0] += out.numel() // out.shape[0] * (mod.in_channels // mod.groups) * k

    def lin_hook(mod, inp, out):
        macs[0] += out.numel() // out.shape[0] * mod.in_features

    hs = []
    for mod in model.modules():
        if isinstance(mod, nn.Conv3d):
            hs.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, nn.Linear):
            hs.append(mod.register_forward_hook(lin_hook))
    with torch.no_grad():
        model.eval()
        out = model(clip)
    for h in hs:
        h.remove()
    return macs[0], out


def gmacs():
    torch.set_num_threads(2)
    m = SlowFastRef()
    for crop in (224, 256):  # training crop; test crop (full-convolution head: 2x2 pooled positions)
        macs, out = count_macs(m, torch.zeros(1, 3, 32, crop, crop))
        print("fast 32x%dx%d, slow 8x%dx%d: %d MACs = %.4f GMACs; logits %s, features %s"
              % (crop, crop, crop, crop, macs, macs / 1e9, tuple(out[0].shape), tuple(out[2].shape)))


TINY = dict(classes=5, width=8, beta_inv=8, alpha=4, fusion_ratio=2, fusion_kernel=7, depth=50, frames=8, crop=32)


def golden(outdir):
    torch.manual_seed(20261203)
    m = SlowFastRef(**TINY).double()
    with torch.no_grad():
        for name, t in m.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if "norm_c" in name and name.endswith("weight"):  # keeps the residual sums from growing block by block
                t.copy_(0.3 + 0.1 * torch.randn_like(t))
            elif "norm" in name and name.endswith("weight"):
                t.copy_(1.0 + 0.2 * torch.randn_like(t))
            elif "norm" in name and name.endswith("running_var"):
                t.copy_(0.5 + torch.rand_like(t))
            elif name.endswith("running_mean"):
                t.copy_(0.1 * torch.randn_like(t))
            elif name.endswith("bias"):
                t.copy_(0.1 * torch.randn_like(t))
            else:  # conv / linear weights
                fan_in = t[0].numel()
                t.copy_(torch.randn_like(t) * math.sqrt(1.0 / fan_in))
    # store float32 weights and compute in float64 from exactly those values
    w32 = OrderedDict((k, v.float() if v.is_floating_point() else v) for k, v in m.state_dict().items())
    m.load_state_dict(OrderedDict((k, v.double() if v.is_floating_point() else v) for k, v in w32.items()))
    m.eval()
    # 8 fast frames (slow: 0 and 7, where every 4th frame would be 0 and 4), 32x64: res5 1x2, so the head pool
    # (2,1,1)/(8,1,1) of the 8x32 build slides over 2 positions
    clip = torch.randn(2, 3, 8, 32, 64).float()
    trace = OrderedDict()
    labels = torch.tensor([1, 3])
    m.zero_grad()
    logits, emb, feats, slow5, fast5 = m(clip.double(), trace)
    loss = F.cross_entropy(logits, labels) + feats.pow(2).mean()
    loss.backward()
    io = OrderedDict(input=clip, logits=logits, embedding=emb, features=feats, slow_res5=slow5, fast_res5=fast5)
    io = OrderedDict((k, v.detach()) for k, v in io.items())
    io.update((k, v.detach()) for k, v in trace.items())
    io["loss"] = loss.detach().reshape(1)
    # gradients of a sample of parameters (all of them would be 2 MB): stems, fusions, each stage's first conv_a, head
    for name, prm in m.named_parameters():
        if name.startswith("blocks.0.") or "multipathway_fusion" in name or "res_blocks.0.branch2.conv_a" in name \
                or name.startswith("blocks.6."):
            io["grad." + name] = prm.grad.detach()
    io = OrderedDict((k, v.float()) for k, v in io.items())
    macs, _ = count_macs(m, clip.double())  # per clip, counted by hooks on the convolutions and the linear head
    io["macs_per_clip"] = torch.tensor([macs], dtype=torch.int64)
    io["labels"] = labels
    meta = {"model": "SlowFast depth 50, width 8, beta 1/8, alpha 4, fusion (7,1,1) ratio 2, built for 8x32 (head "
                     "pool (2,1,1)/(8,1,1)), 5 classes; input [2,3,8,32,64]",
            "by": "native/dev/slowfast_ref.py golden (torch %s, float64 reference)" % torch.__version__}
    write_safetensors(outdir + "/slowfast_tiny.safetensors", w32, meta)
    write_safetensors(outdir + "/slowfast_tiny_io.safetensors", io, meta)
    n = sum(p.numel() for p in m.parameters())
    print("tiny: %d parameters; logits %s; features %s (max |.| %.3f)" % (n, logits.tolist(), tuple(feats.shape),
                                                                         feats.abs().max().item()))


def crosscheck(resources):
    import struct as _s
    from pytorchvideo.models.slowfast import create_slowfast  # noqa: only for this check, never a dependency

    def read(path):
        with open(path, "rb") as f:
            blob = f.read()
        (n,) = _s.unpack("<Q", blob[:8])
        header = json.loads(blob[8:8 + n].decode("utf-8"))
        out = OrderedDict()
        for k, e in header.items():
            if k == "__metadata__":
                continue
            dt = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}[e["dtype"]]
            b, en = e["data_offsets"]
            out[k] = torch.frombuffer(bytearray(blob[8 + n + b:8 + n + en]), dtype=dt).reshape(e["shape"]).clone()
        return out

    ptv = create_slowfast()
    rows = ["%s\t%s" % (k, shape_str(p)) for k, p in ptv.named_parameters()]
    with open(resources + "/reference/slowfast_r50_k400_parameters.tsv") as f:
        ref = [l.rstrip("\n") for l in f if not l.startswith("#") and not l.startswith("name\t")]
    print("parameter list identical: %s (%d entries, %d parameters)"
          % (rows == ref, len(rows), sum(p.numel() for p in ptv.parameters())))
    tiny = create_slowfast(stem_dim_outs=(8, 1), model_num_class=5,
                           head_pool_kernel_sizes=((2, 1, 1), (8, 1, 1))).double()
    w = read(resources + "/fixtures/slowfast_tiny.safetensors")
    tiny.load_state_dict(OrderedDict((k, v.double() if v.is_floating_point() else v) for k, v in w.items()))
    tiny.eval()
    io = read(resources + "/fixtures/slowfast_tiny_io.safetensors")
    x = io["input"].double()
    with torch.no_grad():
        y = tiny([torch.index_select(x, 2, slow_frames(x.shape[2], 4)), x])
    print("max |pytorchvideo - golden| logits %.3e" % (y - io["logits"].double()).abs().max().item())


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "lists":
        lists(sys.argv[2])
    elif len(sys.argv) >= 2 and sys.argv[1] == "gmacs":
        gmacs()
    elif len(sys.argv) >= 3 and sys.argv[1] == "golden":
        golden(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "crosscheck":
        crosscheck(sys.argv[2])
    else:
        raise SystemExit(__doc__)
