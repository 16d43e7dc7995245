"""`actstat train` against the straightforward numpy training loop a user writes from the notes.

    python benchmarks/bench_train.py            # about two minutes on 2 cores
    python benchmarks/bench_train.py --quick    # fewer repetitions and steps

The plain loop (``plain_train`` below) is the CS231n / "Deep Learning from Scratch" loop: the same
network (FC -> ReLU layers, He init, a softmax output layer), the same optimiser (Adam, as the notes
write it), batch and number of steps, with no statistics, no evaluation and no checks. It is timed with
1 and with 2 BLAS threads and the faster counts. The variants run interleaved in rounds (plain, plain,
actstat, actstat, then again); the ratios judged against the targets are the medians over rounds of
each round's own ratio (variants that ran seconds apart, so that the machine's drift cancels), and
the ratios of the best of each are printed beside them. The steps/s columns and the CPU-time figures
are the best of each.
actstat trains with statistics every 10 steps (loss, train and validation accuracy, per-layer
moments, histograms, gradient and update figures).

Printed, per configuration: steps/s of both and their ratio (target >= 0.9), the share of actstat's
training time spent on statistics (statistics every 10 steps against statistics only at the first and
last step; target <= 15%), and the peak RSS of fresh processes training N and 4N steps (target: flat,
ratio <= 1.1). Wall-clock figures (the targets) and CPU-time figures (the work itself, steadier on a
shared machine: every variant compared on CPU time runs on one BLAS thread; where actstat's own choice
("auto") is more threads, its 1-thread runs are timed for this too), and "bare/plain": actstat without
statistics against the plain loop, the cost per step alone. actstat chooses its BLAS threads itself
(one for T1, BLAS's own for T2) and computes T1's and T2's checkpoints in its helper process, whose CPU
time is not this process's: the CPU "stats %" counts the main process only.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")  # as the CLI sets it, before numpy loads OpenBLAS

import numpy as np

HERE = Path(__file__).resolve().parent
CONFIGS = {
    # name: (input features, hidden widths, classes, batch, steps)
    "T1 digits-sized 64 -> 5 x 100 -> 10, batch 100": (64, (100,) * 5, 10, 100, 600),
    "T2 MNIST-sized 784 -> 3 x 500 -> 10, batch 128": (784, (500,) * 3, 10, 128, 300),
}
LR = 1e-3
TARGET_SPEED, TARGET_STATS, TARGET_MEMORY = 0.9, 0.15, 1.1


def make_data(features: int, classes: int, n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, features))
    y = rng.integers(0, classes, n)
    return X, y


def plain_train(X: np.ndarray, y: np.ndarray, widths: tuple[int, ...], classes: int, batch: int, steps: int,
                lr: float = LR, seed: int = 0) -> float:
    """The notes' loop: mini-batch, forward, softmax loss, backward, Adam. Returns the last loss."""
    rng = np.random.default_rng(seed)
    dims = (X.shape[1], *widths, classes)
    W = [rng.standard_normal((a, b)) * np.sqrt(2.0 / a) for a, b in itertools.pairwise(dims)]
    b = [np.zeros(n) for n in dims[1:]]
    params = W + b
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    n = X.shape[0]
    order = rng.permutation(n)
    pos = 0
    loss = float("nan")
    for t in range(1, steps + 1):
        if pos + batch > n:
            order, pos = rng.permutation(n), 0
        idx = order[pos:pos + batch]
        pos += batch
        x, labels = X[idx], y[idx]
        hs = [x]
        for Wi, bi in zip(W[:-1], b[:-1]):
            hs.append(np.maximum(0, hs[-1] @ Wi + bi))
        scores = hs[-1] @ W[-1] + b[-1]
        scores -= scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        p /= p.sum(axis=1, keepdims=True)
        rows = np.arange(batch)
        loss = float(-np.log(p[rows, labels]).mean())
        d = p
        d[rows, labels] -= 1
        d /= batch
        dW, db = [None] * len(W), [None] * len(W)
        for i in reversed(range(len(W))):
            dW[i] = hs[i].T @ d
            db[i] = d.sum(axis=0)
            if i:
                d = (d @ W[i].T) * (hs[i] > 0)
        for P, G, M, V in zip(params, dW + db, m, v):
            M *= b1
            M += (1 - b1) * G
            V *= b2
            V += (1 - b2) * G * G
            P -= lr * (M / (1 - b1 ** t)) / (np.sqrt(V / (1 - b2 ** t)) + eps)
    return loss


def actstat_train(X: np.ndarray, y: np.ndarray, widths: tuple[int, ...], classes: int, batch: int, steps: int,
                  every: int, blas_threads: int | str = "auto") -> dict:
    from actstat.training import TrainConfig, train
    from actstat.training.datasets import Dataset

    n_val = X.shape[0] // 5
    data = Dataset(X[n_val:], y[n_val:], X[:n_val], y[:n_val], classes, "bench")
    cfg = TrainConfig(widths=widths, act="relu", init="he", optimizer="adam", lr=LR, batch_size=batch,
                      steps=steps, every=every, classes=classes, input_dim=X.shape[1], blas_threads=blas_threads)
    return train(cfg, data)


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def blas_limit(n: int):
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n, user_api="blas")


def child_rss(name: str, steps: int) -> float:
    """Peak RSS in MB of a fresh process that trains configuration ``name`` for ``steps`` steps."""
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_train as b; "
            f"f, w, c, batch, _ = b.CONFIGS[{name!r}]; X, y = b.make_data(f, c); "
            f"b.actstat_train(X, y, w, c, batch, {steps}, 10)")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"child training {name} failed")
    return usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--configs", default="", help="comma-separated names (T1,T2); default all")
    ap.add_argument("--reps", type=int, default=None, help="rounds (default 5, --quick 2)")
    args = ap.parse_args()
    reps = args.reps or (2 if args.quick else 5)
    wanted = {c.strip() for c in args.configs.split(",") if c.strip()}
    print(f"{'config':48} {'plain st/s':>10} {'actstat st/s':>12} {'ratio':>6} {'stats %':>8}"
          f" {'cpu ratio':>9} {'cpu stats %':>11} {'bare/plain':>10} {'RSS N':>6} {'RSS 4N':>6}")
    results = []
    for name, (features, widths, classes, batch, steps) in CONFIGS.items():
        if wanted and name.split()[0] not in wanted:
            continue
        if args.quick:
            steps //= 2
        X, y = make_data(features, classes)
        Xt, yt = X[X.shape[0] // 5:], y[X.shape[0] // 5:]
        def plain(Xt=Xt, yt=yt, widths=widths, classes=classes, batch=batch, steps=steps) -> None:
            plain_train(Xt, yt, widths, classes, batch, steps)

        def ours(every: int, threads: int | str = "auto", X=X, y=y, widths=widths, classes=classes, batch=batch,
                 steps=steps) -> None:
            actstat_train(X, y, widths, classes, batch, steps, every, threads)

        from actstat.training.loop import resolve_blas_threads

        auto = resolve_blas_threads("auto", (features, *widths, classes), batch)
        runs = {"plain1": plain, "plain2": plain, "stats": lambda: ours(10), "bare": lambda steps=steps: ours(steps)}
        if auto != 1:  # (CPU time on one BLAS thread: actstat's own 1-thread runs)
            runs |= {"stats1": lambda: ours(10, 1), "bare1": lambda steps=steps: ours(steps, 1)}
        wall: dict[str, list[float]] = {k: [] for k in runs}
        cpu: dict[str, list[float]] = {k: [] for k in runs}
        paired_ratio, paired_share = [], []  # per round: neighbours in time, so the machine's drift cancels
        for rep in range(reps):  # interleaved, so that the machine's load hits every variant alike
            for k, fn in runs.items():
                if k == "plain2" and rep and wall["plain2"][0] > 2 * min(wall["plain1"]):
                    continue  # on a loaded machine 2 threads can be many times slower: one run shows it
                # (actstat sets its own thread count: "auto", one thread for small products)
                with blas_limit(2 if k == "plain2" else 1) if k.startswith("plain") else contextlib.nullcontext():
                    w, c = timed(fn)
                wall[k].append(w)
                cpu[k].append(c)
            plain_now = min(wall["plain1"][-1], wall["plain2"][-1] if len(wall["plain2"]) > rep else np.inf)
            paired_ratio.append(plain_now / wall["stats"][-1])
            paired_share.append(1 - wall["bare"][-1] / wall["stats"][-1])
        best = {k: min(v) for k, v in wall.items()}
        t_plain = min(best["plain1"], best["plain2"])
        ratio = float(np.median(paired_ratio))
        share = float(np.median(paired_share))
        best_ratio, best_share = t_plain / best["stats"], 1 - best["bare"] / best["stats"]
        # CPU time: robust on a shared machine (one BLAS thread, so CPU time is the work), plain on 1 thread
        one = "1" if auto != 1 else ""
        c_plain, c_stats, c_bare = (min(cpu[k]) for k in ("plain1", "stats" + one, "bare" + one))
        rss_n, rss_4n = child_rss(name, steps), child_rss(name, 4 * steps)
        results.append((name, ratio, share, c_plain / c_stats, 1 - c_bare / c_stats, rss_4n / rss_n, best_ratio,
                        best_share))
        print(f"{name:48} {steps / t_plain:10.0f} {steps / best['stats']:12.0f} {ratio:6.2f} {100 * share:7.1f}%"
              f" {c_plain / c_stats:9.2f} {100 * (1 - c_bare / c_stats):10.1f}% {c_bare / c_plain:10.2f}"
              f" {rss_n:6.0f} {rss_4n:6.0f}   (plain wall: 1 thread {steps / best['plain1']:.0f} st/s,"
              f" 2 threads {steps / best['plain2']:.0f}; actstat on {auto or 'the default'} BLAS thread(s))")
    print()
    for name, ratio, share, c_ratio, c_share, mem, best_ratio, best_share in results:
        short = name.split()[0]
        print(f"{short}: actstat/plain steps/s {ratio:.2f} wall, {c_ratio:.2f} CPU (>= {TARGET_SPEED:g}:"
              f" {'PASS' if ratio >= TARGET_SPEED else 'MISS'}); statistics {100 * share:.1f}% wall,"
              f" {100 * c_share:.1f}% CPU (<= {100 * TARGET_STATS:g}%: {'PASS' if share <= TARGET_STATS else 'MISS'});"
              f" RSS 4N/N {mem:.2f} (<= {TARGET_MEMORY:g}: {'PASS' if mem <= TARGET_MEMORY else 'MISS'})"
              f"   [best of {reps} each instead: ratio {best_ratio:.2f}, statistics {100 * best_share:.1f}%]")


if __name__ == "__main__":
    main()
