"""actstat gallery: one report per canonical experiment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .app import CONTEXT, cli, core_errors
from .common import progress_bar, run_probe_command
from .options import ListOf
from .probe import probe


@cli.command(context_settings=CONTEXT)
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--force", "replace", is_flag=True, help="Replace a non-empty DIRECTORY.")
@click.option("--only", type=ListOf(click.STRING), multiple=True, help="Only these cases (names, comma-separated).")
@click.option("--dpi", type=click.IntRange(20, 1200), default=80, show_default=True, help="Picture resolution.")
def gallery(directory: str, replace: bool, only: tuple[list[str], ...], dpi: int) -> None:
    """Write one report per canonical experiment, plus a README.md index with thumbnails.

    The cases (actstat/gallery.py): the five CS231n initialisations, the six "Deep
    Learning from Scratch" histograms, batch norm's rescue, zero init, gradient mode and
    all-positive inputs; then the lectures' training experiments (the optimisers, the
    inits and batch norm by loss curve, overfitting, babysitting the learning rate), the
    notes' random search on digits and the trainability map of tanh.
    sample_reports/ in the repository is this command's output.

    \b
    Example:
        actstat gallery sample_reports --force
    """
    from ..fileio import atomic_dir, check_output_dir
    from ..gallery import CASES, SWEEP_CASES, TRAIN_CASES
    from ..rendering.gallery_index import gallery_index
    from ..rendering.report import write_report

    wanted = [n for ns in only for n in ns]
    every = CASES + TRAIN_CASES + SWEEP_CASES
    unknown = sorted(set(wanted) - {c.name for c in every})
    if unknown:
        raise click.BadParameter(f"unknown case {', '.join(unknown)}; valid: {', '.join(c.name for c in every)}",
                                 param_hint="'--only'")
    cases = [c for c in CASES if not wanted or c.name in wanted]
    train_cases = [c for c in TRAIN_CASES if not wanted or c.name in wanted]
    sweep_cases = [c for c in SWEEP_CASES if not wanted or c.name in wanted]
    rows = []
    train_rows: list[tuple[Any, list[str]]] = []
    sweep_rows: list[tuple[Any, str]] = []
    with core_errors():
        check_output_dir(directory, replace)
        total = len(cases) + len(train_cases) + len(sweep_cases)
        with atomic_dir(directory, replace) as tmp, progress_bar(total, "cases", min_total=2) as on_done:
            for i, case in enumerate(cases):
                with probe.make_context("probe", list(case.argv)) as ctx:
                    params = dict(ctx.params)
                for k in ("fmt", "no_headers", "fail_on", "hist_path", "plot_path", "dpi"):
                    params.pop(k, None)
                doc = run_probe_command(params)
                (tmp / case.name).mkdir()
                write_report(doc, tmp / case.name, dpi, case.title, case.lecture)
                kinds = list(dict.fromkeys(w["kind"] for w in doc["warnings"]))
                rows.append((case, kinds))
                if on_done:
                    on_done(i + 1, len(cases))
            for i, case in enumerate(train_cases, start=len(cases)):
                train_rows.append((case, write_train_case(case, tmp / case.name, dpi)))
                if on_done:
                    on_done(i + 1, total)
            for i, case in enumerate(sweep_cases, start=len(cases) + len(train_cases)):
                sweep_rows.append((case, write_sweep_case(case, tmp / case.name, dpi)))
                if on_done:
                    on_done(i + 1, total)
            if not wanted:
                from ..activations import get_activation
                from ..rendering.figures import save_figure
                from ..rendering.phase import phase_figure
                from ..theory import analyse, cached_critical_sigma_w

                tanh = get_activation("tanh")
                sw = cached_critical_sigma_w(tanh, 0.3)
                save_figure(phase_figure(tanh, analyse(tanh, sw or 1.0, 0.3).to_dict()), tmp / "phase-tanh.png", dpi)
            (tmp / "README.md").write_text(gallery_index(rows, phase=not wanted, train_rows=train_rows,
                                                         sweep_rows=sweep_rows),
                                           encoding="utf-8")
    click.echo(f"wrote {total} reports and README.md to {directory}/", err=True)


def write_train_case(case: Any, out: Path, dpi: int) -> list[str]:
    """A training case's report directory (`actstat train` or `actstat compare --train`); its warning kinds."""
    import os

    from .train_forms import compare_train_argv_doc, train_argv_doc

    out.mkdir()
    if case.command == "train":
        from ..rendering.train_report import write_train_report

        doc = train_argv_doc(list(case.argv))
        write_train_report(doc, out, dpi, command="actstat train " + " ".join(case.argv), title=case.title,
                           about=case.lecture)
    else:
        from ..rendering.compare_train import write_compare_train_report

        doc = compare_train_argv_doc(list(case.argv), jobs=os.cpu_count() or 1)
        write_compare_train_report(doc, out, dpi, command="actstat compare " + " ".join(case.argv),
                                   title=case.title, about=case.lecture)
    return list(dict.fromkeys(w["kind"] for w in doc["warnings"]))


def write_sweep_case(case: Any, out: Path, dpi: int) -> str:
    """A search or trainability case's directory: the --plot picture, the ranked table or map as
    Markdown (report.md, with the command) and the JSON document (report.json); its one-line summary for the index."""
    import contextlib
    import io
    import json
    import os

    from ..gallery import PICTURES
    from ..rendering import search_output as so
    from ..rendering.records import to_json
    from .search import search
    from .trainability import trainability

    out.mkdir()
    pic = PICTURES[case.command]
    argv = list(case.argv)
    top = None
    if "--top" in argv:  # --top is table-only: the JSON run holds every trial, the table is cut below
        k = argv.index("--top")
        top = int(argv[k + 1])
        del argv[k:k + 2]
    command = search if case.command == "search" else trainability
    buf = io.StringIO()
    with command.make_context(case.command, [*argv, "--format", "json", "--plot", str(out / pic), "--dpi",
                                             str(dpi), "--jobs", str(os.cpu_count() or 1)]) as ctx, contextlib.redirect_stdout(buf):
        command.invoke(ctx)
    doc = json.loads(buf.getvalue())
    if case.command == "search":
        table = so.search_table(doc, top)
        summary = next(line for line in table.splitlines() if line.startswith("Best-1"))
    else:
        table = so.trainability_table(doc)
        summary = table.rstrip("\n").splitlines()[-1]
    cmd = f"actstat {case.command} " + " ".join(case.argv) + f" --plot {pic}"
    (out / "report.json").write_text(to_json(doc) + "\n", encoding="utf-8")
    (out / "report.md").write_text(f"# {case.title}\n\n{case.lecture}\n\n```\n{cmd}\n```\n\n```\n{table}```\n\n"
                                   f"![{case.command}]({pic})\n", encoding="utf-8")
    return summary
