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
    # the input is drawn too, as layer 0 (its warnings, e.g. all-positive inputs, are circled like the others)
    rows = [doc["input"], *layers]
    xa = np.arange(len(rows))
    mean, std = _finite([r["mean"] for r in rows]), _finite([r["std"] for r in rows])
    alarms, info = _alarms(doc), _alarms(doc, informational=True)
    bad = np.array([i in alarms for i in xa], dtype=bool)
    note = np.array([any(k != "zigzag" for k in info.get(i, [])) and i not in alarms for i in xa], dtype=bool)
    n = 3 if grad else 2
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.2))
    ax = axes[0]
    ax.plot(xa, mean, marker="o", markersize=3, label="mean")
    ax.plot(xa, std, marker="o", markersize=3, label="std")
    _circle(ax, xa, std, bad, note)
    ax.set_xlabel("layer (0: the input)")
    ax.set_title("activations: mean and std per layer", fontsize=10)
    ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    ax = axes[1]
    pos = np.where(std > 0, std, np.nan)
    ax.plot(xa, pos, marker="o", markersize=3, color="C1")
    _circle(ax, xa, pos, bad, note, legend=False)
    if np.isfinite(pos).any():
        ax.set_yscale("log")
        lo, hi = float(np.nanmin(pos)), float(np.nanmax(pos))
        mid = math.sqrt(lo) * math.sqrt(hi)  # (lo * hi under- or overflows at the float limits)
        if hi < 100 * lo and mid / 10 > 0 and math.isfinite(mid * 10):  # at least two decades: flat looks flat
            ax.set_ylim(mid / 10, mid * 10)
    ax.set_xlabel("layer (0: the input)")
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
        _circle(ax, x, rms, gbad, np.array([("zigzag" in info.get(i, [])) and not g for i, g in zip(x, gbad)],
                                           dtype=bool))
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


def _circle(ax: Any, x: np.ndarray, y: np.ndarray, bad: np.ndarray, note: np.ndarray, legend: bool = True) -> None:
    """Circle the warned points in red and the informational ones in blue; a legend entry only for a
    kind of circle that is drawn."""
    for mask, colour, label in ((bad, WARN_COLOR, "warned layer"), (note, INFO_COLOR, "informational warning")):
        shown = mask & np.isfinite(y)
        if shown.any():
            ax.scatter(x[shown], y[shown], s=60, facecolors="none", edgecolors=colour, linewidths=1.5, zorder=3,
                       label=label if legend else None)


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


ZERO_SPIKE = 0.05  # a share of exact zeros above this is drawn apart, so it does not flatten the rest


def _hist_panel(ax: Any, hist: dict[str, Any], title: str, kinds: list[str], mean: Any, std: Any,
                color: str = "C0", info: list[str] | None = None, zero_frac: Any = None,
                fonts: tuple[float, float] = (7, 6)) -> bool:
    """One histogram (True when it drew a share of zeros apart). Warning kinds (red) and informational ones (blue) are listed in the top right
    corner, in headroom kept free of bars. A share of exact zeros above ZERO_SPIKE (ReLU) is taken out
    of its bin and drawn hatched on top of the bin's other values, cut a little above the tallest bar, and
    stated in the title."""
    title_size, tick_size = fonts
    edges = np.asarray(hist["edges"], dtype=float)
    counts = np.asarray(hist["counts"], dtype=float)
    labels = [(k, WARN_COLOR) for k in kinds] + [(k, INFO_COLOR) for k in info or []]
    stat = "mean " + _fmt(mean) + ", std " + _fmt(std)
    if counts.sum() > 0 and np.all(np.isfinite(edges)):
        zeros, k = 0.0, -1
        if zero_frac is not None and zero_frac > ZERO_SPIKE and edges[0] <= 0 <= edges[-1]:
            k = min(int(np.searchsorted(edges, 0.0, side="right")) - 1, len(counts) - 1)
            zeros = min(float(zero_frac) * (counts.sum() + float(hist.get("outside", 0))), counts[k])
        rest = counts.copy()
        if zeros > 0 and (counts.sum() - zeros) > 0:
            rest[k] -= zeros
            stat += f"\nexact zeros {100 * float(zero_frac):.1f}% (hatched)"
        else:
            zeros = 0.0
        ax.bar(edges[:-1], rest, width=np.diff(edges), align="edge", color=color, edgecolor="none")
        top = float(rest.max())
        if zeros:  # the zeros: on top of the bin's other values, hatched, cut a little above the tallest bar
            top *= 1.2
            ax.bar(edges[k], top - rest[k], bottom=rest[k], width=edges[k + 1] - edges[k], align="edge",
                   color="0.55", hatch="////", edgecolor="white", linewidth=0)
        # headroom for the labels: each line takes about 11% of a panel's height
        ax.set_ylim(0, top / max(1.0 - 0.11 * len(labels) - 0.04, 0.3))
        ax.set_xlim(edges[0], edges[-1])
    else:
        _no_data_note(ax, "no finite values")
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=tick_size)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
    ax.xaxis.get_offset_text().set_fontsize(tick_size)
    ax.set_title(f"{title}\n{stat}", fontsize=title_size, color=WARN_COLOR if kinds else "black")
    if kinds:
        for side in ax.spines.values():
            side.set_edgecolor(WARN_COLOR)
            side.set_linewidth(2)
    for n, (text, colour) in enumerate(labels):
        ax.text(0.97, 0.97 - 0.11 * n, text, transform=ax.transAxes, ha="right", va="top", fontsize=tick_size,
                color=colour)
    return "zeros" in stat


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
    # up to 12 panels a block (the lectures' 5 and 10 layers): 4 columns of larger panels, larger type
    cols = min(len(panels), 4 if len(panels) <= 12 else 6)
    size, fonts = ((2.9, 2.4), (9.0, 8.0)) if cols <= 4 else ((2.3, 2.0), (7.5, 6.5))
    rows = math.ceil(len(panels) / cols) + math.ceil(len(grad_panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows + 0.8), squeeze=False)
    flat = list(axes.ravel())
    i, spikes = 0, False
    for title, s, kinds in panels:
        layer = 0 if title == "input" else s["layer"]
        spikes |= _hist_panel(flat[i], s["hist"], title, kinds, s["mean"], s["std"],
                    info=[k for k in info.get(layer, []) if k != "zigzag"], zero_frac=s.get("zero_frac"),
                    fonts=fonts)
        i += 1
    i = math.ceil(len(panels) / cols) * cols
    for (title, s, kinds), L in zip(grad_panels, layers):
        _hist_panel(flat[i], s["hist"], title, kinds, s["mean"] if "mean" in s else None, s["std"], color="C2",
                    info=[k for k in info.get(L["layer"], []) if k == "zigzag"], fonts=fonts)
        i += 1
    used = set(range(len(panels))) | set(range(math.ceil(len(panels) / cols) * cols,
                                               math.ceil(len(panels) / cols) * cols + len(grad_panels)))
    for j, ax in enumerate(flat):
        if j not in used:
            ax.set_visible(False)
    verdict, colour = _verdict(doc)
    suptitle = fig.suptitle(f"{config_title(doc)}\n{verdict}  (histograms: {doc['config']['bins']} bins"
                            + ("; hatched: exact zeros, bar cut" if spikes else "") + ")",
                            fontsize=fonts[0] + 2, color=colour)
    # keep the two title lines clear of the first row's panel titles
    height = fig.get_figheight()
    fig.tight_layout(rect=(0, 0, 1, 1 - (2 * 1.25 * suptitle.get_fontsize() / 72 + 0.02) / height))
    return fig, "grid"


def shared_bins(hists: list[dict[str, Any]], bins: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Every histogram on one x axis: ``bins`` equal bins over the union of the rows' ranges, each row's
    counts split over them in proportion to overlap (counts spread evenly within their own bin).
    Returns (edges in units of scale, counts of shape (rows, bins), scale): scale is a power of ten
    that keeps the edges near 1 when the values are beyond 1e30 or below 1e-30 (where the range's
    width over- or underflows); a row with no finite edges stays empty."""
    rows = [np.asarray(h["edges"], dtype=float) for h in hists]
    finite = [e for e in rows if np.all(np.isfinite(e))]
    lo = min((float(e[0]) for e in finite), default=0.0)
    hi = max((float(e[-1]) for e in finite), default=1.0)
    big = max(abs(lo), abs(hi))
    scale = 1.0
    if big > 1e30 or 0 < big < 1e-30:
        scale = 10.0 ** math.floor(math.log10(big))
    lo, hi = lo / scale, hi / scale
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    out = np.zeros((len(hists), bins))
    for i, (h, e) in enumerate(zip(hists, rows)):
        if not np.all(np.isfinite(e)):
            continue
        cum = np.concatenate([[0.0], np.cumsum(np.asarray(h["counts"], dtype=float))])
        out[i] = np.diff(np.interp(edges, e / scale, cum))
    return edges, out, scale


@quiet
def _heatmap(doc: dict[str, Any], gradients: bool) -> Any:
    """Beyond GRID_LAYERS layers: each row a layer (1 to L, bottom to top), each column a bin of one
    range shared by every layer (so a network whose signal shrinks shows its mass closing in on zero),
    colour log10(count + 1); beside it each layer's std on a log axis, warned layers circled."""
    plt = pyplot()
    layers = doc["layers"]
    x = np.array([L["layer"] for L in layers])
    blocks = [("activations", [L["hist"] for L in layers], _finite([L["std"] for L in layers]), _alarms(doc))]
    if gradients:
        blocks.append(("dL/dh", [L["grad"]["hist"] for L in layers], _finite([L["grad"]["std"] for L in layers]),
                       _alarms(doc, gradient=True)))
    fig = plt.figure(figsize=(8.5 * len(blocks) + 0.8 * (len(blocks) - 1), 6.5))
    # per block: heat map, std panel, colour bar; an empty column between blocks for the colour bar's labels
    ratios = ([5, 1.5, 0.15, 0.9] * len(blocks))[:-1]
    grid = fig.add_gridspec(1, len(ratios), width_ratios=ratios, wspace=0.14)
    from matplotlib.ticker import MaxNLocator

    for b, (name, hists, std, alarms) in enumerate(blocks):
        ax, side, bar = (fig.add_subplot(grid[0, 4 * b + k]) for k in range(3))
        same = all(h["edges"] == hists[0]["edges"] for h in hists)  # then no rebinning is needed
        edges, counts, scale = shared_bins(hists, len(hists[0]["counts"]) * (1 if same else 2))
        img = ax.imshow(np.log10(counts + 1.0), aspect="auto", origin="lower", cmap="viridis",
                        extent=(edges[0], edges[-1], x[0] - 0.5, x[-1] + 0.5), interpolation="nearest")
        ax.set_ylabel("layer")
        unit = "" if scale == 1 else f", x {scale:.0e}"
        ax.set_xlabel(f"{'value' if name == 'activations' else 'dL/dh'} (one range for every layer{unit})")
        ax.set_title(f"{name}: histogram per layer, colour log10(count + 1)", fontsize=10)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
        fig.colorbar(img, cax=bar)
        if not counts.any():
            _no_data_note(ax, "no finite values")
        # log10 of the std on a linear axis: a log axis cannot span values near the float limits
        pos = np.log10(np.where(std > 0, std, np.nan))
        side.plot(pos, x, marker="o", markersize=2.5, color="C1")
        bad = np.array([L["layer"] in alarms for L in layers])
        side.scatter(pos[bad], x[bad], s=30, facecolors="none", edgecolors=WARN_COLOR, linewidths=1.2, zorder=3)
        if np.isfinite(pos).any():
            lo, hi = np.nanmin(pos), np.nanmax(pos)
            mid = (lo + hi) / 2
            side.set_xlim(min(lo - 0.1 * (hi - lo), mid - 1), max(hi + 0.1 * (hi - lo), mid + 1))  # 2 decades at least
            side.xaxis.set_major_locator(MaxNLocator(3, integer=True))
        else:
            _no_data_note(side, "no finite std")
            side.set_xticks([])
        side.set_ylim(x[0] - 0.5, x[-1] + 0.5)
        side.set_yticklabels([])
        side.set_title("log10 std", fontsize=10)
        side.grid(True, which="major", alpha=0.3)
        side.tick_params(axis="x", labelsize=8)
    verdict, colour = _verdict(doc)
    fig.suptitle(f"{config_title(doc)}\n{len(layers)} layers: shown as a heat map (more than {GRID_LAYERS}"
                 f" panels would be unreadable); red circles: warned layers\n{verdict}", fontsize=10, color=colour)
    fig.subplots_adjust(top=0.84, bottom=0.09, left=0.07, right=0.95)
    return fig
