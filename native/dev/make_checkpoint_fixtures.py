"""Writes the torch.save fixtures of dualdistill's checkpoint reader (model/io TorchFile) with real PyTorch.

    /usr/bin/python3 native/dev/make_checkpoint_fixtures.py src/test/resources/fixtures/checkpoints
    /usr/bin/python3 native/dev/make_checkpoint_fixtures.py --full-mvit /tmp/mvitv2_s_random.pyth   # benchmark file
    /usr/bin/python3 native/dev/make_checkpoint_fixtures.py --x3d-demo src/test/resources/fixtures/checkpoints  # only x3d_demo_k400_pyslowfast.pyth

Debian's python3-torch (1.13) and python3-torchvision (0.14). Everything written here is independent of the Java code:

  * basic_{zip,zip_p4,zip_p5,legacy}.pt: PySlowFast's layout {epoch, model_state, optimizer_state, cfg} with
    model_state an OrderedDict (with the _metadata attribute state dicts carry) of float32, float16, bfloat16,
    float64, int64, int32, uint8 and bool tensors, a Parameter, a 0-d tensor, a non-contiguous view (transpose), a
    view with a storage offset and two tensors sharing one storage; zip with pickle protocols 2, 4 and 5, and legacy;
  * basic_bigendian.pt: basic_zip.pt rewritten as a big-endian machine would save it (byteorder entry "big", every
    storage byte-swapped); torch 1.13 cannot write one, so this one is synthetic (torch >= 2.1 reads it);
  * basic_expected.json: every tensor's dtype, shape, stride, offset and values (row-major), from torch;
  * x3d_tiny_pyslowfast.pyth: ../x3d_tiny.safetensors renamed to PySlowFast's X3D names (table below, from
    slowfast/models/video_model_builder.py X3D, stem_helper X3DStem, resnet_helper X3DTransform, head_helper
    X3DHead), saved as PySlowFast saves (zip); x3d_tiny_pytorchvideo_legacy.pyth: the same under pytorchvideo's
    names in {"model_state": OrderedDict}, legacy format;
  * mvit_tiny_torchvision.pth: ../mvit_tiny.safetensors under torchvision's mvit names, as a bare OrderedDict
    (torchvision's weights files); the rename table is checked here against torchvision's real mvit_v2_s;
  * torchvision_mvit_v2_s_parameters.tsv: name and shape of every tensor of torchvision's mvit_v2_s(), for the
    Java test of the full-size map;
  * x3d_demo_k400_pyslowfast.pyth: the registry's x3d_demo preset (width 0.5, depth 0.5, head 64) with a 400-class
    head under PySlowFast's names in float16 (to stay small), {epoch, model_state: OrderedDict, optimizer_state, cfg}: a K400 zoo file for the
    end-to-end `train-teacher --arch x3d_demo --init` test (TrainTeacherInitCommandTest);
  * evil_system.pt (zip) and evil_eval_legacy.pt: checkpoints whose pickle calls posix.system / builtins.eval to
    create /tmp/dualdistill_evil_ran; the Java reader must refuse them by name and the file must never appear.
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile

import numpy as np
import torch

MARKER = "/tmp/dualdistill_evil_ran"


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    kinds = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "F16": torch.float16}
    out = collections.OrderedDict()
    for k, v in header.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        t = torch.frombuffer(bytearray(data[b:e]), dtype=kinds[v["dtype"]]) if e > b else torch.zeros(0, dtype=kinds[v["dtype"]])
        out[k] = t.reshape(v["shape"]).clone()
    return out


def basic_state():
    g = torch.Generator().manual_seed(13)
    base = torch.randn(3, 4, generator=g)
    shared = torch.arange(12, dtype=torch.float32)
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(2, 3, generator=g)
    sd["f16"] = torch.tensor([1.5, -2.25, 65504.0, 6.1e-5], dtype=torch.float16)
    sd["bf16"] = torch.tensor([1.5, -3.0, 1e30, 0.0078125], dtype=torch.bfloat16)
    sd["f64"] = torch.tensor([1e-300, -2.5, 3.141592653589793], dtype=torch.float64)
    sd["i64"] = torch.tensor([-(2 ** 62), 7, 2 ** 40], dtype=torch.int64)
    sd["i32"] = torch.tensor([-5, 2 ** 30], dtype=torch.int32)
    sd["u8"] = torch.tensor([0, 1, 127, 200, 255], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["param"] = torch.nn.Parameter(torch.randn(4, generator=g))
    sd["scalar"] = torch.tensor(2.5)
    sd["base"] = base
    sd["transposed"] = base.t()  # non-contiguous view of base's storage
    sd["row2"] = base[2]  # storage offset 8
    sd["strided"] = base[:, ::2]  # stride (4, 2)
    sd["shared_a"] = shared
    sd["shared_b"] = shared.view(3, 4)[1:]  # same storage as shared_a, offset 4
    sd["empty"] = torch.zeros(0, 3)
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("layer", {"version": 2})])
    return sd


def pyslowfast_layout(sd):
    momentum = collections.OrderedDict()
    momentum[0] = {"momentum_buffer": torch.ones(2, 3)}
    return {
        "epoch": 7,
        "model_state": sd,
        "optimizer_state": {"state": momentum,
                            "param_groups": [{"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-5, "nesterov": True,
                                              "betas": (0.9, 0.999), "params": [0, 1, 2]}]},
        "cfg": "TRAIN:\n  BATCH_SIZE: 64\nMODEL:\n  NUM_CLASSES: 400\n",
    }


def expected(sd):
    out = {}
    for k, t in sd.items():
        v = t.detach()
        vals = v.to(torch.float64).reshape(-1).tolist() if v.dtype != torch.bool else [float(x) for x in v.reshape(-1).tolist()]
        if v.dtype == torch.int64:
            vals = [str(x) for x in v.reshape(-1).tolist()]  # exact beyond 2^53
        out[k] = {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape), "stride": list(v.stride()),
                  "offset": v.storage_offset(), "values": vals,
                  "requires_grad": bool(t.requires_grad)}
    return out


def storage_dtypes(pkl_bytes):
    """key -> element size, read from data.pkl without rebuilding anything."""
    sizes = {}

    class Peek(pickle.Unpickler):
        def persistent_load(self, pid):
            _, storage_type, key, _, _ = pid
            sizes[key] = storage_type(0).element_size()
            return None

        def find_class(self, module, name):
            if module == "collections" and name == "OrderedDict":
                return collections.OrderedDict
            if module.startswith("torch") and "Storage" in name:
                return getattr(torch, name)
            return lambda *a, **k: None

    Peek(io.BytesIO(pkl_bytes)).load()
    return sizes


def to_big_endian(src, dst):
    with zipfile.ZipFile(src) as z:
        names = z.namelist()
        prefix = [n for n in names if n.endswith("/data.pkl")][0][:-len("data.pkl")]
        sizes = storage_dtypes(z.read(prefix + "data.pkl"))
        with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_STORED) as out:
            for n in names:
                b = z.read(n)
                if n.startswith(prefix + "data/"):
                    w = sizes[n[len(prefix + "data/"):]]
                    if w > 1:
                        b = np.frombuffer(b, dtype=np.dtype("u%d" % w)).byteswap().tobytes()
                out.writestr(n, b)
            out.writestr(prefix + "byteorder", "big")


X3D_PSF = [("branch1_conv.", "branch1."), ("branch1_norm.", "branch1_bn."), ("branch2.conv_a.", "branch2.a."),
           ("branch2.norm_a.", "branch2.a_bn."), ("branch2.conv_b.", "branch2.b."), ("branch2.norm_b.0.", "branch2.b_bn."),
           ("branch2.norm_b.1.block.0.", "branch2.se.fc1."), ("branch2.norm_b.1.block.2.", "branch2.se.fc2."),
           ("branch2.conv_c.", "branch2.c."), ("branch2.norm_c.", "branch2.c_bn.")]


def x3d_to_pyslowfast(k):
    p = k.split(".")
    if p[:2] == ["blocks", "0"]:
        rest = ".".join(p[2:])
        for a, b in [("conv.conv_t.", "conv_xy."), ("conv.conv_xy.", "conv."), ("norm.", "bn.")]:
            if rest.startswith(a):
                return "s1.pathway0_stem." + b + rest[len(a):]
    if p[0] == "blocks" and p[1] in "1234" and p[2] == "res_blocks":
        rest = ".".join(p[4:]) + ""
        for a, b in X3D_PSF:
            if (rest + ".").startswith(a) or rest.startswith(a):
                return "s%d.pathway0_res%s.%s%s" % (int(p[1]) + 1, p[3], b, rest[len(a):])
    if p[:2] == ["blocks", "5"]:
        rest = ".".join(p[2:])
        for a, b in [("pool.pre_conv.", "conv_5."), ("pool.pre_norm.", "conv_5_bn."), ("pool.post_conv.", "lin_5."),
                     ("proj.", "projection.")]:
            if rest.startswith(a):
                return "head." + b + rest[len(a):]
    raise KeyError(k)


def mvit_to_torchvision(k):
    """PySlowFast MViTv2 names (= dualdistill's) -> torchvision.models.video.mvit names."""
    if k.startswith("patch_embed.proj."):
        return "conv_proj." + k[len("patch_embed.proj."):]
    if k == "cls_token":
        return "pos_encoding.class_token"
    if k.startswith("head.projection."):
        return "head.1." + k[len("head.projection."):]
    p = k.split(".")
    if p[0] == "blocks":
        i, rest = p[1], ".".join(p[2:])
        table = [("attn.proj.", "attn.project.0."), ("mlp.fc1.", "mlp.0."), ("mlp.fc2.", "mlp.3."), ("proj.", "project.")]
        for x in "qkv":
            table += [("attn.pool_%s." % x, "attn.pool_%s.pool." % x), ("attn.norm_%s." % x, "attn.pool_%s.norm_act.0." % x)]
        for a, b in table:
            if rest.startswith(a):
                return "blocks.%s.%s%s" % (i, b, rest[len(a):])
        return k
    return k


def check_torchvision_names(tsv_in, tsv_out):
    """The rename of PySlowFast's full-size MViTv2-S list must give torchvision's mvit_v2_s exactly."""
    from torchvision.models.video import mvit_v2_s
    tv = mvit_v2_s().state_dict()
    ours = {}
    with open(tsv_in) as f:
        for line in f:
            if line.startswith("#") or line.startswith("name\t"):
                continue
            n, s = line.rstrip("\n").split("\t")
            ours[n] = [int(x) for x in s.split(",")]
    mapped = {mvit_to_torchvision(n): s for n, s in ours.items()}
    assert set(mapped) == set(tv), (sorted(set(mapped) - set(tv))[:10], sorted(set(tv) - set(mapped))[:10])
    for n, s in mapped.items():
        want = list(tv[n].shape)
        assert want == s or (n == "pos_encoding.class_token" and want == [s[-1]]), (n, s, want)
    with open(tsv_out, "w") as f:
        f.write("# torchvision %s mvit_v2_s(): %d tensors, %d parameters\nname\tshape\n"
                % (__import__("torchvision").__version__, len(tv), sum(v.numel() for v in tv.values())))
        for n, v in tv.items():
            f.write("%s\t%s\n" % (n, ",".join(str(d) for d in v.shape)))


class EvilSystem:
    def __reduce__(self):
        return (os.system, ("touch " + MARKER,))


class EvilEval:
    def __reduce__(self):
        return (eval, ("open(%r, 'w').close()" % MARKER,))


def main(out):
    os.makedirs(out, exist_ok=True)
    fixtures = os.path.dirname(os.path.abspath(out.rstrip("/")))
    sd = basic_state()
    ck = pyslowfast_layout(sd)
    x3d_demo_k400(out)
    torch.save(ck, os.path.join(out, "basic_zip.pt"))
    torch.save(ck, os.path.join(out, "basic_zip_p4.pt"), pickle_protocol=4)
    torch.save(ck, os.path.join(out, "basic_zip_p5.pt"), pickle_protocol=5)
    torch.save(ck, os.path.join(out, "basic_legacy.pt"), _use_new_zipfile_serialization=False)
    to_big_endian(os.path.join(out, "basic_zip.pt"), os.path.join(out, "basic_bigendian.pt"))
    for f in ["basic_zip.pt", "basic_zip_p4.pt", "basic_zip_p5.pt", "basic_legacy.pt"]:
        back = torch.load(os.path.join(out, f))["model_state"]
        assert all(torch.equal(back[k], sd[k]) for k in sd), f
    with open(os.path.join(out, "basic_expected.json"), "w") as f:
        json.dump({"epoch": 7, "cfg": ck["cfg"], "tensors": expected(sd)}, f, indent=1)

    # a smaller X3D than ../x3d_tiny (depth factor 0.4, head 32) from make_fixtures.py's pytorchvideo structure
    sys.path.insert(0, fixtures)
    import make_fixtures as mf
    mf.D, mf.HEAD, mf.CLASSES = 0.4, 32, 5
    torch.manual_seed(5)
    x3d = mf.X3D().eval()
    with torch.no_grad():
        for m in x3d.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
        n = 3 * 4 * 32 * 32
        clip = torch.sin(torch.arange(n, dtype=torch.float64) * 0.37).float().reshape(1, 3, 4, 32, 32)
        logits, _ = x3d(clip)
    psf = collections.OrderedDict((x3d_to_pyslowfast(k), v) for k, v in x3d.state_dict().items())
    torch.save({"epoch": 1, "model_state": psf, "optimizer_state": {}, "cfg": "MODEL:\n  ARCH: x3d\n"},
               os.path.join(out, "x3d_small_pyslowfast.pyth"))
    with open(os.path.join(out, "x3d_small_expected.json"), "w") as f:
        json.dump({"config": "width 0.5, depth 0.4, head 32, classes 5, clip 4x32", "input": "sin(0.37 * i) in float64, cast to float32, i = 0..12287, shape [1, 3, 4, 32, 32]",
                   "logits": logits.reshape(-1).tolist()}, f)

    mvit = read_safetensors(os.path.join(fixtures, "mvit_tiny.safetensors"))
    tv = collections.OrderedDict()
    for k, v in mvit.items():
        tv[mvit_to_torchvision(k)] = v.reshape(-1) if k == "cls_token" else v
    torch.save(tv, os.path.join(out, "mvit_tiny_torchvision.pth"))
    check_torchvision_names(os.path.join(out, "mvitv2_s_k400_parameters.tsv"),
                            os.path.join(out, "torchvision_mvit_v2_s_parameters.tsv"))

    w = collections.OrderedDict(w=torch.ones(2))
    torch.save({"model_state": w, "extra": EvilSystem()}, os.path.join(out, "evil_system.pt"))
    torch.save({"model_state": w, "extra": [1, {"deep": EvilEval()}]}, os.path.join(out, "evil_eval_legacy.pt"),
               _use_new_zipfile_serialization=False)
    assert not os.path.exists(MARKER)


def x3d_demo_k400(out):
    """x3d_demo_k400_pyslowfast.pyth: the registry's x3d_demo preset (width 0.5, depth 0.5, head 64) with a
    400-class head, as a Kinetics-400 zoo checkpoint in PySlowFast's layout, for the train-teacher --init test."""
    fixtures = os.path.dirname(os.path.abspath(out.rstrip("/")))
    sys.path.insert(0, fixtures)
    import make_fixtures as mf
    saved = mf.W, mf.D, mf.HEAD, mf.CLASSES
    mf.W, mf.D, mf.HEAD, mf.CLASSES = 0.5, 0.5, 64, 400
    try:
        torch.manual_seed(400)
        x3d = mf.X3D().eval()
    finally:
        mf.W, mf.D, mf.HEAD, mf.CLASSES = saved
    with torch.no_grad():
        for m in x3d.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(0.05, 0.2)  # no zero parameter: the test's near-zero learning rate leaves all unchanged
    # half precision keeps the file under 400 KB (fp32 would be ~490 KB); the reader converts to the model's dtype
    psf = collections.OrderedDict((x3d_to_pyslowfast(k), v.half() if v.is_floating_point() else v)
                                  for k, v in x3d.state_dict().items())
    path = os.path.join(out, "x3d_demo_k400_pyslowfast.pyth")
    torch.save({"epoch": 300, "model_state": psf, "optimizer_state": {}, "cfg": "MODEL:\n  ARCH: x3d\n  NUM_CLASSES: 400\n"}, path)
    back = torch.load(path)["model_state"]
    assert list(back) == list(psf) and all(torch.equal(back[k], psf[k]) for k in psf)
    assert back["head.projection.weight"].shape == (400, 64), back["head.projection.weight"].shape
    assert all((v != 0).all() for k, v in psf.items() if v.is_floating_point() and not k.endswith("running_mean"))


def full_mvit(path):
    """A full-size MViTv2-S checkpoint with random weights in PySlowFast's layout (for benchmarks/RESULTS.md)."""
    g = torch.Generator().manual_seed(0)
    inv = {}
    names = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "test", "resources", "fixtures",
                         "checkpoints", "mvitv2_s_k400_parameters.tsv")
    with open(names) as f:
        for line in f:
            if not line.startswith("#") and not line.startswith("name\t"):
                n, s = line.rstrip("\n").split("\t")
                inv[n] = [int(x) for x in s.split(",")]
    sd = collections.OrderedDict((n, torch.randn(*s, generator=g)) for n, s in inv.items())
    torch.save({"epoch": 200, "model_state": sd, "optimizer_state": {}, "cfg": "MODEL:\n  ARCH: mvit\n"}, path)


if __name__ == "__main__":
    if sys.argv[1] == "--full-mvit":
        full_mvit(sys.argv[2])
    elif sys.argv[1] == "--x3d-demo":  # only x3d_demo_k400_pyslowfast.pyth
        x3d_demo_k400(sys.argv[2])
    else:
        main(sys.argv[1])
