#!/usr/bin/env bash
# GPU check of the native kernels, for the lent GPU machine (nvcc, Python 3 + PyTorch with CUDA, no Java).
# Run from the repository root:
#     bash native/dev/gpu_check.sh                  # build, check CUDA vs the PyTorch reference, benchmark, check CPU
#     DD_SANITIZE=1 bash native/dev/gpu_check.sh    # also run a small case under compute-sanitizer (slower)
# With $OUT set, the whole output is also written to $OUT/gpu_check.log.
set -euo pipefail
export PYTHONUNBUFFERED=1

if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    exec > >(tee "$OUT/gpu_check.log") 2>&1
fi

# the Makefile silently skips the CUDA library when nvcc is not on the PATH
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH="/usr/local/cuda/bin:$PATH"
fi

echo "== environment"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
nvcc --version | tail -n 2
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'

echo "== build"
make -C native -s
LIB_CUDA=native/build/libdualdistill_kernels_cuda.so
LIB_CPU=native/build/libdualdistill_kernels.so
test -f "$LIB_CUDA" || { echo "no $LIB_CUDA was built (nvcc missing?)"; exit 1; }

echo "== CUDA vs PyTorch reference, benchmark"
python3 native/dev/datw_ref.py check-cuda "$LIB_CUDA" --bench

echo "== CUDA extra checks"
python3 - "$LIB_CUDA" <<'PY'
import ctypes, sys, time
import torch
sys.path.insert(0, "native/dev")
import datw_ref as R

lib = ctypes.CDLL(sys.argv[1])
fn = lib.dd_datw_cuda
fn.restype = ctypes.c_int32
sync = torch.cuda.synchronize

# deterministic: two runs give bit-identical outputs
s, ts, y = R.make_case(1024, 1000, 3, seed=21, device="cuda")
a = R.run_kernel(lib, fn, s, ts, y)
b = R.run_kernel(lib, fn, s, ts, y)
sync()
same = all(torch.equal(x, z) for x, z in zip(a[1:6], b[1:6]))
print(f"deterministic: {same}")
assert same

# a label out of range: flag 5, that row's gradient zero, no crash, other rows untouched
s, ts, y = R.make_case(16, 51, 2, seed=22, device="cuda")
y[5] = 51
y[9] = -1
rc, loss, g, w, cf, ds, flag = R.run_kernel(lib, fn, s, ts, y)
sync()
print(f"bad label: rc={rc} flag={flag.item()} row grad zero={bool((g[5] == 0).all() and (g[9] == 0).all())}")
assert rc == 0 and flag.item() == 5 and (g[5] == 0).all() and (g[9] == 0).all() and torch.isfinite(g[0]).all()

# no labels (alpha_ce = 0): L_ce = 0, KD only
s, ts, y = R.make_case(64, 400, 2, seed=23, device="cuda")
rc, loss, g, *_ = R.run_kernel(lib, fn, s, ts, None, a_ce=0.0)
sync()
ref = R.reference(s.cpu(), [t.cpu() for t in ts], None, a_ce=0.0)
err = abs(loss[0].item() - ref[0].item()) / max(1.0, abs(ref[0].item()))
gerr = (g.cpu().double() - ref[3]).abs().max().item() / ref[3].abs().max().item()
print(f"no labels: rc={rc} loss={loss.tolist()} ref={ref[0].item():.6f} rel err {err:.2e} grad {gerr:.2e}")
assert rc == 0 and loss[2].item() == 0.0 and err < 2e-5 and gerr < 2e-5

# eight teachers, every mode, cached (C=400) and uncached (C=1000) rows
for C in (400, 1000):
    for m in R.MODES:
        s, ts, y = R.make_case(33, C, 8, seed=24, device="cuda")
        rc, loss, g, w, *_ = R.run_kernel(lib, fn, s, ts, y, ls=0.1, **m)
        sync()
        ref = R.reference(s.cpu(), [t.cpu() for t in ts], y.cpu(), ls=0.1, **m)
        err = abs(loss[0].item() - ref[0].item()) / max(1.0, abs(ref[0].item()))
        gerr = (g.cpu().double() - ref[3]).abs().max().item() / ref[3].abs().max().item()
        werr = (w.cpu().double() - ref[4]).abs().max().item()
        assert rc == 0 and err < 2e-5 and gerr < 2e-5 and werr < 2e-5, (C, m, err, gerr, werr)
print("K=8: all modes agree")

# a large batch: B = 100000 rows of C = 10 (grid of 100k blocks, kernel 2 over 100k rows)
s, ts, y = R.make_case(100000, 10, 2, seed=25, device="cuda")
rc, loss, g, *_ = R.run_kernel(lib, fn, s, ts, y)
sync()
ref = R.reference(s.cpu(), [t.cpu() for t in ts], y.cpu())
err = abs(loss[0].item() - ref[0].item()) / max(1.0, abs(ref[0].item()))
gerr = (g.cpu().double() - ref[3]).abs().max().item() / ref[3].abs().max().item()
t0 = time.perf_counter()
for _ in range(20):
    R.run_kernel(lib, fn, s, ts, y)
sync()
print(f"B=100000 C=10 K=2: rc={rc} rel err {err:.2e} grad {gerr:.2e}, {(time.perf_counter() - t0) / 20 * 1e6:.0f} us/call")
assert rc == 0 and err < 2e-5 and gerr < 2e-5
PY

if [ "${DD_SANITIZE:-0}" = "1" ] && command -v compute-sanitizer >/dev/null 2>&1; then
    echo "== compute-sanitizer (memcheck, racecheck) on small cases"
    cat > /tmp/dd_sanitize_case.py <<'PY'
import ctypes, sys
import torch
sys.path.insert(0, "native/dev")
import datw_ref as R
lib = ctypes.CDLL(sys.argv[1]); fn = lib.dd_datw_cuda; fn.restype = ctypes.c_int32
for dtype in (torch.float32, torch.bfloat16):
    for (B, C, K) in ((3, 2, 2), (3, 300, 3), (2, 4096, 2)):
        s, ts, y = R.make_case(B, C, K, seed=1, dtype=dtype, device="cuda")
        y[0] = C  # out of range: must not be read
        assert R.run_kernel(lib, fn, s, ts, y, weighting="camkd")[0] == 0
torch.cuda.synchronize()
print("sanitizer case done")
PY
    for tool in memcheck racecheck; do
        timeout 300 compute-sanitizer --tool "$tool" --error-exitcode 1 python3 /tmp/dd_sanitize_case.py "$LIB_CUDA" \
            2>&1 | grep -v "^========= COMPUTE-SANITIZER$" | tail -n 20
    done
fi

echo "== CPU vs PyTorch reference"
python3 native/dev/datw_ref.py check-cpu "$LIB_CPU"
echo "== gpu_check done"
