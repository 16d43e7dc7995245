"""Text, CSV/TSV and NDJSON output of `actstat search` and `actstat trainability`. No rich, no click."""

from __future__ import annotations

import io
from typing import Any

from .records import _cell, to_json

# --- search ---------------------------------------------------------------------------------------


def search_table(doc: dict[str, Any], top: int | None = None) -> str:
    """Each stage's ranges and budget, then the ranking in the notes' style."""
    from ..search import ranked_lines

    lines = []
    for st in doc["stages"]:
        ranges = ", ".join(_describe(d) for d in st["space"])
        lines.append(f"Stage {st['stage']}: {st['trials']} trials x {st['steps']} steps ({st['epochs']:.3g} epochs)"
                     f" | {ranges}")
    stopped = sum(t["stopped_early"] is not None for t in doc["trials"])
    if stopped:
        lines.append(f"{stopped} of {len(doc['trials'])} trials stopped early (loss above 3x its start, or not finite)")
    lines.append("")
    lines += ranked_lines(doc, top)
    return "\n".join(lines) + "\n"


def _describe(d: dict[str, Any]) -> str:
    from ..search import label

    if d["kind"] == "choice":
        return f"{label(d['name'])}:{','.join(map(str, d['values']))}"
    return f"{label(d['name'])}:{d['lo']:.3g}..{d['hi']:.3g}{' (log)' if d['kind'] in ('log', 'logint') else ''}"


def search_header(trials: int, stages: int, searched: list[str], seed: int) -> str:
    from .._version import __version__

    return to_json({"type": "search", "actstat_version": __version__, "trials_per_stage": trials, "stages": stages,
                    "searched": searched, "seed": seed}, indent=None) + "\n"


def trial_line(rec: dict[str, Any]) -> str:
    return to_json(rec, indent=None) + "\n"


def ranking_line(doc: dict[str, Any]) -> str:
    return to_json({"type": "ranking", "ranking": doc["ranking"], "best": doc["best"]["trial"],
                    "stages": doc["stages"]}, indent=None) + "\n"


def search_delimited(doc: dict[str, Any], tsv: bool, headers: bool) -> str:
    """One row per trial (in trial order) with its rank, results and parameters."""
    import csv

    rank = {r["trial"]: r["rank"] for r in doc["ranking"]}
    names = doc["searched"]
    cols = ["trial", "stage", "rank", "val_acc", "train_acc", "loss", "steps", "stopped_early_step", *names]
    buf = io.StringIO()
    w = csv.writer(buf, dialect="excel-tab" if tsv else "excel", lineterminator="\n")
    if headers:
        w.writerow(cols)
    for t in doc["trials"]:
        stop = t["stopped_early"]["step"] if t["stopped_early"] is not None else None
        row = [t["trial"], t["stage"], rank[t["trial"]], t["val_acc"], t["train_acc"], t["loss"], t["steps"], stop,
               *(t["params"][n] for n in names)]
        w.writerow(["" if v is None else _cell(v) for v in row])
    return buf.getvalue()


# --- trainability ---------------------------------------------------------------------------------


def trainability_table(doc: dict[str, Any], metric: str = "train_acc") -> str:
    """Depth down, sigma_w across; each cell's final value, '+' where theory predicts it trains
    (depth < 6 xi_c), '!' where the measurement disagrees; then 6 xi_c per column and the summary."""
    sws, depths = doc["sigma_w"], doc["layers"]
    cell = {(c["sigma_w"], c["layers"]): c for c in doc["cells"]}
    w = 8
    head = "depth \\ sigma_w".ljust(16) + "".join(f"{s:>{w}.3g}" for s in sws)
    title = (f"{doc['act']}, sigma_b^2 {doc['sigma_b'] ** 2:.3g}, width {doc['width']}, {doc['steps']} steps on "
             f"{doc['data']['name']}: final {'training loss' if metric == 'loss' else 'training accuracy'} "
             "('+' predicted to train: depth < 6 xi_c; '!' disagrees)")
    lines = [title, head]
    for L in reversed(depths):
        row = f"{L:<16d}"
        for s in sws:
            c = cell[(s, L)]
            v = c[metric]
            txt = "n/a" if v is None else f"{v:.2f}"
            row += f"{txt + ('+' if c['predicted'] else ' ') + (' ' if c['agree'] else '!'):>{w}}"
        lines.append(row.rstrip())
    limits = "".join(f"{'inf' if t['max_depth'] is None else format(t['max_depth'], '.3g'):>{w - 2}}  "
                     for t in doc["theory"])
    lines.append(("6 xi_c".ljust(16) + limits).rstrip())
    crit = doc["critical_sigma_w"]
    lines.append(f"critical sigma_w: {'none' if crit is None else format(crit, '.4g')}; "
                 f"trained: final training accuracy >= {doc['threshold']:.3g} (chance {doc['chance']:.3g})")
    lines.append(doc["summary"]["text"])
    return "\n".join(lines) + "\n"


def trainability_ndjson(doc: dict[str, Any], headers: bool) -> str:
    """A header (grid, theory and predicted boundary), one object per cell, the summary."""
    head = {k: v for k, v in doc.items() if k not in ("cells", "summary")}
    lines = [to_json({"type": "trainability", **head}, indent=None)] if headers else []
    lines += [to_json({"type": "cell", **c}, indent=None) for c in doc["cells"]]
    lines.append(to_json({"type": "summary", **doc["summary"]}, indent=None))
    return "\n".join(lines) + "\n"


def trainability_delimited(doc: dict[str, Any], tsv: bool, headers: bool) -> str:
    import csv

    limit = {t["sigma_w"]: t for t in doc["theory"]}
    cols = ["sigma_w", "layers", "train_acc", "val_acc", "loss", "stopped_early_step", "xi_c", "max_depth",
            "predicted", "trained", "agree"]
    buf = io.StringIO()
    w = csv.writer(buf, dialect="excel-tab" if tsv else "excel", lineterminator="\n")
    if headers:
        w.writerow(cols)
    for c in doc["cells"]:
        t = limit[c["sigma_w"]]
        stop = c["stopped_early"]["step"] if c["stopped_early"] is not None else None
        row = [c["sigma_w"], c["layers"], c["train_acc"], c["val_acc"], c["loss"], stop, t["xi_c"], t["max_depth"],
               c["predicted"], c["trained"], c["agree"]]
        w.writerow(["" if v is None else _cell(v) for v in row])
    return buf.getvalue()
