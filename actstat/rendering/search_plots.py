"""Pictures of a hyperparameter search and of a trainability map (matplotlib, Agg, imported lazily)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from .figures import pyplot, quiet

BEST_MARKED = 3  # best trials starred in the space panels
BEST_CURVES = 5  # best trials whose learning curves are drawn


def _label(name: str) -> str:
    from ..search import label

    return label(name)


def _is_integer(doc: dict[str, Any], name: str) -> bool:
    return all(isinstance(t["params"][name], int) and not isinstance(t["params"][name], bool) for t in doc["trials"])


def _axis_values(doc: dict[str, Any], name: str) -> tuple[np.ndarray, list[str] | None, bool]:
    """A searched option's values per trial as positions, the category names (lists) and log or not."""
    kinds = {d["name"]: d for st in doc["stages"] for d in st["space"]}
    d = kinds[name]
    vals = [t["params"][name] for t in doc["trials"]]
    if d["kind"] == "choice" and not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        cats = list(dict.fromkeys(str(v) for st in doc["stages"] for dd in st["space"] if dd["name"] == name
                                  for v in dd["values"]))
        return np.array([cats.index(str(v)) for v in vals], dtype=float), cats, False
    log = d["kind"] in ("log", "logint") or (d["kind"] == "choice" and name in ("lr", "weight_decay")
                                              and all(v > 0 for v in vals))
    return np.array(vals, dtype=float), None, log


def _set_axis(ax: Any, which: str, name: str, cats: list[str] | None, log: bool, integer: bool = False) -> None:
    set_scale, set_label, set_ticks = ((ax.set_xscale, ax.set_xlabel, ax.set_xticks) if which == "x"
                                       else (ax.set_yscale, ax.set_ylabel, ax.set_yticks))
    if integer and cats is None and not log:
        from matplotlib.ticker import MaxNLocator

        (ax.xaxis if which == "x" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
    if log:
        set_scale("log")
    if cats is not None:
        set_ticks(range(len(cats)), cats)
    set_label(_label(name) + (" (log)" if log else ""))


@quiet
def search_figure(doc: dict[str, Any]) -> Any:
    """Validation accuracy over the searched space (one panel per pair of searched options, or per
    option when only one is searched; colour = val acc, the best trials starred) and the best trials'
    validation-accuracy learning curves."""
    plt = pyplot()
    names = doc["searched"]
    pairs = list(itertools.combinations(names, 2)) or [(names[0], None)]
    n = len(pairs) + 1
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.9 * rows), squeeze=False, layout="constrained")
    trials = doc["trials"]
    acc = np.array([np.nan if t["val_acc"] is None else t["val_acc"] for t in trials])
    stopped = np.array([t["stopped_early"] is not None for t in trials])
    index = {t["trial"]: k for k, t in enumerate(trials)}
    best = [index[r["trial"]] for r in doc["ranking"][:BEST_MARKED]]
    rng = np.random.default_rng(0)  # jitter for list-valued axes: fixed, so the same picture every time
    finite = acc[np.isfinite(acc)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if vmax <= vmin:
        vmin, vmax = vmin - 0.01, vmax + 0.01
    img = None
    for ax, (a, b) in zip(axes.flat, pairs):
        x, xcats, xlog = _axis_values(doc, a)
        if xcats is not None:
            x = x + rng.uniform(-0.2, 0.2, x.size)
        if b is None:
            y, ycats, ylog = acc, None, False
        else:
            y, ycats, ylog = _axis_values(doc, b)
            if ycats is not None:
                y = y + rng.uniform(-0.2, 0.2, y.size)
        ok = ~stopped
        if b is None:
            ax.scatter(x[ok], y[ok], c="tab:blue", s=22, edgecolors="none", label="trial")
        else:
            img = ax.scatter(x[ok], y[ok], c=acc[ok], cmap="viridis", vmin=vmin, vmax=vmax, s=26, edgecolors="none")
        if stopped.any():
            yy = y[stopped] if b is not None else np.full(int(stopped.sum()), vmin)
            ax.scatter(x[stopped], yy, marker="x", color="tab:red", s=22, label="stopped early (exploded)")
        ax.scatter(x[best], y[best] if b is not None else acc[best], marker="*", s=190, facecolors="none",
                   edgecolors="red", linewidths=1.4, label=f"best {len(best)}")
        _set_axis(ax, "x", a, xcats, xlog, _is_integer(doc, a))
        if b is None:
            ax.set_ylabel("validation accuracy")
        else:
            _set_axis(ax, "y", b, ycats, ylog, _is_integer(doc, b))
        ax.legend(fontsize=7, loc="best")
    if img is not None:
        cb = fig.colorbar(img, ax=[ax for ax in axes.flat[:len(pairs)]], shrink=0.9)
        cb.set_label("validation accuracy")
    ax = axes.flat[len(pairs)]
    for k, r in enumerate(doc["ranking"][:BEST_CURVES]):
        t = trials[index[r["trial"]]]
        steps = np.array(t["curve"]["step"], dtype=float)
        va = np.array([np.nan if v is None else v for v in t["curve"]["val_acc"]], dtype=float)
        params = ", ".join(f"{_label(p)}:{_short(v)}" for p, v in t["params"].items())
        ax.plot(np.maximum(steps, 0.8), va, marker=".", ms=3, lw=1.3, label=f"Best-{k + 1} ({params})")
    ax.set_xscale("log")
    ax.set_xlabel("step (log; step 0 drawn at 0.8)")
    ax.set_ylabel("validation accuracy")
    ax.set_title("best trials' learning curves", fontsize=10)
    ax.legend(fontsize=6, loc="best")
    for extra in axes.flat[len(pairs) + 1:]:
        extra.set_visible(False)
    data = doc["data"]
    fig.suptitle(f"random search on {data['name']}: {len(trials)} trials in {len(doc['stages'])} stage(s), "
                 f"best val acc {_short(doc['best']['val_acc'])}", fontsize=11)
    return fig


def _short(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


@quiet
def trainability_figure(doc: dict[str, Any], metric: str = "train_acc") -> Any:
    """The final training accuracy (or loss) over sigma_w x depth as a heat map, with theory's
    trainable-depth limit 6 xi_c and the critical sigma_w."""
    plt = pyplot()
    sws = np.array(doc["sigma_w"], dtype=float)
    depths = np.array(doc["layers"], dtype=float)
    z = np.full((depths.size, sws.size), np.nan)
    col = {s: i for i, s in enumerate(doc["sigma_w"])}
    row = {L: i for i, L in enumerate(doc["layers"])}
    for c in doc["cells"]:
        v = c[metric]
        z[row[c["layers"]], col[c["sigma_w"]]] = np.nan if v is None else v
    fig, ax = plt.subplots(figsize=(7.4, 5.2))
    if metric == "loss":
        cmap, lab = "magma_r", "final training loss"
    else:
        cmap, lab = "viridis", "final training accuracy"
    img = ax.pcolormesh(_edges(sws), _edges(depths), np.ma.masked_invalid(z), cmap=cmap, shading="flat")
    cb = fig.colorbar(img, ax=ax)
    cb.set_label(lab)
    bx = np.array([b["sigma_w"] for b in doc["boundary"]], dtype=float)
    by = np.array([np.inf if b["max_depth"] is None else b["max_depth"] for b in doc["boundary"]], dtype=float)
    top = float(_edges(depths)[-1])
    ax.plot(bx, np.minimum(by, 10 * top), color="white", lw=2.2)
    ax.plot(bx, np.minimum(by, 10 * top), color="black", lw=1.1, ls="--", label="6 xi_c (trainable below)")
    crit = doc["critical_sigma_w"]
    if crit is not None and sws.min() <= crit <= sws.max():
        ax.axvline(crit, color="red", lw=1.2, label=f"critical sigma_w {crit:.3g}")
    for c in doc["cells"]:
        if not c["agree"]:
            ax.plot(c["sigma_w"], c["layers"], marker="o", ms=4, mfc="none", mec="red", mew=0.9)
    ax.plot([], [], marker="o", ls="none", mfc="none", mec="red", label="disagrees with the prediction")
    ax.set_ylim(max(0.5, float(_edges(depths)[0])), top)
    ax.set_xlim(float(_edges(sws)[0]), float(_edges(sws)[-1]))
    ax.set_xlabel("sigma_w  (W ~ N(0, sigma_w^2 / fan_in))")
    ax.set_ylabel("depth (hidden layers)")
    ax.set_title(f"trainability of {doc['act']}, sigma_b^2 = {doc['sigma_b'] ** 2:.3g}, width {doc['width']}, "
                 f"{doc['steps']} steps\n{doc['summary']['text']}", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around sorted centres (half way between neighbours)."""
    if centres.size == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    mid = 0.5 * (centres[1:] + centres[:-1])
    return np.concatenate([[2 * centres[0] - mid[0]], mid, [2 * centres[-1] - mid[-1]]])
