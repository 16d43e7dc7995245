"""`actstat train` against the straightforward numpy training loop a user writes from the notes.

    python benchmarks/bench_train.py            # about two minutes on 2 cores
    python benchmarks/bench_train.py --quick    # fewer repetitions and steps

The plain loop (``plain_train`` below) is the CS231n / "Deep Learning from Scratch" loop: the same
network (FC -> ReLU layers, He init, a softmax output layer), the same optimiser (Adam, as the notes
write it), batch and number of steps, with no statistics, no evaluation and no checks. It is timed with
1 and with 2 BLAS threads and the faster counts. actstat trains with statistics every 10 steps (loss,
train and validation accuracy, per-layer moments, histograms, gradient and update figures).

Printed, per configuration: steps/s of both and their ratio (target >= 0.9), the share of actstat's
training time spent on statistics (statistics every 10 steps against statistics only at the first and
last step; target <= 15%), and the peak RSS of fresh processes training N and 4N steps (target: flat,
ratio <= 1.1).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")  # as the CLI sets it, before numpy loads OpenBLAS

import numpy as np  # noqa: E402

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
    W = [rng.standard_normal((a, b)) * np.sqrt(2.0 / a) for a, b in zip(dims[:-1], dims[1:])]
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
                  every: int) -> dict:
    from actstat.training import TrainConfig, train
    from actstat.training.datasets import Dataset

    n_val = X.shape[0] // 5
    data = Dataset(X[n_val:], y[n_val:], X[:n_val], y[:n_val], classes, "bench")
    cfg = TrainConfig(widths=widths, act="relu", init="he", optimizer="adam", lr=LR, batch_size=batch,
                      steps=steps, every=every, classes=classes, input_dim=X.shape[1])
    return train(cfg, data)


def best_time(fn, reps: int) -> float:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


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
    args = ap.parse_args()
    reps = 2 if args.quick else 5
    print(f"{'config':48} {'plain st/s':>10} {'actstat st/s':>12} {'ratio':>6} {'stats %':>8}"
          f" {'RSS N':>7} {'RSS 4N':>7} {'mem ratio':>9}")
    results = []
    for name, (features, widths, classes, batch, steps) in CONFIGS.items():
        if args.quick:
            steps //= 2
        X, y = make_data(features, classes)
        n_train = X.shape[0] - X.shape[0] // 5
        Xt, yt = X[X.shape[0] // 5:], y[X.shape[0] // 5:]
        plain = {}
        for threads in (1, 2):
            with blas_limit(threads):
                first = best_time(lambda: plain_train(Xt, yt, widths, classes, batch, steps), 1)
                # on a loaded machine 2 threads can be many times slower: one run shows it, more add nothing
                again = reps - 1 if threads == 1 or first < 2 * plain[1] else 0
                plain[threads] = min(first, best_time(lambda: plain_train(Xt, yt, widths, classes, batch, steps),
                                                      again) if again else first)
        t_plain = min(plain.values())
        t_stats = best_time(lambda: actstat_train(X, y, widths, classes, batch, steps, 10), reps)
        t_bare = best_time(lambda: actstat_train(X, y, widths, classes, batch, steps, steps), reps)
        ratio = t_plain / t_stats
        share = max(0.0, 1 - t_bare / t_stats)
        rss_n, rss_4n = child_rss(name, steps), child_rss(name, 4 * steps)
        results.append((name, ratio, share, rss_4n / rss_n))
        print(f"{name:48} {steps / t_plain:10.0f} {steps / t_stats:12.0f} {ratio:6.2f} {100 * share:7.1f}%"
              f" {rss_n:7.0f} {rss_4n:7.0f} {rss_4n / rss_n:9.2f}"
              f"   (plain 1 thread {steps / plain[1]:.0f} st/s, 2 threads {steps / plain[2]:.0f}; {n_train} train)")
    print()
    for name, ratio, share, mem in results:
        short = name.split()[0]
        print(f"{short}: actstat/plain steps/s {ratio:.2f} (>= {TARGET_SPEED:g}: "
              f"{'PASS' if ratio >= TARGET_SPEED else 'MISS'}); statistics {100 * share:.1f}% of training "
              f"(<= {100 * TARGET_STATS:g}%: {'PASS' if share <= TARGET_STATS else 'MISS'}); RSS 4N/N {mem:.2f}"
              f" (<= {TARGET_MEMORY:g}: {'PASS' if mem <= TARGET_MEMORY else 'MISS'})")


if __name__ == "__main__":
    main()
