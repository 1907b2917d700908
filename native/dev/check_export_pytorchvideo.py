"""Dev check, not part of the tests (the tests never need Python): does `dualdistill weights export-pytorch --to
pytorchvideo` write a file that pytorchvideo's real create_x3d loads and runs to the same logits?

    # 1. the Java half: exports random X3D students through the CLI and saves a fixed input + the Java logits
    java --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
        -cp target/classes:$(cat target/classpath.txt) native/dev/ExportPytorchCheck.java /tmp/export_check
    # 2. this script, with Debian's python3-torch and throwaway copies of pytorchvideo and fvcore sources
    /usr/bin/python3 native/dev/check_export_pytorchvideo.py /tmp/export_check \
        --pytorchvideo PATH --fvcore PATH

PATH is a source tree or a bare git directory of github.com/facebookresearch/pytorchvideo (and .../fvcore). Both are
copied to a temporary folder (git archive for a git directory) and imported from there; nothing of them is kept or
committed. pytorchvideo's models package imports fvcore, which is not installable here: only the two fvcore modules
create_x3d needs (fvcore/nn/squeeze_excitation.py, weight_init.py) are copied, under empty package __init__ files.

For every CASE.safetensors + CASE_io.safetensors in the folder: create_x3d(**arguments from the io file's metadata:
clip length, crop, classes, width, depth, head width and stem_dim_in, which is 12 at width 2.0 but 16 at the reduced
widths 0.5 and 1.0, see ExportPytorchCheck.pytorchvideoStemDimIn),
load_state_dict(file, strict=True), eval, forward the saved input, and compare with the saved Java logits
(max abs diff, tolerance 1e-4). safetensors files are read with the safetensors package when installed, else with
the stdlib (8-byte little-endian header length, JSON header, raw little-endian data) and torch.frombuffer.
Exit status 0 when every case is within tolerance.
"""
import argparse
import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import torch

TOLERANCE = 1e-4
DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8, "BOOL": torch.bool}


def load_safetensors(path):
    """(tensors, metadata) of a safetensors file."""
    try:
        from safetensors.torch import load_file, safe_open  # noqa: F401
        with safe_open(path, "pt") as f:
            meta = f.metadata() or {}
        return load_file(path), meta
    except ImportError:
        pass
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        dtype = DTYPES[e["dtype"]]
        raw = bytearray(blob[base + a:base + b])  # a writable copy: frombuffer warns on read-only buffers
        t = torch.frombuffer(raw, dtype=dtype) if b > a else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(e["shape"]).clone()
    return out, meta


def copy_source(src, dst, paths):
    """Copies `paths` of a source tree or bare git directory `src` into `dst`."""
    os.makedirs(dst, exist_ok=True)
    if os.path.isdir(os.path.join(src, "objects")) and os.path.isfile(os.path.join(src, "HEAD")):
        archive = subprocess.run(["git", "--git-dir", src, "archive", "HEAD"] + paths, check=True,
                                 stdout=subprocess.PIPE).stdout
        subprocess.run(["tar", "-x", "-C", dst], input=archive, check=True)
    else:
        for p in paths:
            s = os.path.join(src, p)
            (shutil.copytree if os.path.isdir(s) else shutil.copy)(s, os.path.join(dst, p))


def import_create_x3d(pytorchvideo, fvcore, tmp):
    copy_source(pytorchvideo, tmp, ["pytorchvideo"])
    copy_source(fvcore, tmp, ["fvcore/nn/squeeze_excitation.py", "fvcore/nn/weight_init.py"])
    for init in ["fvcore/__init__.py", "fvcore/nn/__init__.py"]:
        open(os.path.join(tmp, init), "w").close()  # the rest of fvcore (iopath, tabulate, ...) is not needed
    sys.path.insert(0, tmp)
    from pytorchvideo.models.x3d import create_x3d
    return create_x3d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--pytorchvideo", required=True)
    ap.add_argument("--fvcore", required=True)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ptv_check_")
    try:
        create_x3d = import_create_x3d(a.pytorchvideo, a.fvcore, tmp)
        worst = 0.0
        cases = sorted(p for p in glob.glob(os.path.join(a.folder, "*.safetensors")) if not p.endswith("_io.safetensors"))
        if not cases:
            sys.exit("no CASE.safetensors in " + a.folder)
        for path in cases:
            io, meta = load_safetensors(path[:-len(".safetensors")] + "_io.safetensors")
            args = dict(input_clip_length=int(meta["input_clip_length"]), input_crop_size=int(meta["input_crop_size"]),
                        model_num_class=int(meta["model_num_class"]), width_factor=float(meta["width_factor"]),
                        depth_factor=float(meta["depth_factor"]), head_dim_out=int(meta["head_dim_out"]),
                        stem_dim_in=int(meta["stem_dim_in"]), dropout_rate=0.0)
            torch.manual_seed(0)
            net = create_x3d(**args)
            sd, _ = load_safetensors(path)
            result = net.load_state_dict(sd, strict=True)
            net.eval()
            with torch.no_grad():
                logits = net(io["input"])
            java = io["logits"]
            assert logits.shape == java.shape, (logits.shape, java.shape)
            diff = (logits - java).abs().max().item()
            worst = max(worst, diff)
            print("%s: create_x3d(%s): %d tensors loaded strict (%s), logits %s, |logits| max %.4f, max abs diff vs Java %.3g"
                  % (os.path.basename(path), ", ".join("%s=%s" % kv for kv in args.items()), len(sd), result,
                     list(logits.shape), logits.abs().max().item(), diff))
        print("torch %s; worst max abs diff %.3g (tolerance %g): %s"
              % (torch.__version__, worst, TOLERANCE, "OK" if worst <= TOLERANCE else "FAIL"))
        sys.exit(0 if worst <= TOLERANCE else 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
