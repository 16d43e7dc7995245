"""A training report directory: report.md, plot.png (curves), hist.png (histograms over training) and
report.json (the train document, byte for byte what `actstat train --format json` prints)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .records import markdown_table, to_json

TRAIN_REPORT_FILES = ("report.md", "report.json", "plot.png", "hist.png")

CHECKPOINT_COLUMNS = ("step", "epoch", "loss", "train_acc", "val_acc")
LAYER_COLUMNS = ("layer", "mean", "std", "saturated", "zero", "dead", "grad_rms", "weight_rms", "update_ratio")


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _config_lines(doc: dict[str, Any]) -> list[str]:
    c, d = doc["config"], doc.get("data") or {}
    widths = list(c.get("widths") or [])
    net = (f"- network: {len(widths)} hidden layers, widths {', '.join(map(str, widths))}; FC -> "
           f"{'batch norm -> ' if c.get('batchnorm') else ''}{c.get('act')}"
           f"{' -> dropout ' + format(c['dropout'], 'g') if c.get('dropout') else ''}; output layer of"
           f" {d.get('classes', c.get('classes'))} classes, softmax cross-entropy")
    lines = [net, f"- init `{c.get('init')}`" + (f", gain {c['gain']:g}" if c.get("gain", 1) != 1 else "")]
    if d:
        lines.append(f"- data `{d.get('name')}`: {d.get('train')} training and {d.get('val')} validation examples,"
                     f" {d.get('features')} features, {d.get('classes')} classes; preprocessing"
                     f" {c.get('preprocess', 'none')}")
    lines.append(f"- optimiser `{c.get('optimizer')}`" + (f": {c['optimizer_formula']}"
                                                          if c.get("optimizer_formula") else "")
                 + f"; lr {_fmt(c.get('lr'))}, weight decay {_fmt(c.get('weight_decay'))}"
                 " (0.5 lambda ||W||^2 in the loss)")
    lines.append(f"- batch {c.get('batch_size')}, steps {_fmt(c.get('steps'))}, epochs {_fmt(c.get('epochs'))},"
                 f" {c.get('dtype', 'float64')}, seed {c.get('seed')}, actstat {doc.get('actstat_version')}")
    return lines


def _verdict(doc: dict[str, Any]) -> str:
    kinds = list(dict.fromkeys(w["kind"] for w in doc.get("warnings", [])))
    out = ", ".join(kinds) if kinds else "no warnings"
    stop = doc.get("stopped_early")
    if stop:
        out += f"; stopped early at step {stop['step']} ({stop['reason']})"
    return out


def train_report_markdown(doc: dict[str, Any], command: str | None = None, title: str | None = None,
                          about: str | None = None) -> str:
    """report.md: the command, the verdict, the configuration, the pictures, the curves as a table,
    the final per-layer table and the warnings with their thresholds and fixes."""
    cps = doc["checkpoints"]
    final = doc.get("final") or {}
    lines = [f"# {title or 'actstat training report'}", ""]
    if about:
        lines += [about, ""]
    if command:
        lines += ["```", command, "```", ""]
    lines += [f"**Verdict:** {_verdict(doc)}", "",
              f"**Final:** loss {_fmt(final.get('loss'))}, train accuracy {_fmt(final.get('train_acc'))},"
              f" validation accuracy {_fmt(final.get('val_acc'))}", "",
              "## Configuration", "", *_config_lines(doc), "",
              "## Pictures", "",
              "Loss, accuracy, per-layer std and log10 update ratio over the steps (dashed line: the 1e-3 rule of"
              " thumb):", "", "![training curves](plot.png)", "",
              "Per layer, the activation histogram at every checkpoint as one column, colour log(1 + count)"
              " (fastai's colourful dimension):", "", "![histograms over training](hist.png)", "",
              "## Checkpoints", "", markdown_table(cps, CHECKPOINT_COLUMNS)]
    if cps:
        last = cps[-1]
        lines += [f"## Per layer at the last checkpoint (step {last['step']})", "",
                  "Fractions 0..1; saturated, zero and dead as in `actstat probe`; grad_rms: RMS of dL/dh;"
                  " update_ratio: ||delta W|| / ||W|| of the update actually applied.", "",
                  markdown_table(last["layers"], LAYER_COLUMNS)]
    lines += ["## Warnings", ""]
    if not doc.get("warnings"):
        lines.append("No warnings.")
    for w in doc.get("warnings", []):
        where = [f"step {w['step']}"] if w.get("step") is not None else []
        if w.get("layer") is not None:
            where.append(f"layer {w['layer']}")
        lines += [f"### {w['kind']}" + (f" ({', '.join(where)})" if where else ""), "",
                  f"- value: {_fmt(w.get('value'))} (threshold {_fmt(w.get('threshold'))})",
                  f"- {w['message']}", f"- **fix:** {w['hint']}", ""]
    return "\n".join(lines) + "\n"


def write_train_report(doc: dict[str, Any], out: Path, dpi: int = 100, command: str | None = None,
                       title: str | None = None, about: str | None = None) -> None:
    """Write the four report files into ``out`` (an existing, empty directory: see fileio.atomic_dir)."""
    from .figures import save_figure
    from .train_plots import train_hist_figure, train_plot_figure

    save_figure(train_plot_figure(doc), out / "plot.png", dpi)
    save_figure(train_hist_figure(doc), out / "hist.png", dpi)
    (out / "report.json").write_text(to_json(doc) + "\n", encoding="utf-8")
    (out / "report.md").write_text(train_report_markdown(doc, command, title, about), encoding="utf-8")
