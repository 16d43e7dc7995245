"""Markdown index of the sample-report gallery."""

from __future__ import annotations

from typing import Any


def gallery_index(rows: list[tuple[Any, list[str]]], phase: bool = False,
                  train_rows: list[tuple[Any, list[str]]] | None = None,
                  sweep_rows: list[tuple[Any, str]] | None = None) -> str:
    """The gallery's README.md: one row per case (its report, histogram thumbnail and verdict)."""
    lines = ["# actstat sample reports", "",
             "One report per canonical experiment, written by `actstat gallery sample_reports --force`"
             " (the case list is `actstat/gallery.py`). Click a picture for the full report.", "",
             "| experiment | histograms per layer | verdict |", "|---|---|---|"]
    for case, kinds in rows:
        cmd = "actstat probe " + " ".join(case.argv)
        lines.append(f"| [{case.title}]({case.name}/report.md)<br>`{cmd}`<br>{case.lecture} |"
                     f" [<img src=\"{case.name}/hist.png\" width=\"360\">]({case.name}/report.md) |"
                     f" {', '.join(f'`{k}`' for k in kinds) or 'no warnings'} |")
    if train_rows:
        lines += ["", "## Training: the lectures' experiments", "",
                  "Each one `actstat compare --train` (loss curves overlaid) or `actstat train` (the curves, the"
                  " per-layer std and update ratio, the babysitting verdicts).", "",
                  "| experiment | curves | verdict |", "|---|---|---|"]
        for case, kinds in train_rows:
            cmd = f"actstat {case.command} " + " ".join(case.argv)
            pic = "loss.png" if case.command == "compare" else "plot.png"
            lines.append(f"| [{case.title}]({case.name}/report.md)<br>`{cmd}`<br>{case.lecture} |"
                         f" [<img src=\"{case.name}/{pic}\" width=\"360\">]({case.name}/report.md) |"
                         f" {', '.join(f'`{k}`' for k in kinds) or 'no warnings'} |")
    if sweep_rows:
        from ..gallery import PICTURES

        lines += ["", "## Hyperparameter search and the trainability map", "",
                  "`actstat search` (validation accuracy over the searched space, the best trials' learning curves,"
                  " the ranked list) and `actstat trainability` (final training accuracy over sigma_w x depth,"
                  " the 6 xi_c curve and the critical sigma_w overlaid).", "",
                  "| experiment | picture | result |", "|---|---|---|"]
        for case, summary in sweep_rows:
            pic = PICTURES[case.command]
            cmd = f"actstat {case.command} " + " ".join(case.argv) + f" --plot {pic}"
            lines.append(f"| [{case.title}]({case.name}/report.md)<br>`{cmd}`<br>{case.lecture} |"
                         f" [<img src=\"{case.name}/{pic}\" width=\"360\">]({case.name}/report.md) |"
                         f" {summary.replace('|', '&#124;')} |")
    if phase:
        lines += ["", "## Theory: the phase diagram of tanh", "",
                  "`actstat theory --act tanh --sigma-b 0.3 --critical --phase-diagram phase-tanh.png`: chi_1 over"
                  " sigma_w x sigma_b, the critical line chi_1 = 1 between order (blue) and chaos (red), the"
                  " critical sigma_w at sigma_b = 0.3 marked.", "", "![phase diagram of tanh](phase-tanh.png)"]
    return "\n".join(lines) + "\n"
