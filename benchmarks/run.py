"""actstat against the fastest plain numpy loop, in one run. Prints every figure and the target ratios.

    python benchmarks/run.py            # about ten minutes on 2 cores
    python benchmarks/run.py --quick    # fewer repetitions

The baseline is the fastest of four plain variants of benchmarks/baseline.py, all timed in the same
run: weights drawn per layer or up front, BLAS on its default threads or on one
(OPENBLAS_NUM_THREADS=1). Every ratio is against the fastest of them; the others stay in the table to
show the spread. Whole-process wall times are medians of alternating runs (actstat, then each variant,
the variants' order rotating from one round to the next), so drift on a shared machine hits all alike;
peak RSS is each child's own ru_maxrss (os.wait4). Compute time is run_probe's in-process time; the
floor is the configuration's matrix multiplies alone.
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


# the baseline's variants: (name, extra arguments, extra environment)
VARIANTS = [
    ("per-layer", ["--weights", "per-layer"], {}),
    ("per-layer 1T", ["--weights", "per-layer"], {"OPENBLAS_NUM_THREADS": "1"}),
    ("upfront", ["--weights", "upfront"], {}),
    ("upfront 1T", ["--weights", "upfront"], {"OPENBLAS_NUM_THREADS": "1"}),
]


def run_child(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one fresh process, stdout discarded."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV | (env or {}))
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


def against_variants(probe: list[str], args: list[str], reps: int
                     ) -> tuple[list[tuple[float, float]], dict[str, list[tuple[float, float]]]]:
    """actstat's runs and every baseline variant's, alternating: actstat, then each variant (their order
    rotating by one each round, so no variant always runs right after actstat)."""
    ra: list[tuple[float, float]] = []
    rv: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in VARIANTS}
    for i in range(reps):
        ra.append(run_child(probe))
        k = i % len(VARIANTS)
        for name, extra, env in VARIANTS[k:] + VARIANTS[:k]:
            rv[name].append(run_child(BASELINE + baseline_args(args) + extra, env))
    return ra, rv


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
    ap.add_argument("--reps", type=int, help="rounds of alternating whole-process runs (default 7, --quick 3)")
    ap.add_argument("--configs", help="only these configurations, e.g. C1,C4 (the targets they decide; no"
                    " start-up, RSS or compare figures)")
    a = ap.parse_args()
    reps = a.reps or (3 if a.quick else 7)
    only = a.configs.split(",") if a.configs else list(CONFIGS)
    if unknown := [c for c in only if c not in CONFIGS]:
        ap.error(f"unknown configuration {', '.join(unknown)} (known: {', '.join(CONFIGS)})")
    print(machine())
    rows: list[tuple[str, str, str, bool | None]] = []

    def target(name: str, value: float, limit: float, unit: str = "", below: bool = True) -> None:
        ok = value <= limit if below else value >= limit
        rows.append((name, f"{value:.3g}{unit}", f"{'<=' if below else '>='} {limit:g}{unit}", ok))

    names = [name for name, _, _ in VARIANTS]
    print(f"\n{'config':5} {'actstat s':>9} " + " ".join(f"{n:>12}" for n in names)
          + f" {'fastest':>12} {'ratio':>6} {'compute s':>9} {'matmul s':>8} {'c/mm':>5} {'RSS MB':>7} {'base MB':>7}")
    results = {}
    for name, args in CONFIGS.items():
        if name not in only:
            continue
        ra, rv = against_variants(ACTSTAT + ["probe", *args, *PROBE_ARGS], args, reps)
        times = {n: med(rv[n]) for n in names}
        best = min(names, key=lambda n: times[n])
        comp = in_child("compute_time", args, max(1, reps // 2))
        # the floor: the faster of the products with OpenBLAS's settings as actstat runs them and as they come
        mm = min(in_child("matmul_time", args, max(1, reps // 2)), in_child("matmul_time", args, max(1, reps // 2), ENV))
        results[name] = (med(ra), times[best], comp, mm, med(ra, 1), med(rv[best], 1), times, best)
        r = results[name]
        print(f"{name:5} {r[0]:9.3f} " + " ".join(f"{times[n]:12.3f}" for n in names)
              + f" {best:>12} {r[0] / r[1]:6.2f} {r[2]:9.3f} {r[3]:8.3f} {r[2] / r[3]:5.2f} {r[4]:7.0f} {r[5]:7.0f}")
    for c, limit in (("C1", 1.0), ("C3", 0.8), ("C4", 0.8)):
        if c in results:
            target(f"{c} probe/fastest baseline whole-process", results[c][0] / results[c][1], limit)
    if "C3" in results:
        target("C3 compute / its matmuls", results["C3"][2] / results["C3"][3], 1.5)
    for g, f in (("C2", "C1"), ("C4g", "C4")):
        if g in results and f in results:
            target(f"{g[:2]} --grad / forward (compute)", results[g][2] / results[f][2], 3.5)
    if a.configs:
        report(rows)
        return

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

    report(rows)


def report(rows: list[tuple[str, str, str, bool | None]]) -> None:
    print(f"\n{'target':45} {'measured':>10} {'target':>10}  result")
    for name, value, limit, ok in rows:
        print(f"{name:45} {value:>10} {limit:>10}  {'PASS' if ok else 'MISS'}")


if __name__ == "__main__":
    main()
