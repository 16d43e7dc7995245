"""A training run's document as machine-readable output (``actstat train --format ...``). No rich, no click.

* json       the whole document (schema: actstat.training).
* ndjson     streamed while training runs: a header object ``{"type": "train", actstat_version, config,
             data, hist_edges, thresholds}`` (left out with --no-headers), then one ``{"type":
             "checkpoint", ...}`` object per checkpoint as it is taken (layers nested, as in the
             document), and at the end one ``{"type": "warning", ...}`` per warning and one
             ``{"type": "final", final, stopped_early}``.
* csv, tsv   one row per checkpoint and layer (the checkpoint's step, epoch, loss and accuracies on
             every row of it; histograms left out).
* markdown   the checkpoints table, the per-layer table at the last checkpoint, the warnings.
"""

from __future__ import annotations

from typing import Any

from .records import Records, _md_num, markdown_table, render_csv, render_tsv, to_json

CHECKPOINT_COLUMNS = ("step", "epoch", "loss", "train_acc", "val_acc", "val_loss", "batch_loss")
LAYER_COLUMNS = ("layer", "width", "mean", "std", "saturated", "zero", "dead", "grad_rms", "weight_rms",
                 "update_ratio")
HEADER_KEYS = ("actstat_version", "config", "data", "hist_edges", "thresholds")


def train_header(doc: dict[str, Any]) -> dict[str, Any]:
    return {"type": "train", **{k: doc[k] for k in HEADER_KEYS if k in doc}}


def checkpoint_line(rec: dict[str, Any]) -> str:
    """One checkpoint as an NDJSON line (with its newline)."""
    return to_json({"type": "checkpoint", **rec}, indent=None) + "\n"


def header_line(header: dict[str, Any]) -> str:
    return to_json(train_header(header), indent=None) + "\n"


def tail_lines(doc: dict[str, Any]) -> str:
    """What follows the checkpoints in NDJSON: the warnings, then the final figures."""
    lines = [to_json({"type": "warning", **w}, indent=None) for w in doc["warnings"]]
    lines.append(to_json({"type": "final", "final": doc["final"], "stopped_early": doc["stopped_early"]},
                         indent=None))
    return "\n".join(lines) + "\n"


def render_train_ndjson(doc: dict[str, Any], headers: bool = True) -> str:
    """The same lines as the stream, at once."""
    out = header_line(doc) if headers else ""
    out += "".join(checkpoint_line(c) for c in doc["checkpoints"])
    return out + tail_lines(doc)


def train_records(doc: dict[str, Any]) -> Records:
    """Rows: one per (checkpoint, layer), type "layer"."""
    rows = []
    for c in doc["checkpoints"]:
        head = {k: c.get(k) for k in CHECKPOINT_COLUMNS}
        for L in c["layers"]:
            rows.append({"type": "layer", **head, **{k: v for k, v in L.items() if k not in ("hist",)}})
    return Records(train_header(doc), rows, doc["warnings"], None, train_title(doc))


def train_title(doc: dict[str, Any]) -> str:
    c = doc["config"]
    d = doc["data"]
    return (f"**actstat train**: {d['name']} ({d['train']} training, {d['val']} validation examples,"
            f" {d['classes']} classes), {c['layers']} layers of {_widths(c['widths'])}, act `{c['act']}`, init"
            f" `{c['init']}`, optimizer `{c['optimizer']}` lr {c['lr']:g}, batch {c['batch_size']}, {c['steps']}"
            f" steps, seed {c['seed']}")


def _widths(widths: list[int]) -> str:
    return str(widths[0]) if len(set(widths)) == 1 else ",".join(str(w) for w in widths)


def train_warning_lines(warnings: list[dict[str, Any]]) -> str:
    if not warnings:
        return "No warnings.\n"
    lines = []
    for w in warnings:
        where = f"step {w['step']}" + (f", layer {w['layer']}" if w.get("layer") is not None else "")
        lines.append(f"- **{w['kind']}** ({where}): value {_md_num(w.get('value'))}, threshold"
                     f" {_md_num(w.get('threshold'))}. {w['message']}. Fix: {w['hint']}")
    return "\n".join(lines) + "\n"


def render_train_markdown(doc: dict[str, Any], headers: bool = True) -> str:
    parts = [train_title(doc) + "\n"] if headers else []
    parts.append(markdown_table(doc["checkpoints"], CHECKPOINT_COLUMNS, headers))
    last = doc["checkpoints"][-1]
    if headers:
        parts.append(f"**Layers at step {last['step']}**\n")
    parts.append(markdown_table(last["layers"], LAYER_COLUMNS, headers))
    stop = doc.get("stopped_early")
    if stop:
        parts.append(f"**Stopped early** at step {stop['step']}: {stop['reason']}.\n")
    f = doc["final"]
    parts.append(f"**Final** (step {f.get('step')}, whole sets): loss {_md_num(f['loss'])}, train acc"
                 f" {_md_num(f['train_acc'])}, val acc {_md_num(f['val_acc'])}\n")
    parts.append("**Warnings**\n\n" + train_warning_lines(doc["warnings"]))
    return "\n".join(parts)


def render_train(doc: dict[str, Any], fmt: str, headers: bool = True) -> str:
    """Every machine-readable format of a training run (``table`` is rendering.train_table's)."""
    if fmt == "json":
        return to_json(doc) + "\n"
    if fmt == "ndjson":
        return render_train_ndjson(doc, headers)
    if fmt == "markdown":
        return render_train_markdown(doc, headers)
    rec = train_records(doc)
    return (render_csv if fmt == "csv" else render_tsv)(doc, rec, headers)
