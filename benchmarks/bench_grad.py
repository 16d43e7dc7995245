"""Cost of gradient mode: `actstat probe --grad` against the same probe without it, in one run.

    python benchmarks/bench_grad.py [--repeat N]

Prints, for C2 (10 x 500, batch 1000, tanh, xavier, float64) and C4 (500 x 256, batch 1024,
float32), the median in-process time of each and their ratio. Target (issue 7): --grad <= 3.5x forward
(a backward pass costs two matrix products per layer to the forward's one, plus statistics).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")  # as the CLI sets it, before numpy loads OpenBLAS

from actstat.probe import ProbeConfig, run_probe

CONFIGS = {
    "C2": dict(widths=(500,) * 10, batch=1000, act="tanh", init="xavier", dtype="float64"),
    "C4": dict(widths=(256,) * 500, batch=1024, act="tanh", init="xavier", dtype="float32"),
}
TARGET = 3.5


def timed(cfg: ProbeConfig) -> float:
    t = time.perf_counter()
    run_probe(cfg)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"{'config':6} {'forward s':>10} {'--grad s':>10} {'ratio':>6}  target <= {TARGET:g}")
    for name, kw in CONFIGS.items():
        fwd, grad = [], []
        for _ in range(args.repeat):  # alternate, so drift hits both alike
            fwd.append(timed(ProbeConfig(**kw)))
            grad.append(timed(ProbeConfig(**kw, grad=True, loss="softmax")))
        f, g = statistics.median(fwd), statistics.median(grad)
        print(f"{name:6} {f:10.3f} {g:10.3f} {g / f:6.2f}  {'PASS' if g / f <= TARGET else 'MISS'}")


if __name__ == "__main__":
    main()
