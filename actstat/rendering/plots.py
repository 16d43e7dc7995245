"""Pictures drawn from the report documents (the JSON a probe or compare writes). matplotlib is
reached only through ``figures.pyplot()`` (Agg, lazily imported). Each function returns a Figure;
``figures.save_figure`` writes it atomically."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .figures import pyplot, quiet

WARN_COLOR = "#d62728"
INFO_COLOR = "#1f77b4"
GRID_LAYERS = 30  # up to this many layers: one histogram panel per layer; beyond: a heat map


def _finite(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def config_title(doc: dict[str, Any]) -> str:
    c = doc["config"]
    widths = c["widths"]
    w = str(widths[0]) if len(set(widths)) == 1 else ",".join(map(str, widths))
    extras = [x for x, on in (("batchnorm", c.get("batchnorm")), (f"dropout {c.get('dropout')}", c.get("dropout")),
                              (f"bias std {c.get('bias_std')}", c.get("bias_std")),
                              (f"gain {c.get('gain')}", c.get("gain", 1.0) != 1.0)) if on]
    return (f"{c['layers']} layers x {w}, act {c['act']}, init {c['init']}, batch {c['batch']}, seed {c['seed']}"
            + (", " + ", ".join(extras) if extras else ""))


def _alarms(doc: dict[str, Any], gradient: bool = False, informational: bool = False) -> dict[int, list[str]]:
    """layer -> warning kinds: the forward (or gradient) alarms, or with ``informational`` the
    informational kinds only."""
    from ..diagnostics import GRADIENT_KINDS, INFORMATIONAL

    out: dict[int, list[str]] = {}
    for w in doc["warnings"]:
        if (w["kind"] in INFORMATIONAL) != informational:
            continue
        if not informational and (w["kind"] in GRADIENT_KINDS) != gradient:
            continue
        out.setdefault(w["layer"], [])
        if w["kind"] not in out[w["layer"]]:
            out[w["layer"]].append(w["kind"])
    return out


@quiet
def compare_figure(doc: dict[str, Any], log_scale: bool = False) -> Any:
    """Std against depth for every configuration of a compare document, overlaid."""
    plt = pyplot()
    curves = doc["curves"]
    fig, ax = plt.subplots(figsize=(8, 5))
    for c in curves:
        std = _finite(c["std"])
        x = np.arange(1, len(std) + 1)
        if log_scale:
            std = np.where(std > 0, std, np.nan)
        ax.plot(x, std, marker="o", markersize=3, label=c["config"])
    if log_scale:
        ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("layer")
    ax.set_ylabel("std of the activations" + (" (log scale)" if log_scale else ""))
    ax.set_title(f"actstat compare: {len(curves)} configurations, seed {doc['seed']}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    fig.tight_layout()
    return fig


def _no_data_note(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=WARN_COLOR, fontsize=8,
            wrap=True)


@quiet
def plot_figure(doc: dict[str, Any]) -> Any:
    """The CS231n figure: per-layer mean and std against depth, plus std on a log scale; warned layers
    in red. With gradient figures (--grad), a third panel: the RMS of dL/dh and ||dL/dW|| per layer."""
    plt = pyplot()
    layers = doc["layers"]
    grad = "grad" in layers[0]
    x = np.array([L["layer"] for L in layers])
    mean, std = _finite([L["mean"] for L in layers]), _finite([L["std"] for L in layers])
    alarms = _alarms(doc)
    bad = np.array([L["layer"] in alarms for L in layers])
    n = 3 if grad else 2
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.2))
    ax = axes[0]
    ax.plot(x, mean, marker="o", markersize=3, label="mean")
    ax.plot(x, std, marker="o", markersize=3, label="std")
    ax.scatter(x[bad], std[bad], s=40, facecolors="none", edgecolors=WARN_COLOR, linewidths=1.5, zorder=3,
               label="warned layer")
    ax.set_xlabel("layer")
    ax.set_title("activations: mean and std per layer", fontsize=10)
    ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    ax = axes[1]
    pos = np.where(std > 0, std, np.nan)
    ax.plot(x, pos, marker="o", markersize=3, color="C1")
    ax.scatter(x[bad], pos[bad], s=40, facecolors="none", edgecolors=WARN_COLOR, linewidths=1.5, zorder=3)
    if np.isfinite(pos).any():
        ax.set_yscale("log")
        lo, hi = float(np.nanmin(pos)), float(np.nanmax(pos))
        mid = math.sqrt(lo) * math.sqrt(hi)  # (lo * hi under- or overflows at the float limits)
        if hi < 100 * lo and mid / 10 > 0 and math.isfinite(mid * 10):  # at least two decades: flat looks flat
            ax.set_ylim(mid / 10, mid * 10)
    ax.set_xlabel("layer")
    ax.set_title("std per layer (log scale)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    nonfinite = [L["layer"] for L in layers if L["std"] is None]
    zero = [L["layer"] for L in layers if L["std"] == 0]
    notes = []
    if nonfinite:
        notes.append(f"overflow: layers {nonfinite[0]}-{nonfinite[-1]} are inf/NaN (not drawn)")
    if zero:
        notes.append("std = 0 (no signal) in every layer" if len(zero) == len(layers)
                     else f"std = 0 at layers {zero[0]}-{zero[-1]} (not drawn)")
    if notes:
        _no_data_note(ax, "\n".join(notes))
    if not np.isfinite(pos).any():  # nothing drawn: no meaningless axes either
        ax.set_xticks([])
        ax.set_yticks([])
    if grad:
        ax = axes[2]
        g_alarms = _alarms(doc, gradient=True)
        gbad = np.array([L["layer"] in g_alarms for L in layers])
        rms = _finite([L["grad"]["rms"] for L in layers])
        wn = _finite([L["grad"]["weight_norm"] for L in layers])
        rms, wn = np.where(rms > 0, rms, np.nan), np.where(wn > 0, wn, np.nan)
        ax.plot(x, rms, marker="o", markersize=3, label="RMS dL/dh")
        ax.plot(x, wn, marker="s", markersize=3, label="||dL/dW||")
        ax.scatter(x[gbad], rms[gbad], s=40, facecolors="none", edgecolors=WARN_COLOR, linewidths=1.5, zorder=3,
                   label="warned layer")
        if np.isfinite(rms).any() or np.isfinite(wn).any():
            ax.set_yscale("log")
        else:
            _no_data_note(ax, "no finite non-zero gradient to draw")
        ax.set_xlabel("layer")
        ax.set_title(f"gradients per layer (log scale, loss {doc['config']['loss']})", fontsize=10)
        ax.legend(fontsize="small")
        ax.grid(True, which="both", alpha=0.3)
    from matplotlib.ticker import MaxNLocator

    for a in axes:
        if a.get_xticks().size:
            a.xaxis.set_major_locator(MaxNLocator(integer=True))  # layers are whole numbers
    verdict, colour = _verdict(doc)
    fig.suptitle(config_title(doc) + "\n" + verdict, fontsize=10, color=colour)
    fig.tight_layout()
    return fig


def _verdict(doc: dict[str, Any]) -> tuple[str, str]:
    """The figure's verdict line and its colour: alarms in red, informational kinds named as such."""
    alarms = list(dict.fromkeys(k for ks in (_alarms(doc), _alarms(doc, gradient=True)) for v in ks.values()
                                for k in v))
    info = list(dict.fromkeys(k for v in _alarms(doc, informational=True).values() for k in v))
    parts = []
    if alarms:
        parts.append("warnings: " + ", ".join(alarms))
    if info:
        parts.append("informational: " + ", ".join(info))
    return ("; ".join(parts) if parts else "no warnings"), (WARN_COLOR if alarms else "black")


def _hist_panel(ax: Any, hist: dict[str, Any], title: str, kinds: list[str], mean: Any, std: Any,
                color: str = "C0", info: list[str] | None = None) -> None:
    edges = np.asarray(hist["edges"], dtype=float)
    counts = np.asarray(hist["counts"], dtype=float)
    if counts.sum() > 0 and np.all(np.isfinite(edges)):
        ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color=color, edgecolor="none")
        ax.set_xlim(edges[0], edges[-1])
    else:
        _no_data_note(ax, "no finite values")
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=6)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
    ax.xaxis.get_offset_text().set_fontsize(6)
    stat = ("mean " + _fmt(mean) + ", std " + _fmt(std))
    ax.set_title(f"{title}\n{stat}", fontsize=7, color=WARN_COLOR if kinds else "black")
    if kinds:
        for side in ax.spines.values():
            side.set_edgecolor(WARN_COLOR)
            side.set_linewidth(2)
        ax.text(0.98, 0.95, "\n".join(kinds), transform=ax.transAxes, ha="right", va="top", fontsize=6,
                color=WARN_COLOR, bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
    if info:
        ax.text(0.02, 0.95, "\n".join(info), transform=ax.transAxes, ha="left", va="top", fontsize=6,
                color=INFO_COLOR, bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})


def _fmt(v: Any) -> str:
    if v is None:
        return "inf/NaN"
    v = float(v)
    return "0" if v == 0 else f"{v:.3g}"


@quiet
def hist_figure(doc: dict[str, Any], gradients: bool = False) -> tuple[Any, str]:
    """One histogram panel per layer (input first) in a grid, or beyond ``GRID_LAYERS`` layers a heat
    map (layer x bin, log colour). With ``gradients`` (and --grad data) a second block of panels
    shows each layer's dL/dh histogram. Returns (figure, layout) with layout "grid" or "heatmap"."""
    layers = doc["layers"]
    if len(layers) > GRID_LAYERS:
        return _heatmap(doc, gradients and "hist" in layers[0].get("grad", {})), "heatmap"
    plt = pyplot()
    alarms = _alarms(doc)
    info = _alarms(doc, informational=True)
    panels = [("input", doc["input"], alarms.get(0, []))] + [
        (f"layer {L['layer']}", L, alarms.get(L["layer"], [])) for L in layers]
    grad_panels = []
    if gradients and "hist" in layers[0].get("grad", {}):
        g_alarms = _alarms(doc, gradient=True)
        grad_panels = [(f"dL/dh layer {L['layer']}", L["grad"], g_alarms.get(L["layer"], [])) for L in layers]
    cols = min(len(panels), 6 if len(panels) > 12 else 6)
    rows = math.ceil(len(panels) / cols) + math.ceil(len(grad_panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols, 2.0 * rows + 0.6), squeeze=False)
    flat = list(axes.ravel())
    i = 0
    for title, s, kinds in panels:
        layer = 0 if title == "input" else s["layer"]
        _hist_panel(flat[i], s["hist"], title, kinds, s["mean"], s["std"],
                    info=[k for k in info.get(layer, []) if k != "zigzag"])
        i += 1
    i = math.ceil(len(panels) / cols) * cols
    for (title, s, kinds), L in zip(grad_panels, layers):
        _hist_panel(flat[i], s["hist"], title, kinds, s["mean"] if "mean" in s else None, s["std"], color="C2",
                    info=[k for k in info.get(L["layer"], []) if k == "zigzag"])
        i += 1
    used = set(range(len(panels))) | set(range(math.ceil(len(panels) / cols) * cols,
                                               math.ceil(len(panels) / cols) * cols + len(grad_panels)))
    for j, ax in enumerate(flat):
        if j not in used:
            ax.set_visible(False)
    verdict, colour = _verdict(doc)
    fig.suptitle(f"{config_title(doc)}\n{verdict}  (histograms: {doc['config']['bins']} bins)", fontsize=9,
                 color=colour)
    fig.tight_layout()
    return fig, "grid"


@quiet
def _heatmap(doc: dict[str, Any], gradients: bool) -> Any:
    """Beyond GRID_LAYERS layers: each row a layer, each column a histogram bin, colour log10(count+1).
    Panels cannot stay readable past ~30 layers; a heat map shows every layer at once."""
    plt = pyplot()
    layers = doc["layers"]
    blocks = [("activations", [L["hist"] for L in layers], _alarms(doc))]
    if gradients:
        blocks.append(("dL/dh", [L["grad"]["hist"] for L in layers], _alarms(doc, gradient=True)))
    fig, axes = plt.subplots(1, len(blocks), figsize=(7 * len(blocks), 6), squeeze=False)
    for ax, (name, hists, alarms) in zip(axes[0], blocks):
        counts = np.array([h["counts"] for h in hists], dtype=float)
        # one x axis needs one set of edges: use each row's own bins, labelled by bin index, unless shared
        shared = all(h["edges"] == hists[0]["edges"] for h in hists)
        img = ax.imshow(np.log10(counts + 1.0), aspect="auto", origin="lower", cmap="viridis",
                        extent=(hists[0]["edges"][0], hists[0]["edges"][-1], 0.5, len(hists) + 0.5) if shared
                        and all(np.isfinite(hists[0]["edges"])) else None)
        ax.set_ylabel("layer")
        ax.set_xlabel("value" if shared else "histogram bin (each layer's own range)")
        ax.set_title(f"{name}: histogram per layer, colour log10(count + 1)", fontsize=10)
        fig.colorbar(img, ax=ax, fraction=0.04)
        bad = sorted(alarms)
        if bad:
            ax.scatter([ax.get_xlim()[1]] * len(bad), bad if shared else [b - 1 for b in bad], marker="<",
                       color=WARN_COLOR, s=12, clip_on=False)
    verdict, colour = _verdict(doc)
    fig.suptitle(f"{config_title(doc)}\n{len(layers)} layers: shown as a heat map (more than {GRID_LAYERS}"
                 f" panels would be unreadable); red marks: warned layers\n{verdict}", fontsize=9, color=colour)
    fig.tight_layout()
    return fig
