"""The baseline: the straightforward numpy loop a competent user writes from the lecture notes.

    python benchmarks/baseline.py --layers 10 --width 500 --batch 1000 --act tanh --dtype float64 [--grad]
    python benchmarks/baseline.py ... --weights upfront      # every W drawn before the loop
    OPENBLAS_NUM_THREADS=1 python benchmarks/baseline.py ...  # BLAS on one thread

Per layer: H = act(X @ W) with W = randn * sqrt(1/fan_in) (Xavier) in the configuration's dtype, then
mean, std, a saturation fraction and a 30-bin np.histogram, printed as a table. W is drawn inside the
loop (--weights per-layer, the lecture notes' code) or all at once before it (--weights upfront, as a
user who keeps the weights would write it). With --grad it keeps the activations and does the plain
backward pass from a random upstream gradient: dZ = dH * act'(Z), dW = X.T @ dZ, dX = dZ @ W.T,
printing each layer's gradient norms. benchmarks/run.py times every variant (per layer or up front,
one BLAS thread or the default) and takes the fastest as the baseline.
"""

from __future__ import annotations

import argparse

import numpy as np

ACTS = {
    "tanh": (np.tanh, lambda z, h: 1.0 - h * h, lambda h: np.abs(h) > 0.99, (-1.0, 1.0)),
    "relu": (lambda z: np.maximum(z, 0), lambda z, h: (z > 0).astype(z.dtype), lambda h: h < 0, None),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=10)
    ap.add_argument("--width", type=int, default=500)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--act", default="tanh", choices=sorted(ACTS))
    ap.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    ap.add_argument("--grad", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--weights", default="per-layer", choices=["per-layer", "upfront"])
    a = ap.parse_args()
    dtype = np.dtype(a.dtype)
    f, df, saturated, rng_ = ACTS[a.act]
    rng = np.random.default_rng(a.seed)
    X = rng.standard_normal((a.batch, a.width), dtype=dtype)
    scale = dtype.type(np.sqrt(1.0 / a.width))
    if a.weights == "upfront":
        Ws = [rng.standard_normal((a.width, a.width), dtype=dtype) * scale for _ in range(a.layers)]
    H = X
    keep = []
    print("layer        mean         std   sat%")
    for layer in range(1, a.layers + 1):
        if a.weights == "upfront":
            W = Ws[layer - 1]
        else:
            W = rng.standard_normal((a.width, a.width), dtype=dtype) * scale
        Z = H @ W
        Hn = f(Z)
        counts, edges = np.histogram(Hn, 30, range=rng_ if rng_ else (float(Hn.min()), float(Hn.max())))
        print(f"{layer:5d} {Hn.mean():11.4g} {Hn.std():11.4g} {100 * saturated(Hn).mean():6.2f}")
        if a.grad:
            keep.append((H, W, Z, Hn))
        H = Hn
    if a.grad:
        dH = rng.standard_normal(H.shape, dtype=dtype)
        print("layer     ||dW||    std dH")
        for layer in range(a.layers, 0, -1):
            Xl, W, Z, Hl = keep.pop()
            dZ = dH * df(Z, Hl)
            dW = Xl.T @ dZ
            print(f"{layer:5d} {np.linalg.norm(dW):10.4g} {dH.std():10.4g}")
            dH = dZ @ W.T


if __name__ == "__main__":
    main()
