"""`actstat compare --train` output: the terminal table, the records (json, ndjson, csv, tsv, markdown)
and the report directory (report.md, loss.png, report.json)."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from .records import Records, markdown_table, markdown_warnings, to_json

COMPARE_TRAIN_COLUMNS = ("config", "initial_loss", "final_loss", "min_loss", "final_train_acc", "final_val_acc",
                         "best_val_acc", "stopped_early", "warnings")
COMPARE_TRAIN_FILES = ("report.md", "report.json", "loss.png")


def compare_train_title(doc: dict[str, Any]) -> str:
    d = doc["data"]
    return (f"actstat compare --train: {len(doc['configs'])} runs on {d['name']} ({d['train']} training,"
            f" {d['val']} validation examples, {d['classes']} classes), seed {doc['seed']}")


def compare_train_records(doc: dict[str, Any]) -> Records:
    """One row per run (type "run"); the warnings carry their run's name; the curves stay in the JSON."""
    header = {"type": "compare-train", **{k: v for k, v in doc.items() if k not in ("configs", "warnings", "curves")}}
    return Records(header, doc["configs"], doc["warnings"], COMPARE_TRAIN_COLUMNS, f"**{compare_train_title(doc)}**")


def render_compare_train_table(doc: dict[str, Any], file: IO[str]) -> None:
    """One row per run: loss at the start, the end and its minimum, accuracies, the early stop, the
    warning kinds."""
    from .table import make_console, pct, print_table, say

    console = make_console(file)
    say(console, compare_train_title(doc))
    cols = ["config", "loss 0", "loss end", "min loss", "train %", "val %", "best val %", "stopped"]
    rows, kinds = [], []
    for r in doc["configs"]:
        rows.append([r["config"], r["initial_loss"], r["final_loss"], r["min_loss"], pct(r["final_train_acc"]),
                     pct(r["final_val_acc"]), pct(r["best_val_acc"]),
                     "-" if r["stopped_early"] is None else f"step {r['stopped_early']}"])
        kinds.append(list(r["warnings"]))
    print_table(console, cols, rows, kinds)
    say(console, "loss: evaluation mode on the training set (with the weight-decay term); train/val %: accuracy at the"
                 " last step; run 'actstat train' with a run's options for its warnings and fixes")


def compare_train_markdown(doc: dict[str, Any], command: str | None = None, title: str | None = None,
                           about: str | None = None) -> str:
    """report.md of a compare-train run: the command, the table, the picture, the warnings."""
    lines = [f"# {title or 'actstat compare --train'}", ""]
    if about:
        lines += [about, ""]
    if command:
        lines += ["```", command, "```", ""]
    lines += [compare_train_title(doc) + ".", "", "![loss curves overlaid](loss.png)", "",
              "## Runs", "", markdown_table(doc["configs"], COMPARE_TRAIN_COLUMNS),
              "initial/final/min loss: evaluation mode on the training set (with the weight-decay term);"
              " accuracies as fractions; stopped_early: the step training stopped at.", "",
              "## Warnings", "", markdown_warnings(doc["warnings"])]
    return "\n".join(lines)


def write_compare_train_report(doc: dict[str, Any], out: Path, dpi: int = 100, command: str | None = None,
                               title: str | None = None, about: str | None = None) -> None:
    """Write report.md, report.json and loss.png into ``out`` (an existing, empty directory)."""
    from .figures import save_figure
    from .train_plots import compare_train_figure

    save_figure(compare_train_figure(doc), out / "loss.png", dpi)
    (out / "report.json").write_text(to_json(doc) + "\n", encoding="utf-8")
    (out / "report.md").write_text(compare_train_markdown(doc, command, title, about), encoding="utf-8")
