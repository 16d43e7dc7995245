"""The trainability map: train the same network over a grid of sigma_w x depth and set the result
against mean-field theory's prediction. Pure numpy.

Schoenholz et al. 2017 ("Deep information propagation") found that a network trains only while its
depth L is below about 6 xi_c, where xi_c = -1 / ln chi_c is the depth over which the correlation of two
inputs reaches its fixed point; xi_c diverges at the critical sigma_w (chi_1 = 1, the order-to-chaos
transition). Every cell is ``widths = (width,) * L``, ``W ~ N(0, sigma_w^2 / fan_in)`` (lecun_normal with
gain sigma_w), ``b ~ N(0, sigma_b^2)`` (sigma_b^2 = 0.05 by default, as in the paper), trained for the
same number of steps with the same seed. A cell "trains" when its final training accuracy reaches the
threshold: by default half way from chance (1/classes) to the best cell's accuracy, and at least
chance + 0.05 (a short budget trains no cell to 100%, and the data set sets the ceiling; so the map is
measured against what this budget can reach at all). It is predicted to train when
L < 6 xi_c(sigma_w) (always at the critical sigma_w itself, where xi_c is infinite). The theory comes
from actstat.theory (fixed_point, chi1, depth_scale_c, critical_sigma_w) as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from typing import Any

import numpy as np

from .errors import ConfigError
from .executor import run_tasks
from .training import TrainConfig, train
from .training.datasets import Dataset
from .training.loop import load_for, resolve

DEPTH_FACTOR = 6.0  # trainable while L < 6 xi_c
SIGMA_B2 = 0.05  # the paper's sigma_b^2
INIT = "lecun_normal"  # N(0, 1/fan_in), times the gain sigma_w
MAX_CELLS = 100_000


def parse_grid(text: str, name: str, integer: bool, lo_limit: float) -> list[float] | list[int]:
    """LO:HI:N (N evenly spaced values, ends included), or a comma list, or one value."""
    opt = f"--{name}"
    text = text.strip()

    def num(t: str) -> float:
        try:
            return float(t)
        except ValueError:
            raise ConfigError(f"{opt} {text!r}: {t!r} is not a number (give LO:HI:N or a comma-separated list)") \
                from None

    if "," in text:
        vals = [num(v) for v in text.split(",")]
    elif ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise ConfigError(f"{opt} {text!r}: give LO:HI:N (e.g. 1.0:4.0:13) or a comma-separated list")
        lo, hi, n_ = (num(p) for p in parts)
        if not (math.isfinite(n_) and n_ == int(n_) and 1 <= n_ <= 10_000):
            raise ConfigError(f"{opt} {text!r}: N must be a whole number from 1 to 10000")
        n = int(n_)
        if n > 1 and not lo < hi:
            raise ConfigError(f"{opt} {text!r}: LO must be below HI")
        vals = [float(v) for v in np.linspace(lo, hi, n)] if n > 1 else [lo]
    else:
        vals = [num(text)]
    for v in vals:
        if not math.isfinite(v) or v < lo_limit:
            raise ConfigError(f"{opt}: {v:g} is not a finite number >= {lo_limit:g}")
    if integer:
        ints = sorted({round(v) for v in vals})
        if ints[-1] > 1000:
            raise ConfigError(f"{opt}: at most 1000 layers, got {ints[-1]}")
        return ints
    return sorted({float(v) for v in vals})


def theory_column(act: Any, sigma_w: float, sigma_b: float) -> dict[str, Any]:
    """q*, chi_1, xi_c and the predicted depth limit 6 xi_c (None: no limit, at criticality)."""
    from .theory import chi1, depth_scale_c, fixed_point, phase

    q = fixed_point(act, sigma_w, sigma_b)
    chi = chi1(act, sigma_w, q)
    xi = depth_scale_c(act, sigma_w, sigma_b, q, chi)
    ok = xi is not None and math.isfinite(xi)
    return {"sigma_w": sigma_w, "q_star": q if math.isfinite(q) else None,
            "chi1": chi if math.isfinite(chi) else None, "phase": phase(chi),
            "xi_c": xi if ok else None, "max_depth": DEPTH_FACTOR * xi if ok else None}


def predicted_boundary(act: Any, sigma_b: float, theory: list[dict[str, Any]],
                       critical: float | None) -> list[dict[str, Any]]:
    """The curve depth = 6 xi_c(sigma_w): the grid's columns plus points closing in on the critical
    sigma_w from both sides (where it diverges), when that lies inside the grid."""
    pts = {t["sigma_w"]: t["max_depth"] for t in theory}
    lo, hi = min(pts), max(pts)
    if critical is not None and lo < critical < hi:
        span = hi - lo
        for f in (0.003, 0.01, 0.03, 0.08):
            for sw in (critical - f * span, critical + f * span):
                if lo < sw < hi and sw not in pts:
                    pts[sw] = theory_column(act, sw, sigma_b)["max_depth"]
        pts[critical] = None
    return [{"sigma_w": sw, "max_depth": pts[sw]} for sw in sorted(pts)]


def run_cell(task: tuple[int, TrainConfig], data: Dataset) -> dict[str, Any]:
    _, cfg = task
    doc = train(replace(cfg, overlap=False), data)  # (a sweep runs its cells side by side instead)
    f = doc["final"]
    return {"sigma_w": cfg.gain, "layers": len(cfg.widths), "train_acc": f["train_acc"], "val_acc": f["val_acc"],
            "loss": f["loss"], "stopped_early": doc["stopped_early"]}


def _cell_cost(task: tuple[int, TrainConfig]) -> float:
    return float(len(task[1].widths))


def run_trainability(
    base: TrainConfig, sigma_ws: Sequence[float], layers: Sequence[int], width: int, threshold: float | None = None,
    jobs: int = 1, cluster: str | None = None, on_done: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Train every (sigma_w, depth) cell of ``base`` (its init and gain replaced) and return the map's
    document; ``base.bias_std`` is sigma_b."""
    from ._version import __version__
    from .activations import get_activation
    from .theory import cached_critical_sigma_w

    act = get_activation(base.act)
    if act.pieces > 1:
        raise ConfigError(f"--act {base.act}: no mean-field theory (maxout), so no prediction to map")
    if len(sigma_ws) * len(layers) > MAX_CELLS:
        raise ConfigError(f"{len(sigma_ws) * len(layers)} cells: at most {MAX_CELLS}")
    if threshold is not None and not 0 <= threshold <= 1:
        raise ConfigError(f"--threshold must be from 0 to 1, got {threshold:g}")
    cfg0 = replace(base, init=INIT)
    cells_cfg = [replace(cfg0, widths=(width,) * L, gain=float(sw)) for sw in sigma_ws for L in layers]
    for c in (cells_cfg[0], cells_cfg[-1]):
        resolve(c)  # every error before any work
    data = load_for(cfg0)
    chance = 1.0 / data.classes
    got = run_tasks(run_cell, list(enumerate(cells_cfg)), shared=data, jobs=jobs, cluster=cluster,
                    cost=_cell_cost, on_done=on_done)
    sigma_b = base.bias_std
    theory = [theory_column(act, float(sw), sigma_b) for sw in sigma_ws]
    critical = cached_critical_sigma_w(act, sigma_b)
    boundary = predicted_boundary(act, sigma_b, theory, critical)
    best = max((c["train_acc"] for c in got if c["train_acc"] is not None), default=chance)
    thr = threshold if threshold is not None else max(chance + 0.5 * (best - chance), chance + 0.05)
    limit = {t["sigma_w"]: t["max_depth"] for t in theory}
    cells = []
    for c in got:
        m = limit[c["sigma_w"]]
        trained = c["train_acc"] is not None and c["train_acc"] >= thr and c["stopped_early"] is None
        predicted = m is None or c["layers"] < m
        cells.append({**c, "trained": trained, "predicted": predicted, "agree": trained == predicted})
    n_agree = sum(c["agree"] for c in cells)
    cfg = asdict(cfg0)
    cfg.pop("force", None)
    cfg["widths"] = [width]
    cfg["thresholds"] = dict(base.thresholds)
    steps = cfg0.steps
    return {
        "actstat_version": __version__, "kind": "trainability", "config": cfg,
        "data": {"name": data.name, "train": int(data.X_train.shape[0]), "val": int(data.X_val.shape[0]),
                 "features": data.features, "classes": data.classes},
        "act": act.spec, "sigma_b": sigma_b, "width": width, "steps": steps,
        "sigma_w": [float(s) for s in sigma_ws], "layers": [int(L) for L in layers],
        "threshold": thr, "chance": chance, "critical_sigma_w": critical,
        "prediction": f"trains while depth < {DEPTH_FACTOR:g} xi_c (Schoenholz et al. 2017)",
        "theory": theory, "boundary": boundary, "cells": cells,
        "summary": {"cells": len(cells), "agree": n_agree, "trained": sum(c["trained"] for c in cells),
                    "predicted_trainable": sum(c["predicted"] for c in cells),
                    "text": f"{n_agree} of {len(cells)} cells agree with the prediction "
                            f"(depth < {DEPTH_FACTOR:g} xi_c trains; trained = final training accuracy "
                            f">= {thr:.3g})"},
    }
