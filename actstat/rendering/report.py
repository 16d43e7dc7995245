"""A report directory: hist.png, plot.png, report.json and a report.md a person can read on its own."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from ..diagnostics import THRESHOLDS
from .records import PROBE_MARKDOWN_COLUMNS, markdown_table, probe_records, to_json

REPORT_FILES = ("report.md", "report.json", "hist.png", "plot.png")


def command_line(doc: dict[str, Any]) -> str:
    """The `actstat probe` command that reproduces the document's configuration (numbers exact)."""
    from ..names import exact

    c = doc["config"]
    args = ["actstat", "probe"]
    widths = c["widths"]
    if len(set(widths)) == 1:
        args += ["--layers", str(c["layers"]), "--width", str(widths[0])]
    else:
        args += ["--widths", ",".join(map(str, widths))]
    if c["input_dim"] != widths[0]:
        args += ["--input-dim", str(c["input_dim"])]
    args += ["--batch", str(c["batch"]), "--act", c["act"], "--init", c["init"]]
    for key, default in (("gain", 1.0), ("bias_std", 0.0), ("dropout", 0.0)):
        if c[key] != default:
            args += [f"--{key.replace('_', '-')}", exact(c[key])]
    if c["dropout"] and c["dropout_mode"] != "inverted":
        args += ["--dropout-mode", c["dropout_mode"]]
    if c["batchnorm"]:
        args.append("--batchnorm")
    if c["input"] != "normal":
        args += ["--input", c["input"]]
    if c.get("preprocess", "none") != "none":
        args += ["--preprocess", c["preprocess"]]
    if c["seed"] != 0:
        args += ["--seed", str(c["seed"])]
    if "seeds" in doc:
        args += ["--seeds", str(doc["seeds"]["n"])]
    if "suggest" in doc:
        args.append("--suggest")
    if c["dtype"] != "float64":
        args += ["--dtype", c["dtype"]]
    if c["bins"] != 30:
        args += ["--bins", str(c["bins"])]
    if c["hist_range"]:
        args += ["--hist-range", ",".join(exact(v) for v in c["hist_range"])]
    for k, v in c["thresholds"].items():
        args += ["--threshold", f"{k}={exact(v)}"]
    if c.get("theory"):
        args.append("--theory")
    if c.get("grad"):
        args.append("--grad")
        if c["loss"] != "softmax":
            args += ["--loss", c["loss"]]
        if c["loss"] == "softmax" and c["classes"] != 10:
            args += ["--classes", str(c["classes"])]
        if c["lr"] != 1e-3:
            args += ["--lr", exact(c["lr"])]
    return " ".join(shlex.quote(a) for a in args)


GRAD_COLUMNS = ("layer", "grad_std", "grad_pre_std", "grad_weight_norm", "grad_weight_mean_abs", "grad_zero_frac",
                "grad_update_ratio", "grad_norm_ratio_to_last")


def report_markdown(doc: dict[str, Any], title: str | None = None, about: str | None = None) -> str:
    """report.md: configuration, verdict, the table, warnings with hints and thresholds, the pictures."""
    c = doc["config"]
    rec = probe_records(doc)
    kinds = list(dict.fromkeys(w["kind"] for w in doc["warnings"]))
    verdict = ", ".join(kinds)
    if "seeds" in doc:
        fired, n = doc["seeds"]["fired"], doc["seeds"]["n"]
        verdict = ", ".join(f"{k} (in {fired.get(k, 0)}/{n} seeds)" for k in kinds)
    lines = [f"# {title or 'actstat report'}", ""]
    if about:
        lines += [about, ""]
    lines += [
        "```", command_line(doc), "```", "",
        f"**Verdict:** {verdict if kinds else 'no warnings'}", "",
        "## Configuration", "",
        f"- network: {c['layers']} hidden layers, widths {', '.join(map(str, c['widths']))}, input dimension"
        f" {c['input_dim']}; FC -> {'batch norm -> ' if c['batchnorm'] else ''}activation"
        f"{' -> dropout' if c['dropout'] else ''}",
        f"- activation `{c['act']}`: {c['act_formula']}",
        f"- init `{c['init']}`: {c['init_formula']}" + (f"; gain {c['gain']:g}" if c["gain"] != 1 else ""),
        f"- bias: {'N(0, ' + format(c['bias_std'], 'g') + '^2)' if c['bias_std'] else 'none'}",
        f"- input: {c['input_formula']}, batch {c['batch']}, preprocessing {c.get('preprocess', 'none')}",
        f"- dropout: {c['dropout_scaling']}",
        f"- {c['dtype']}, seed {c['seed']}, actstat {doc['actstat_version']}",
    ]
    if c.get("grad"):
        lines.append(f"- backward pass: {c['loss_formula']}; lr {c['lr']:g}")
    lines += ["", "## Pictures", "", "![histograms per layer](hist.png)", "", "![mean and std per layer](plot.png)", "",
              "## Activations per layer", "",
              "Mean, std, min and max of each layer's output over the whole batch x width matrix; saturated:"
              f" {doc['saturation_rule'] or 'no saturating region for ' + c['act']}; dead unit: 0 for every"
              " example. Layer 0 is the input.", "",
              markdown_table(rec.rows, PROBE_MARKDOWN_COLUMNS)]
    if "grad" in doc["layers"][0]:
        lines += ["## Gradients per layer", "",
                  "RMS ratio to last: RMS of dL/dh at the layer over the last layer's; update ratio: lr ||dW|| / ||W||.",
                  "", markdown_table([r for r in rec.rows if r["type"] == "layer"], GRAD_COLUMNS)]
    lines += ["## Warnings", ""]
    if not doc["warnings"]:
        lines.append("No warnings.")
    n_seeds = doc["seeds"]["n"] if "seeds" in doc else 1
    for kind in kinds:
        lines += [f"### {kind}", ""]
        rules = list(dict.fromkeys(w.get("rule", "") for w in doc["warnings"] if w["kind"] == kind))
        for rule in rules:  # one entry per rule: its own layers, value range and threshold
            ws = [w for w in doc["warnings"] if w["kind"] == kind and w.get("rule", "") == rule]
            layers = ", ".join("input" if w["layer"] == 0 else str(w["layer"]) for w in ws)
            vals = [w["value"] for w in ws if w["value"] is not None]
            span = (f"{min(vals):.3g}" if min(vals) == max(vals) else f"{min(vals):.3g} to {max(vals):.3g}") \
                if vals else "inf/NaN"
            what = ""
            if rule in THRESHOLDS:
                d = THRESHOLDS[rule][1].replace("--grad: ", "")
                what = f"; {rule}: " + d.removesuffix(" below this").removesuffix(" above this").removesuffix(",")
            lines += [f"- layers: {layers}", f"- value: {span} (threshold {ws[0]['threshold']:g}{what})"]
            if n_seeds > 1:
                counts = {w["seeds_fired"] for w in ws}
                lines.append(f"- seeds: fired in {counts.pop()}/{n_seeds} seeds" + (" at each layer" if len(ws) > 1 else "")
                             if len(counts) == 1 else "- seeds: fired in " + ", ".join(
                                 f"{w['seeds_fired']}/{n_seeds} (layer {w['layer']})" for w in ws))
            near = [str(w["layer"]) for w in ws if w.get("borderline")]
            if near:
                lines.append(f"- **borderline** at layer {', '.join(near)}: the value lies within the seed-to-seed"
                             " spread of its threshold; run with --seeds to be sure")
            lines += [f"- {ws[0]['message']}", f"- **fix:** {ws[0]['hint']}", ""]
    if doc.get("suggest"):
        lines += suggest_markdown(doc["suggest"])
    lines += ["", "Thresholds: " + ", ".join(f"{k} {v:g}" for k, v in doc["thresholds"].items()), ""]
    for note in doc.get("notes", []):
        lines += [f"Note: {note}", ""]
    return "\n".join(lines)


def suggest_markdown(sug: dict[str, Any]) -> list[str]:
    """The ranked candidate fixes (--suggest) as a section of report.md."""
    lines = ["## Suggested fixes (measured)", "",
             (f"Each candidate re-run with the same seeds; alarms: warned layers per seed"
              f" ({sug['alarms_before']:g} before)."), ""]
    if not sug["candidates"]:
        return lines + ["No candidate fix differs from the current setting.", ""]
    lines += ["| rank | fix | alarms | warned figures, before -> after |", "|---:|---|---:|---|"]
    for r in sug["candidates"]:
        figs = "; ".join(
            f"{f['figure']} {_g(f['before'])} -> {_g(f['after'])}"
            f" ({'better' if f['better'] else 'worse' if f['worse'] else 'same'})" for f in r["figures"].values())
        lines.append(f"| {r['rank']} | `{r['label']}` | {r['alarms']:g} | {figs} |")
    return lines + ["", f"**Best:** {('`' + sug['best'] + '`') if sug['best'] else 'none improves every warned figure'}",
                    ""]


def _g(v: Any) -> str:
    return "-" if v is None else f"{v:.3g}"


def write_report(doc: dict[str, Any], out: Path, dpi: int = 100, title: str | None = None,
                 about: str | None = None) -> None:
    """Write the four report files into ``out`` (an existing, empty directory: see fileio.atomic_dir)."""
    from .figures import save_figure
    from .plots import hist_figure, plot_figure

    save_figure(hist_figure(doc, gradients=True)[0], out / "hist.png", dpi)
    save_figure(plot_figure(doc), out / "plot.png", dpi)
    (out / "report.json").write_text(to_json(doc) + "\n", encoding="utf-8")
    (out / "report.md").write_text(report_markdown(doc, title, about), encoding="utf-8")
