"""Human-readable output with rich: the per-layer table, thresholds and warnings with hints."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import groupby
from typing import IO, Any

from rich.console import Console
from rich.table import Table

from ..diagnostics import GRADIENT_KINDS

KIND_STYLE = {
    "vanishing": "bold red", "exploding": "bold red", "saturation": "bold red", "collapse": "bold red",
    "dead": "bold red", "symmetry": "bold red", "not_centered": "cyan",
    "vanishing_gradient": "bold red", "exploding_gradient": "bold red", "zigzag": "cyan",
}


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """The reader went away: let the CLI end quietly with status 0 (rich would exit 1)."""
        self.quiet = True
        raise BrokenPipeError


def make_console(file: IO[str]) -> Console:
    """A console for ``file``: colour only on a terminal (and never with NO_COLOR);
    wide enough off a terminal that tables never wrap in a pipe."""
    is_tty = hasattr(file, "isatty") and file.isatty()
    return _Console(file=file, width=None if is_tty else 200, highlight=False, soft_wrap=False)


def num(x: Any) -> str:
    """A figure with 3 significant digits; '-' for not applicable; inf/nan spelled out."""
    if x is None:
        return "-"
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    return f"{x:.3g}"


def pct(x: Any) -> str:
    return "-" if x is None else f"{100.0 * float(x):.1f}"


def layer_ranges(layers: Sequence[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7'."""
    parts = []
    for _, grp in groupby(enumerate(sorted(layers)), key=lambda t: t[1] - t[0]):
        run = [v for _, v in grp]
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ", ".join(parts)


def render_warnings(console: Console, warnings: Sequence[dict[str, Any]]) -> None:
    """Warnings grouped by kind: the layers, the value range against the threshold, the message
    (for the first layer of the group) and the hint."""
    if not warnings:
        console.print("No warnings.")
        return
    console.print("Warnings:")
    order: dict[str, list[dict[str, Any]]] = {}
    for w in warnings:
        order.setdefault(w["kind"], []).append(w)
    for kind, ws in order.items():
        layers = [w["layer"] for w in ws]
        vals = [w["value"] for w in ws if w["value"] is not None and math.isfinite(w["value"])]
        where = "input" if layers == [0] else f"layer{'s' if len(layers) > 1 else ''} {layer_ranges(layers)}"
        if vals:
            lo, hi = min(vals), max(vals)
            span = num(lo) if lo == hi else f"{num(lo)}..{num(hi)}"
        else:
            span = "inf/NaN"
        style = KIND_STYLE.get(kind, "bold")
        console.print(f"  [{style}]{kind}[/] ({where}): value {span}, threshold {num(ws[0]['threshold'])}")
        console.print(f"    {ws[0]['message']}", markup=False)
        console.print(f"    fix: {ws[0]['hint']}", markup=False)


def render_probe_table(doc: dict[str, Any], file: IO[str]) -> None:
    """The probe report: a config line, the per-layer table, thresholds, warnings."""
    console = make_console(file)
    cfg = doc["config"]
    widths = cfg["widths"]
    width_txt = str(widths[0]) if len(set(widths)) == 1 else ",".join(map(str, widths))
    extras = []
    if cfg.get("batchnorm"):
        extras.append("batchnorm")
    if cfg.get("dropout"):
        extras.append(f"dropout {cfg['dropout']:g} ({cfg['dropout_mode']})")
    if cfg.get("bias_std"):
        extras.append(f"bias std {cfg['bias_std']:g}")
    if cfg.get("gain", 1.0) != 1.0:
        extras.append(f"gain {cfg['gain']:g}")
    console.print(
        f"actstat probe: {cfg['layers']} layers x {width_txt}, act {cfg['act']}, init {cfg['init']},"
        f" input {cfg['input']} {cfg['batch']}x{cfg['input_dim']},"
        f" {cfg['dtype']}, seed {cfg['seed']}" + (", " + ", ".join(extras) if extras else ""),
        markup=False,
    )
    by_layer: dict[int, list[str]] = {}
    for w in doc["warnings"]:
        by_layer.setdefault(w["layer"], [])
        if w["kind"] not in by_layer[w["layer"]]:
            by_layer[w["layer"]].append(w["kind"])
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    theory = any(L.get("theory") for L in doc["layers"])
    cols = ["layer", "width", "mean", "std", "min", "max", "sat %", "zero %", "dead %"]
    cols += ["theory mean", "theory std"] if theory else []
    for col in cols:
        table.add_column(col, justify="right")
    table.add_column("warnings", justify="left")
    rows = [("input", doc["input"])] + [(str(L["layer"]), L) for L in doc["layers"]]
    for i, (name, s) in enumerate(rows):
        kinds = [k for k in by_layer.get(i, []) if k not in GRADIENT_KINDS]
        cells = [name, str(s["width"]), num(s["mean"]), num(s["std"]), num(s["min"]), num(s["max"]),
                 pct(s["saturated_frac"]), pct(s["zero_frac"]), pct(s["dead_frac"])]
        if theory:
            t = s.get("theory") or {}
            cells += [num(t.get("mean")), num(t.get("std"))]
        table.add_row(*cells, ", ".join(f"[{KIND_STYLE.get(k, 'bold')}]{k}[/]" for k in kinds))
    console.print(table)
    sat_rule = doc.get("saturation_rule")
    console.print(
        f"saturated: {sat_rule if sat_rule else 'no saturating region for ' + cfg['act']}"
        "; dead unit: exactly 0 for every example; mean/std over the whole batch x width matrix",
        markup=False,
    )
    if any("grad" in L for L in doc["layers"]):
        render_grad_table(console, doc, by_layer)
    grad = any("grad" in L for L in doc["layers"])
    t = {k: v for k, v in doc["thresholds"].items() if grad or k not in GRADIENT_KINDS}
    console.print("thresholds: " + ", ".join(f"{k} {num(v)}" for k, v in t.items()), markup=False)
    for note in doc.get("notes", []):
        console.print(f"note: {note}", markup=False)
    render_warnings(console, doc["warnings"])


def render_grad_table(console: Console, doc: dict[str, Any], by_layer: dict[int, list[str]]) -> None:
    """The backward pass: one row per layer."""
    cfg = doc["config"]
    console.print(f"\nbackward pass: loss {cfg['loss']}, lr {cfg['lr']:g}", markup=False)
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    theory = any(L.get("theory") for L in doc["layers"])
    cols = ["layer", "std dL/dh", "std dL/dz", "||dW||", "mean|dW|", "zero %", "update ratio", "ratio to last"]
    cols += ["theory ratio"] if theory else []
    for col in cols:
        table.add_column(col, justify="right")
    table.add_column("warnings", justify="left")
    for L in doc["layers"]:
        g = L["grad"]
        kinds = [k for k in by_layer.get(L["layer"], []) if k in GRADIENT_KINDS]
        cells = [str(L["layer"]), num(g["std"]), num(g["pre_std"]), num(g["weight_norm"]), num(g["weight_mean_abs"]),
                 pct(g["zero_frac"]), num(g["update_ratio"]), num(g["norm_ratio_to_last"])]
        if theory:
            cells.append(num((L.get("theory") or {}).get("grad_scale")))
        table.add_row(*cells, ", ".join(f"[{KIND_STYLE.get(k, 'bold')}]{k}[/]" for k in kinds))
    console.print(table)
    console.print("ratio to last: RMS of dL/dh at the layer / at the last layer; update ratio: lr ||dW|| / ||W||",
                  markup=False)


def render_catalogue(rows: Sequence[tuple[str, str, str]], title: str, file: IO[str]) -> None:
    """A catalogue: name, parameter, formula."""
    console = make_console(file)
    table = Table(title=title, title_justify="left", box=None, show_edge=False, pad_edge=False,
                  header_style="bold")
    table.add_column("name")
    table.add_column("parameter")
    table.add_column("formula", overflow="fold")
    for r in rows:
        table.add_row(*r)
    console.print(table)


def render_list_table(doc: dict[str, Any], file: IO[str]) -> None:
    """Both catalogues, each entry with its parameter and formula."""
    def label(d: dict[str, Any]) -> str:
        return d["name"] + (f" ({', '.join(d['aliases'])})" if d["aliases"] else "")

    render_catalogue([(label(d), d["param"] or "", d["formula"]) for d in doc["inits"]], "Initialisers (--init)",
                     file)
    file.write("\n")
    render_catalogue(
        [(label(d), d["param"] or "", d["formula"] + (f"; saturated: {d['saturated']}" if d["saturated"] else ""))
         for d in doc["activations"]], "Activations (--act)", file,
    )


def render_compare_table(doc: dict[str, Any], file: IO[str]) -> None:
    """One row per configuration, then the warning kinds per configuration."""
    console = make_console(file)
    console.print(f"actstat compare: {len(doc['configs'])} configurations, seed {doc['seed']}, same input batch"
                  f" ({doc['input']}, {doc['batch']} examples)", markup=False)
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    grad = any("grad_first_last_ratio" in r for r in doc["configs"])
    cols = ["config", "input std", "first std", "last std", "min std", "max sat %", "max dead %", "1st warned"]
    cols += ["grad 1st/last"] if grad else []
    for c in cols:
        table.add_column(c, justify="left" if c == "config" else "right")
    table.add_column("warnings", justify="left")
    for r in doc["configs"]:
        cells = [r["config"], num(r["input_std"]), num(r["first_std"]), num(r["last_std"]), num(r["min_std"]),
                 pct(r["max_saturated_frac"]), pct(r["max_dead_frac"]),
                 "-" if r["first_warning_layer"] is None else str(r["first_warning_layer"])]
        if grad:
            cells.append(num(r.get("grad_first_last_ratio")))
        cells.append(", ".join(f"[{KIND_STYLE.get(k, 'bold')}]{k}[/]" for k in r["warnings"]))
        table.add_row(*cells)
    console.print(table)
    console.print("1st warned: first layer with a warning other than the informational ones;"
                  " run 'actstat probe' with a configuration's options for its warnings and fixes", markup=False)


def render_theory_table(doc: dict[str, Any], file: IO[str]) -> None:
    """The variance map layer by layer, with q*, chi_1, the phase, the depth scales."""
    console = make_console(file)
    crit = doc["critical_sigma_w"]
    console.print(
        f"actstat theory: act {doc['act']}, sigma_w {doc['sigma_w']:.6g}, sigma_b {doc['sigma_b']:g},"
        f" q0 {doc['q0']:g}", markup=False)
    console.print(
        f"fixed point q* = {num(doc['q_star'])}, chi_1 = {num(doc['chi1'])}: {doc['phase']};"
        f" depth scales xi_q = {num(doc['xi_q']) if doc['xi_q'] is not None else 'inf'},"
        f" xi_c = {num(doc['xi_c']) if doc['xi_c'] is not None else 'inf'}", markup=False)
    console.print("critical sigma_w at this sigma_b: "
                  + (f"{crit:.6g}" if crit is not None else "none (no sigma_w makes chi_1 = 1 here)"), markup=False)
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for col in ("layer", "q", "mean", "std", "chi", "grad ratio"):
        table.add_column(col, justify="right")
    for L in doc["layers"]:
        table.add_row(str(L["layer"]), num(L["q"]), num(L["mean"]), num(L["std"]), num(L["chi"]), num(L["grad_scale"]))
    console.print(table)
    console.print("q: pre-activation variance; mean/std: of the activations; chi: sigma_w^2 E[phi'^2], the layer's"
                  " gradient factor; grad ratio: predicted RMS dL/dh over the last layer's", markup=False)
