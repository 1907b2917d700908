"""torch.load of a checkpoint, median of 7 runs after 2 warm-ups (benchmarks/checkpoint_load.sh)."""
import statistics
import sys
import time

import torch

torch.set_num_threads(2)
times = []
for i in range(9):
    a = time.perf_counter()
    c = torch.load(sys.argv[1], map_location="cpu")
    n = sum(v.numel() for v in c["model_state"].values())
    times.append((time.perf_counter() - a) * 1e3)
    del c
print("torch.load %.1f ms (%d elements, torch %s)" % (statistics.median(times[2:]), n, torch.__version__))
