"""Pictures of a training run, drawn from the train document (`actstat train --format json`) and from
a compare-train document. matplotlib is reached only through ``figures.pyplot()`` (Agg, lazily
imported). Each function returns a Figure; ``figures.save_figure`` writes it atomically.

- ``train_plot_figure``: loss, accuracy (train and validation), per-layer std and log10 of the update
  ratio over the steps, with the ~1e-3 guide line.
- ``train_hist_figure``: fastai's "colourful dimension": per layer, the activation histogram at each
  checkpoint as one column of a heat map (colour log(1 + count)), so a distribution collapsing,
  saturating or dying over training shows as the picture changing from left to right.
- ``compare_train_figure``: the loss curves of several runs overlaid.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .figures import pyplot, quiet

WARN_COLOR = "#d62728"
GUIDE_COLOR = "0.45"
UPDATE_RATIO_GUIDE = 1e-3  # the makemore / CS231n rule of thumb for lr * ||dW|| / ||W||


def _floats(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{float(v):g}"


def train_title(doc: dict[str, Any]) -> str:
    """One line naming the network, the optimiser and the data of a train document."""
    c, d = doc["config"], doc.get("data") or {}
    widths = list(c.get("widths") or [])
    w = (str(widths[0]) if len(set(widths)) == 1 else ",".join(map(str, widths))) if widths else "?"
    extras = []
    if c.get("batchnorm"):
        extras.append("batchnorm")
    if c.get("dropout"):
        extras.append(f"dropout {c['dropout']:g}")
    if c.get("weight_decay"):
        extras.append(f"weight decay {c['weight_decay']:g}")
    data = d.get("name") or c.get("data", "?")
    if d.get("train") is not None:
        data += f" ({d['train']} train, {d.get('val') or 0} val)"
    return (f"{len(widths)} layers x {w}, {c.get('act', '?')}, init {c.get('init', '?')}, "
            f"{c.get('optimizer', '?')} lr {_fmt(c.get('lr'))}, batch {c.get('batch_size', '?')}, {data}, "
            f"seed {c.get('seed', '?')}" + (", " + ", ".join(extras) if extras else ""))


def train_verdict(doc: dict[str, Any]) -> tuple[str, str]:
    """The verdict line (warning kinds, early stop) and its colour."""
    kinds = list(dict.fromkeys(w["kind"] for w in doc.get("warnings", [])))
    parts = ["warnings: " + ", ".join(kinds)] if kinds else ["no warnings"]
    stop = doc.get("stopped_early")
    if stop:
        parts.append(f"stopped early at step {stop['step']}: {stop['reason']}")
    return "; ".join(parts), WARN_COLOR if kinds or stop else "black"


def log_spaced(steps: np.ndarray) -> bool:
    """True when the checkpoints are log-spaced (gaps growing), so a symlog step axis shows them all;
    evenly spaced checkpoints (--every K) keep a linear axis."""
    if len(steps) < 4:
        return False
    gaps = np.diff(steps)[:-1]  # the last gap may be short (the final step)
    return bool(gaps.min() > 0 and gaps.max() > 2 * gaps.min())


def _step_axis(ax: Any, steps: np.ndarray, log: bool) -> None:
    if log:
        ax.set_xscale("symlog", linthresh=1, linscale=0.5)
        ax.set_xlim(0, max(1.0, float(steps[-1])) * 1.15)
        ax.set_xlabel("step (symlog scale)")
    else:
        from matplotlib.ticker import MaxNLocator

        pad = max(0.5, 0.03 * float(steps[-1] - steps[0]))
        ax.set_xlim(float(steps[0]) - pad, float(steps[-1]) + pad)  # every panel the same steps
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
        ax.set_xlabel("step")
    ax.grid(True, which="major", alpha=0.3)


def _stop_line(ax: Any, doc: dict[str, Any]) -> None:
    stop = doc.get("stopped_early")
    if stop:
        ax.axvline(stop["step"], color=WARN_COLOR, linestyle="--", linewidth=1)


def _layer_colours(n: int) -> list[Any]:
    plt = pyplot()
    cmap = plt.get_cmap("viridis")
    return [cmap(0.9 * i / max(1, n - 1)) for i in range(n)]


def _note(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=WARN_COLOR, fontsize=8)


def _positive_log_axis(ax: Any, values: np.ndarray, ratio: float = 30.0) -> None:
    """Log scale when the positive finite values span more than ``ratio``."""
    v = values[np.isfinite(values) & (values > 0)]
    if v.size and v.max() / v.min() > ratio:
        ax.set_yscale("log")


def _series(doc: dict[str, Any], key: str) -> np.ndarray:
    return _floats([cp.get(key) for cp in doc["checkpoints"]])


def _layer_series(doc: dict[str, Any], key: str) -> np.ndarray:
    """(layers, checkpoints) array of a per-layer figure; NaN for null."""
    cps = doc["checkpoints"]
    n = len(cps[0]["layers"]) if cps else 0
    return np.array([[np.nan if cp["layers"][i].get(key) is None else float(cp["layers"][i][key])
                      for cp in cps] for i in range(n)], dtype=float).reshape(n, len(cps))


@quiet
def train_plot_figure(doc: dict[str, Any]) -> Any:
    """Four panels over the steps: loss; train and validation accuracy; std per layer; log10 update
    ratio per layer with the 1e-3 guide line. An early stop is a red dashed line."""
    plt = pyplot()
    cps = doc["checkpoints"]
    steps = np.array([cp["step"] for cp in cps], dtype=float)
    log = log_spaced(steps)
    classes = (doc.get("data") or {}).get("classes") or doc["config"].get("classes")
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    (ax_loss, ax_acc), (ax_std, ax_ur) = axes

    loss = _series(doc, "loss")
    ax_loss.plot(steps, loss, marker="o", markersize=2.5, label="train loss")
    if any(cp.get("val_loss") is not None for cp in cps):
        ax_loss.plot(steps, _series(doc, "val_loss"), marker="o", markersize=2.5, label="validation loss")
    if classes:
        ax_loss.axhline(math.log(classes), color=GUIDE_COLOR, linestyle=":", linewidth=1,
                        label=f"ln C = {math.log(classes):.2f} (chance)")
    _positive_log_axis(ax_loss, loss, ratio=100.0)
    bad = ~np.isfinite(loss)
    if bad.any():
        first = int(steps[np.argmax(bad)])
        ax_loss.text(0.98, 0.95, f"loss inf/NaN from step {first} (not drawn)", transform=ax_loss.transAxes,
                     ha="right", va="top", color=WARN_COLOR, fontsize=8)
    ax_loss.set_title("loss (softmax cross-entropy" + (" + weight decay)" if doc["config"].get("weight_decay")
                                                      else ")"), fontsize=10)
    ax_loss.legend(fontsize="small")

    tr, va = _series(doc, "train_acc"), _series(doc, "val_acc")
    ax_acc.plot(steps, tr, marker="o", markersize=2.5, label="train")
    if np.isfinite(va).any():
        ax_acc.plot(steps, va, marker="o", markersize=2.5, label="validation")
    if classes:
        ax_acc.axhline(1 / classes, color=GUIDE_COLOR, linestyle=":", linewidth=1, label=f"chance 1/{classes}")
    ax_acc.set_ylim(-0.02, 1.02)
    ax_acc.set_title("accuracy", fontsize=10)
    ax_acc.legend(fontsize="small", loc="best")

    std = _layer_series(doc, "std")
    colours = _layer_colours(len(std))
    for i, row in enumerate(std):
        ax_std.plot(steps, row, color=colours[i], marker="o", markersize=2, label=f"layer {i + 1}")
    _positive_log_axis(ax_std, std)
    ax_std.set_title("std of the activations per layer", fontsize=10)

    ratio = _layer_series(doc, "update_ratio")
    with np.errstate(divide="ignore", invalid="ignore"):
        lr10 = np.where(ratio > 0, np.log10(ratio), np.nan)
    for i, row in enumerate(lr10):
        ax_ur.plot(steps, row, color=colours[i], marker="o", markersize=2, label=f"layer {i + 1}")
    ax_ur.axhline(math.log10(UPDATE_RATIO_GUIDE), color="black", linestyle="--", linewidth=1,
                  label="1e-3 (rule of thumb)")
    if not np.isfinite(lr10).any():
        _note(ax_ur, "no update ratio to draw (no update applied)")
    ax_ur.set_title("log10 update ratio ||dW|| / ||W|| of the applied update", fontsize=10)
    ax_ur.set_ylabel("log10 ratio")
    for ax in (ax_std, ax_ur):
        ax.legend(fontsize="x-small", ncol=2 if len(std) > 6 else 1, loc="best")
    for ax in axes.ravel():
        _step_axis(ax, steps, log)
        _stop_line(ax, doc)
    verdict, colour = train_verdict(doc)
    fig.suptitle(train_title(doc) + "\n" + verdict, fontsize=10, color=colour)
    fig.tight_layout()
    return fig


def _step_ticks(steps: np.ndarray, most: int = 6) -> list[int]:
    """Checkpoint indices to label: the first, the last and a few spread between."""
    n = len(steps)
    if n <= most:
        return list(range(n))
    return sorted({int(np.rint(i)) for i in np.linspace(0, n - 1, most)})


@quiet
def train_hist_figure(doc: dict[str, Any]) -> Any:
    """Per layer, the activation histogram at every checkpoint as one column (fastai's colourful
    dimension): x the checkpoints (labelled by step), y the activation value over the layer's fixed
    bins, colour log(1 + count), each layer on its own colour scale."""
    plt = pyplot()
    cps = doc["checkpoints"]
    steps = np.array([cp["step"] for cp in cps])
    n = len(cps[0]["layers"]) if cps else 0
    cols = min(max(n, 1), 4)
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.9 * rows + 0.9), squeeze=False)
    warned: dict[int, list[str]] = {}
    for w in doc.get("warnings", []):
        if w.get("layer") is not None and w["kind"] not in warned.setdefault(w["layer"], []):
            warned[w["layer"]].append(w["kind"])
    ticks = _step_ticks(steps)
    for i, ax in enumerate(axes.ravel()):
        if i >= n:
            ax.set_visible(False)
            continue
        edges = np.asarray(doc["hist_edges"][i], dtype=float)
        counts = np.array([cp["layers"][i]["hist"] for cp in cps], dtype=float)  # (checkpoints, bins)
        kinds = warned.get(i + 1, [])
        total = counts.sum(axis=1) + _floats([cp["layers"][i].get("hist_outside", 0) for cp in cps])
        with np.errstate(divide="ignore", invalid="ignore"):
            outside = np.nanmax(np.where(total > 0, 1 - counts.sum(axis=1) / total, 0.0)) if len(cps) else 0.0
        if counts.sum() > 0 and np.all(np.isfinite(edges)) and edges[-1] > edges[0]:
            img = ax.pcolormesh(np.arange(len(cps) + 1), edges, np.log1p(counts.T), cmap="viridis",
                                shading="flat")
            cb = fig.colorbar(img, ax=ax, fraction=0.05, pad=0.02)
            cb.ax.tick_params(labelsize=6)
        else:
            _note(ax, "no finite values")
        ax.set_xticks([t + 0.5 for t in ticks])
        ax.set_xticklabels([str(steps[t]) for t in ticks], fontsize=6)
        ax.tick_params(axis="y", labelsize=6)
        note = f" (up to {100 * outside:.0f}% outside the bins)" if outside >= 0.005 else ""
        ax.set_title(f"layer {i + 1}{note}" + ("\n" + ", ".join(kinds) if kinds else ""), fontsize=8,
                     color=WARN_COLOR if kinds else "black")
        if i % cols == 0:
            ax.set_ylabel("activation", fontsize=7)
        if i >= n - cols:
            ax.set_xlabel("step (one column per checkpoint)", fontsize=7)
    verdict, colour = train_verdict(doc)
    fig.suptitle(f"{train_title(doc)}\n{verdict}\nactivation histograms over training: colour log(1 + count)",
                 fontsize=9, color=colour)
    fig.tight_layout()
    return fig


@quiet
def compare_train_figure(doc: dict[str, Any]) -> Any:
    """The loss curves of every run of a compare-train document overlaid, and beside them the
    validation accuracy (or the training accuracy when no run has a validation split)."""
    plt = pyplot()
    curves = doc["curves"]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 5))
    all_steps = np.concatenate([np.asarray(c["steps"], dtype=float) for c in curves]) if curves else np.zeros(1)
    log = any(log_spaced(np.asarray(c["steps"], dtype=float)) for c in curves)
    val = any(v is not None for c in curves for v in c.get("val_acc") or [])
    losses = []
    for k, c in enumerate(curves):
        steps = np.asarray(c["steps"], dtype=float)
        loss = _floats(c["loss"])
        losses.append(loss)
        line, = ax_loss.plot(steps, loss, marker="o", markersize=2, label=c["config"], color=f"C{k % 10}")
        if val:
            ax_acc.plot(steps, _floats(c["val_acc"]), marker="o", markersize=2, color=line.get_color(),
                        label=c["config"])
        ax_acc.plot(steps, _floats(c["train_acc"]), linestyle="--" if val else "-", linewidth=1 if val else 1.5,
                    color=line.get_color(), label=None if val else c["config"])
        if c.get("stopped_early"):
            ax_loss.axvline(c["stopped_early"]["step"], color=line.get_color(), linestyle="--", linewidth=0.8)
    if losses:
        _positive_log_axis(ax_loss, np.concatenate(losses), ratio=100.0)
    classes = (doc.get("data") or {}).get("classes")
    if classes:
        ax_loss.axhline(math.log(classes), color=GUIDE_COLOR, linestyle=":", linewidth=1)
        ax_acc.axhline(1 / classes, color=GUIDE_COLOR, linestyle=":", linewidth=1)
    ax_loss.set_title("training loss (dotted: ln C, chance)", fontsize=10)
    ax_acc.set_title("accuracy: validation (solid), training (dashed); dotted: chance" if val
                     else "training accuracy (dotted: chance)", fontsize=10)
    ax_acc.set_ylim(-0.02, 1.02)
    for ax in (ax_loss, ax_acc):
        _step_axis(ax, all_steps if all_steps.size else np.zeros(1), log)
    ax_loss.legend(fontsize="small", loc="best")
    d = doc.get("data") or {}
    shared = _shared_options(doc.get("configs") or [])
    fig.suptitle(doc.get("title") or f"actstat compare --train: {len(curves)} runs on {d.get('name', '?')}"
                 f" ({d.get('train', '?')} training examples), seed {doc.get('seed')}"
                 + (f"\nevery run: {shared}" if shared else ""), fontsize=10)
    fig.tight_layout()
    return fig


def _shared_options(rows: list[dict[str, Any]]) -> str:
    """The options every run of a compare-train document has in common, as one phrase."""
    if not rows:
        return ""

    def same(k: str) -> bool:
        return len({str(r.get(k)) for r in rows}) == 1

    parts = []
    if same("layers") and same("width"):
        parts.append(f"{rows[0]['layers']} x {rows[0]['width']}")
    for k, name in (("act", ""), ("init", "init "), ("optimizer", ""), ("lr", "lr "), ("weight_decay", "weight decay "),
                    ("dropout", "dropout "), ("batchnorm", "")):
        if same(k):
            v = rows[0].get(k)
            if k == "batchnorm":
                parts.append("batch norm" if v else "")
            elif k in ("weight_decay", "dropout") and not v:
                continue
            else:
                parts.append(f"{name}{v:g}" if isinstance(v, float) else f"{name}{v}")
    return ", ".join(p for p in parts if p)
