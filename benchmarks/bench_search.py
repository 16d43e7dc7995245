"""`actstat search` in parallel: local processes against one process, and a Dask cluster against local
processes; the trainability map's default grid, timed.

    python benchmarks/bench_search.py            # about five minutes on 2 cores
    python benchmarks/bench_search.py --quick    # one repetition, no trainability map

Whole-process times of the same search (16 short trials) with --jobs 1, --jobs 2, and --cluster on a
two-worker dask.distributed.LocalCluster (processes, one thread each, started once before the timings:
a cluster is already running when a user points actstat at it). Runs alternate (jobs 1, jobs 2, cluster,
jobs 1, ...); the median of each counts. The three outputs must be byte-identical (checked).

Targets: --jobs 2 at least 1.7x faster than --jobs 1; the cluster within 1.3x of --jobs 2.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

SEARCH = ["search", "--data", "blobs", "--examples", "2000", "--widths", "100x4", "--lr", "1e-4:1e-2",
          "--weight-decay", "1e-8:1e-4", "--optimizer", "momentum:0.9", "--trials", "16", "--steps", "400",
          "--every", "50", "--format", "json"]
TARGET_JOBS, TARGET_CLUSTER = 1.7, 1.3


def timed(args: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "actstat", *args], capture_output=True, text=True, env=env,
                       check=False)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"actstat {' '.join(args)} failed: {r.stderr.strip()}")
    return dt, r.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repetition, no trainability map")
    ap.add_argument("--reps", type=int, default=None, help="repetitions of each search (default 3, quick 1)")
    args = ap.parse_args()
    reps = args.reps or (1 if args.quick else 3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTSTAT_")}

    import logging

    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as lc, Client(lc.scheduler_address, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=120)
        import importlib

        client.run(importlib.import_module, "actstat.search")  # a running cluster's workers are warm
        times: dict[str, list[float]] = {"jobs 1": [], "jobs 2": [], "cluster": []}
        outs: dict[str, str] = {}
        for _ in range(reps):
            for name, extra in (("jobs 1", ["--jobs", "1"]), ("jobs 2", ["--jobs", "2"]),
                                ("cluster", ["--cluster", lc.scheduler_address])):
                dt, out = timed([*SEARCH, *extra], env)
                times[name].append(dt)
                outs[name] = out
        same = outs["jobs 1"] == outs["jobs 2"] == outs["cluster"]
    med = {k: statistics.median(v) for k, v in times.items()}
    speedup = med["jobs 1"] / med["jobs 2"]
    cluster_ratio = med["cluster"] / med["jobs 2"]
    print(f"search, 16 trials ({' '.join(SEARCH[1:])}), median of {reps}:")
    for k, v in times.items():
        print(f"  {k:8s} {med[k]:7.2f} s   (runs: {', '.join(f'{x:.2f}' for x in v)})")
    print(f"  outputs byte-identical: {same}")
    print()
    print("| target | measured | target | result |")
    print("|---|---:|---:|---|")
    print(f"| search --jobs 2 speed-up over --jobs 1 | {speedup:.2f} | >= {TARGET_JOBS} | "
          f"{'PASS' if speedup >= TARGET_JOBS else 'MISS'} |")
    print(f"| search on a 2-worker LocalCluster / --jobs 2 | {cluster_ratio:.2f} | <= {TARGET_CLUSTER} | "
          f"{'PASS' if cluster_ratio <= TARGET_CLUSTER else 'MISS'} |")
    print(f"| identical bytes (jobs 1, jobs 2, cluster) | {same} | True | {'PASS' if same else 'MISS'} |")
    if not args.quick:
        dt, out = timed(["trainability", "--jobs", "2"], env)
        print(f"| trainability default grid (42 cells), --jobs 2 | {dt:.1f} s | minutes | "
              f"{'PASS' if dt < 300 else 'MISS'} |")
        print()
        print(out.rstrip())


if __name__ == "__main__":
    main()
