"""A training run as tables (rich): one line per checkpoint, the per-layer table at the last
checkpoint, then the final figures and the babysitting warnings with their fixes."""

from __future__ import annotations

import math
from typing import IO, Any

from .table import make_console, num, pct, print_table, say


def render_train_table(doc: dict[str, Any], file: IO[str]) -> None:
    console = make_console(file)
    c = doc["config"]
    d = doc["data"]
    say(console, f"actstat train: {d['name']} ({d['train']} training / {d['val']} validation examples, {d['features']}"
        f" features, {d['classes']} classes); {c['layers']} layers, act {c['act']}, init {c['init']}"
        + (", batch norm" if c["batchnorm"] else "") + (f", dropout {c['dropout']:g}" if c["dropout"] else "")
        + f"; optimizer {c['optimizer']}, lr {c['lr']:g}" + (f", weight decay {c['weight_decay']:g}"
                                                              if c["weight_decay"] else "")
        + f", batch {c['batch_size']}, {c['steps']} steps ({num(c['epochs'])} epochs), seed {c['seed']}")
    say(console, f"optimizer: {c['optimizer_formula']}")
    probe = doc.get("probe")
    if probe is not None:
        say(console, f"probe at step 0 (the same weights, {probe['batch']} training examples): " + _probe_verdict(probe))
    console.print()
    rows = [[str(cp["step"]), _epoch(cp["epoch"]), cp["loss"], pct(cp["train_acc"]), pct(cp["val_acc"]), cp["batch_loss"]]
            for cp in doc["checkpoints"]]
    print_table(console, ["step", "epoch", "loss", "train acc %", "val acc %", "batch loss"], rows)
    last = doc["checkpoints"][-1]
    console.print()
    console.print(f"Layers at step {last['step']} (activations before dropout, training mode):")
    lrows = [[str(L["layer"]), str(L["width"]), L["mean"], L["std"], pct(L["saturated"]), pct(L["zero"]), pct(L["dead"]),
              L["grad_rms"], L["weight_rms"], L["update_ratio"]] for L in last["layers"]]
    print_table(console, ["layer", "width", "mean", "std", "sat %", "zero %", "dead %", "rms dL/dh", "weight rms",
                          "update ratio"], lrows)
    console.print()
    stop = doc.get("stopped_early")
    if stop:
        say(console, f"Stopped early at step {stop['step']}: {stop['reason']}.")
    f = doc["final"]
    say(console, f"Final (step {f.get('step')}, evaluation mode, whole sets): loss {num(f['loss'])}, train acc"
        f" {pct(f['train_acc'])}%, val acc {pct(f['val_acc'])}%")
    render_train_warnings(console, doc["warnings"])


def _probe_verdict(probe: dict[str, Any]) -> str:
    from ..diagnostics import INFORMATIONAL
    from .table import layer_ranges

    by: dict[str, list[int]] = {}
    for w in probe["warnings"]:
        if w["kind"] not in INFORMATIONAL:
            by.setdefault(w["kind"], []).append(w["layer"])
    if not by:
        return "no warnings"
    return "; ".join(f"{k} ({'input' if ls == [0] else 'layer' + ('s' if len(ls) > 1 else '') + ' ' + layer_ranges(ls)})"
                     for k, ls in by.items())


def _epoch(e: Any) -> str:
    if e is None or not math.isfinite(e):
        return "-"
    return f"{e:.2f}".rstrip("0").rstrip(".") if e else "0"


def render_train_warnings(console: Any, warnings: list[dict[str, Any]]) -> None:
    """One entry per kind and fix: the layers it fired at, the value range against the threshold, the
    first layer's message and the fix."""
    from .table import layer_ranges

    if not warnings:
        console.print("No warnings.")
        return
    console.print("Warnings:")
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for w in warnings:
        groups.setdefault((w["kind"], w["threshold"], w["hint"], w["layer"] is None), []).append(w)
    for (kind, threshold, hint, _), ws in groups.items():
        layers = [w["layer"] for w in ws if w["layer"] is not None]
        where = f"step {ws[0]['step']}" + (f", layer{'s' if len(layers) > 1 else ''} {layer_ranges(layers)}"
                                          if layers else "")
        vals = [w["value"] for w in ws if w["value"] is not None]
        span = "inf/NaN" if not vals else num(min(vals)) if min(vals) == max(vals) else \
            f"{num(min(vals))}..{num(max(vals))}"
        say(console, f"  {kind} ({where}): value {span}, threshold {num(threshold)}", hang="    ",
            style=(2, 2 + len(kind), "bold red"))
        say(console, f"    {ws[0]['message']}", hang="    ")
        say(console, f"    fix: {hint}", hang="    ")
