"""Machine-readable output: JSON, NDJSON, CSV, TSV and Markdown. No rich, no click.

Every report is a *document* (``dict``) plus a flat view of it, ``Records``: one row per
layer (or configuration, or catalogue entry), the warnings, and a header object. Nested per-row
objects are flattened generically (``pre.mean`` -> ``pre_mean``, ``grad.std`` -> ``grad_std``,
``theory.std`` -> ``theory_std``); histograms stay out of the tabular formats.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TABULAR_SKIP = {"hist"}


def clean(obj: Any) -> Any:
    """A JSON-ready copy: numpy scalars/arrays to Python, non-finite floats to None."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return clean(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    return obj


def to_json(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON (allow_nan=False: a non-finite number can never slip through)."""
    return json.dumps(clean(obj), indent=indent, allow_nan=False)


@dataclass
class Records:
    """A flat view of a report.

    header: the report's context (``type`` names the report: probe, compare, list, theory);
    rows: one dict per row, each with a ``type`` (input, layer, config, init, activation, ...);
    warnings: dicts with layer/kind/value/threshold/message/hint (plus ``config`` in compare);
    columns: the markdown table's columns (default: every flattened column).
    """

    header: dict[str, Any]
    rows: list[dict[str, Any]]
    warnings: list[dict[str, Any]] = field(default_factory=list)
    markdown_columns: Sequence[str] | None = None
    title: str = ""


def flatten(row: dict[str, Any], prefix: str = "", sep: str = ";") -> dict[str, Any]:
    """{'pre': {'mean': 1}} -> {'pre_mean': 1}; lists joined with ``sep``; histograms dropped."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k in TABULAR_SKIP:
            continue
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "_", sep))
        elif isinstance(v, (list, tuple)):
            out[key] = sep.join("" if x is None else _cell(x) for x in v)
        else:
            out[key] = v
    return out


def columns_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Every key, in order of first appearance, ``warnings`` last (a row without a key gets an empty
    cell)."""
    cols: dict[str, None] = {}
    for r in rows:
        for k in r:
            cols.setdefault(k, None)
    out = [c for c in cols if c != "warnings"]
    return out + (["warnings"] if "warnings" in cols else [])


def _cell(v: Any) -> str:
    v = clean(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)  # full precision: the same number as the JSON
    return str(v)


def render_json(doc: dict[str, Any], rec: Records, headers: bool = True) -> str:
    return to_json(doc) + "\n"


def render_ndjson(doc: dict[str, Any], rec: Records, headers: bool = True) -> str:
    """The header object first, then one object per row, then one per warning."""
    lines = [to_json(rec.header, indent=None)] if headers else []
    lines += [to_json(r, indent=None) for r in rec.rows]
    lines += [to_json({"type": "warning", **w}, indent=None) for w in rec.warnings]
    return "\n".join(lines) + "\n"


def _delimited(rec: Records, dialect: str, headers: bool) -> str:
    flat = [flatten(r) for r in rec.rows]
    cols = columns_of(flat)
    import csv  # (only for csv and tsv output)

    buf = io.StringIO()
    w = csv.writer(buf, dialect=dialect, lineterminator="\n")
    if headers:
        w.writerow(cols)
    for r in flat:
        w.writerow([_cell(r.get(c)) for c in cols])
    return buf.getvalue()


def render_csv(doc: dict[str, Any], rec: Records, headers: bool = True) -> str:
    return _delimited(rec, "excel", headers)


def render_tsv(doc: dict[str, Any], rec: Records, headers: bool = True) -> str:
    return _delimited(rec, "excel-tab", headers)


def _md_num(v: Any) -> str:
    v = clean(v)
    if v is None:
        return "-"
    if isinstance(v, float):
        return "0" if v == 0 else f"{v:.3g}"
    return str(v).replace("|", "\\|")


def markdown_table(rows: Sequence[dict[str, Any]], cols: Sequence[str], headers: bool = True) -> str:
    """A GitHub table of ``cols`` (numbers to 3 significant digits, '-' for null)."""
    flat = [flatten(r, sep=", ") for r in rows]
    lines = []
    if headers:
        lines.append("| " + " | ".join(cols) + " |")
        lines.append("|" + "|".join("---:" if c not in ("warnings", "name", "formula", "config") else "---"
                                    for c in cols) + "|")
    for r in flat:
        lines.append("| " + " | ".join(_md_num(r.get(c)) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def _ranges(layers: Sequence[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7' (as the table writes them)."""
    out: list[list[int]] = []
    for v in sorted(set(layers)):
        if out and v == out[-1][-1] + 1:
            out[-1].append(v)
        else:
            out.append([v])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in out)


def _sentence(text: str) -> str:
    text = str(text).strip()
    return text if not text or text[-1] in ".!?)" else text + "."


def markdown_warnings(warnings: Sequence[dict[str, Any]]) -> str:
    """Grouped as the table groups them: one entry per kind and rule (per configuration in compare,
    per step in training), with its layers, the value range, the threshold, and the message and the
    fix of its first warning as sub-items."""
    if not warnings:
        return "No warnings.\n"
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for w in warnings:
        groups.setdefault((w.get("config"), w.get("step"), w["kind"], w.get("rule", "")), []).append(w)
    lines = []
    for (config, step, kind, _), ws in groups.items():
        layers = [w["layer"] for w in ws if isinstance(w.get("layer"), int)]
        where = [] if config is None else [str(config)]
        if step is not None:
            where.append(f"step {step}")
        if layers:
            where.append("input" if layers == [0] else f"layer{'s' if len(set(layers)) > 1 else ''} {_ranges(layers)}")
        vals = [v for v in (clean(w.get("value")) for w in ws) if v is not None]
        span = "inf/NaN" if not vals else _md_num(min(vals)) if min(vals) == max(vals) else \
            f"{_md_num(min(vals))} to {_md_num(max(vals))}"
        head = f"- **{kind}**" + (f" ({', '.join(where)})" if where else "") + f": value {span}"
        if ws[0].get("threshold") is not None:
            head += f", threshold {_md_num(ws[0]['threshold'])}"
        lines.append(head)
        if ws[0].get("message"):
            lines.append(f"  - {_sentence(ws[0]['message'])}")
        if ws[0].get("hint"):
            lines.append(f"  - **Fix:** {_sentence(ws[0]['hint'])}")
    return "\n".join(lines) + "\n"


def render_markdown(doc: dict[str, Any], rec: Records, headers: bool = True) -> str:
    cols = list(rec.markdown_columns or columns_of([flatten(r) for r in rec.rows]))
    parts = []
    if headers and rec.title:
        parts.append(rec.title + "\n")
    parts.append(markdown_table(rec.rows, cols, headers))
    if rec.warnings or rec.header.get("type") in ("probe", "compare"):
        parts.append("\n**Warnings**\n\n" + markdown_warnings(rec.warnings))
    return "\n".join(parts)


Renderer = Callable[[dict[str, Any], Records, bool], str]

RENDERERS: dict[str, Renderer] = {
    "json": render_json,
    "ndjson": render_ndjson,
    "csv": render_csv,
    "tsv": render_tsv,
    "markdown": render_markdown,
}


# --- the probe document as records ------------------------------------------------------------

PROBE_MARKDOWN_COLUMNS = ("layer", "width", "mean", "std", "min", "max", "saturated_frac", "zero_frac",
                          "dead_frac", "warnings")


def probe_records(doc: dict[str, Any]) -> Records:
    """Rows: the input (layer 0, type "input"), then each layer (type "layer"), each with the kinds of
    the warnings on it; header: version, config, thresholds, notes."""
    kinds: dict[int, list[str]] = {}
    for w in doc["warnings"]:
        kinds.setdefault(w["layer"], [])
        if w["kind"] not in kinds[w["layer"]]:
            kinds[w["layer"]].append(w["kind"])
    rows = [{"type": "input", "layer": 0, "width": doc["input"]["width"], **doc["input"],
             "warnings": kinds.get(0, [])}]
    rows += [{"type": "layer", **L, "warnings": kinds.get(L["layer"], [])} for L in doc["layers"]]
    header = {"type": "probe", **{k: v for k, v in doc.items() if k not in ("input", "layers", "warnings")}}
    cols = list(PROBE_MARKDOWN_COLUMNS)
    extra = [c for c in ("grad_std", "grad_weight_norm", "grad_update_ratio", "grad_norm_ratio_to_last",
                         "theory_mean", "theory_std") if any(c in flatten(r) for r in rows)]
    cols[-1:-1] = extra
    cfg = doc["config"]
    title = (f"**actstat probe**: {cfg['layers']} layers, act `{cfg['act']}`, init `{cfg['init']}`,"
             f" batch {cfg['batch']}, {cfg['dtype']}, seed {cfg['seed']}")
    return Records(header, rows, doc["warnings"], cols, title)


def list_records(doc: dict[str, Any]) -> Records:
    """The catalogue: one row per initialiser (type "init") and per activation (type "activation")."""
    rows = [{"type": "init", **d} for d in doc["inits"]] + [{"type": "activation", **d} for d in doc["activations"]]
    rows += [{"type": "optimizer", **d} for d in doc.get("optimizers", [])]
    return Records({"type": "list"}, rows, [], ("type", "name", "param", "formula"), "**actstat list**")


COMPARE_MARKDOWN_COLUMNS = ("config", "input_std", "first_std", "last_std", "min_std", "max_saturated_frac",
                            "max_dead_frac", "first_warning_layer", "warnings")


def compare_records(doc: dict[str, Any]) -> Records:
    """One row per configuration (type "config"); the warnings carry their configuration's name."""
    cols = list(COMPARE_MARKDOWN_COLUMNS)
    if any("grad_first_last_ratio" in r for r in doc["configs"]):
        cols.insert(-1, "grad_first_last_ratio")
    header = {"type": "compare", **{k: v for k, v in doc.items() if k not in ("configs", "warnings", "curves")}}
    title = f"**actstat compare**: {len(doc['configs'])} configurations, seed {doc['seed']}, batch {doc['batch']}"
    return Records(header, doc["configs"], doc["warnings"], cols, title)


def theory_records(doc: dict[str, Any]) -> Records:
    """One row per layer (type "layer"); the header holds q*, chi_1, the phase, the depth scales."""
    header = {"type": "theory", **{k: v for k, v in doc.items() if k != "layers"}}
    rows = [{"type": "layer", **L} for L in doc["layers"]]
    title = (f"**actstat theory**: `{doc['act']}`, sigma_w {doc['sigma_w']:.6g}, sigma_b {doc['sigma_b']:g}:"
             f" q* = {_md_num(doc['q_star'])}, chi_1 = {_md_num(doc['chi1'])} ({doc['phase']})")
    return Records(header, rows, [], ("layer", "q", "mean", "std", "chi", "grad_scale"), title)
