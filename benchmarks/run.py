"""actstat against the bare numpy loop, in one run. Prints every figure and the target ratios.

    python benchmarks/run.py            # about three minutes on 2 cores
    python benchmarks/run.py --quick    # fewer repetitions

Whole-process wall times are medians of alternating runs (actstat, baseline, actstat, ...), so drift
on a shared machine hits both alike; peak RSS is each child's own ru_maxrss (os.wait4). Compute time
is run_probe's in-process time; the floor is the configuration's matrix multiplies alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
ACTSTAT = [sys.executable, "-m", "actstat"]
BASELINE = [sys.executable, str(HERE / "baseline.py")]

CONFIGS = {
    "C1": ["--layers", "10", "--width", "500", "--batch", "1000", "--dtype", "float64"],
    "C2": ["--layers", "10", "--width", "500", "--batch", "1000", "--dtype", "float64", "--grad"],
    "C3": ["--layers", "50", "--width", "1024", "--batch", "4096", "--dtype", "float32"],
    "C4": ["--layers", "500", "--width", "256", "--batch", "1024", "--dtype", "float32"],
    "C4g": ["--layers", "500", "--width", "256", "--batch", "1024", "--dtype", "float32", "--grad"],
}
PROBE_ARGS = ["--act", "tanh", "--init", "xavier", "--format", "json"]


# children run as a user's shell would run them: with byte-code caching (the sandbox this was
# written in sets PYTHONDONTWRITEBYTECODE, which makes every start-up recompile actstat)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
# in-process timings import actstat.probe, not the CLI: give them the OpenBLAS setting the CLI makes
ENV_CLI = {"OPENBLAS_THREAD_TIMEOUT": "4", **ENV}


def run_child(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one fresh process, stdout discarded."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(cmd)} failed: {p.stderr.read().decode() if p.stderr else ''}")
    return wall, usage.ru_maxrss / 1024


def baseline_args(args: list[str]) -> list[str]:
    return [a for a in args] + ["--act", "tanh"]


def alternate(a: list[str], b: list[str], reps: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    ra, rb = [], []
    for _ in range(reps):
        ra.append(run_child(a))
        rb.append(run_child(b))
    return ra, rb


def med(rs: list[tuple[float, float]], i: int = 0) -> float:
    return statistics.median(r[i] for r in rs)


def in_child(fn: str, args: list[str], reps: int, env: dict[str, str] = ENV_CLI) -> float:
    """Run ``fn`` in a fresh process (this one stays small, so children's RSS readings stay honest)."""
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import run; print(run.{fn}({args!r}, {reps}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def compute_time(args: list[str], reps: int) -> float:
    from actstat.probe import ProbeConfig, run_probe

    kw = dict(zip(args[::2], args[1::2]))
    cfg = ProbeConfig(widths=(int(kw["--width"]),) * int(kw["--layers"]), batch=int(kw["--batch"]), act="tanh",
                      init="xavier", dtype=kw["--dtype"], grad="--grad" in args)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        run_probe(cfg)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def matmul_time(args: list[str], reps: int) -> float:
    """The configuration's matrix products alone: X @ W per layer (and dW, dX per layer with --grad)."""
    kw = dict(zip(args[::2], args[1::2]))
    L, n, B = int(kw["--layers"]), int(kw["--width"]), int(kw["--batch"])
    dt = np.dtype(kw["--dtype"])
    rng = np.random.default_rng(0)
    X = rng.standard_normal((B, n)).astype(dt)
    W = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(dt)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        H = X
        for _ in range(L):
            H = H @ W
            if "--grad" in args:
                _ = X.T @ H
                _ = H @ W.T
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = "unknown BLAS"
    try:
        cfg = np.show_config(mode="dicts")
        b = cfg["Build Dependencies"]["blas"]
        blas = f"{b.get('name')} {b.get('version', '')}".strip()
    except Exception:  # older numpy
        pass
    return (f"{os.cpu_count()} cores, {cpu}; Python {platform.python_version()}, numpy {np.__version__},"
            f" {blas}; {time.strftime('%Y-%m-%d')}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    a = ap.parse_args()
    reps = 3 if a.quick else 7
    print(machine())
    rows: list[tuple[str, str, str, bool | None]] = []

    def target(name: str, value: float, limit: float, unit: str = "", below: bool = True) -> None:
        ok = value <= limit if below else value >= limit
        rows.append((name, f"{value:.3g}{unit}", f"{'<=' if below else '>='} {limit:g}{unit}", ok))

    print(f"\n{'config':5} {'actstat s':>9} {'baseline s':>10} {'ratio':>6} {'compute s':>9} {'matmul s':>8}"
          f" {'c/mm':>5} {'RSS MB':>7} {'base MB':>7}")
    results = {}
    for name, args in CONFIGS.items():
        ra, rb = alternate(ACTSTAT + ["probe", *args, *PROBE_ARGS], BASELINE + baseline_args(args), reps)
        comp = in_child("compute_time", args, max(1, reps // 2))
        # the floor: the faster of the products with OpenBLAS's settings as actstat runs them and as they come
        mm = min(in_child("matmul_time", args, max(1, reps // 2)), in_child("matmul_time", args, max(1, reps // 2), ENV))
        results[name] = (med(ra), med(rb), comp, mm, med(ra, 1), med(rb, 1))
        r = results[name]
        print(f"{name:5} {r[0]:9.3f} {r[1]:10.3f} {r[0] / r[1]:6.2f} {r[2]:9.3f} {r[3]:8.3f} {r[2] / r[3]:5.2f}"
              f" {r[4]:7.0f} {r[5]:7.0f}")
    target("C1 probe/baseline whole-process", results["C1"][0] / results["C1"][1], 1.0)
    target("C3 probe/baseline whole-process", results["C3"][0] / results["C3"][1], 0.8)
    target("C4 probe/baseline whole-process", results["C4"][0] / results["C4"][1], 0.8)
    target("C3 compute / its matmuls", results["C3"][2] / results["C3"][3], 1.5)
    target("C2 --grad / forward (compute)", results["C2"][2] / results["C1"][2], 3.5)
    target("C4 --grad / forward (compute)", results["C4g"][2] / results["C4"][2], 3.5)

    ten = ["--layers", "10", "--width", "256", "--batch", "1024", "--dtype", "float32"]
    rss10 = statistics.median(run_child(ACTSTAT + ["probe", *ten, *PROBE_ARGS])[1] for _ in range(3))
    target("C4 forward RSS / 10-layer RSS", results["C4"][4] / rss10, 1.2)
    print(f"\nC4 peak RSS {results['C4'][4]:.0f} MB; the same probe with 10 layers {rss10:.0f} MB")

    for cmd in (["--help"], ["list"]):
        t = statistics.median(run_child(ACTSTAT + cmd)[0] for _ in range(max(5, reps)))
        target(f"actstat {' '.join(cmd)} whole-process", t, 0.25, " s")

    comp = ["compare", "--act", "tanh,relu", "--init", "xavier,he", "--layers", "10,20", "--width", "500",
            "--batch", "1000", "--format", "json"]
    j1, j2 = alternate(ACTSTAT + comp + ["--jobs", "1"], ACTSTAT + comp + ["--jobs", "2"], max(2, reps // 2))
    print(f"compare, 8 configurations: --jobs 1 {med(j1):.2f} s, --jobs 2 {med(j2):.2f} s")
    target("compare --jobs 2 speed-up", med(j1) / med(j2), 1.6, below=False)

    print(f"\n{'target':40} {'measured':>10} {'target':>10}  result")
    for name, value, limit, ok in rows:
        print(f"{name:40} {value:>10} {limit:>10}  {'PASS' if ok else 'MISS'}")


if __name__ == "__main__":
    main()
