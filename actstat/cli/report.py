"""actstat report: a report directory."""

from __future__ import annotations

from typing import Any

import click

from .app import CONTEXT, EXIT_FAIL_ON, cli, core_errors
from .common import _all_kinds, check_grad_options
from .options import (
    _with_options,
    analysis_options,
    config_option,
    grad_options,
    network_option_list,
    parse_fail_on,
    seeds_option_list,
)


@cli.command(context_settings=CONTEXT)
@config_option
@_with_options(network_option_list(force=False))
@grad_options
@_with_options(analysis_options())
@click.option("--out", "out", type=click.Path(file_okay=False), required=True, help="The report directory.")
@click.option("--force", "replace", is_flag=True,
              help="Replace a non-empty --out directory (and run even above the memory estimate).")
@click.option("--dpi", type=click.IntRange(20, 1200), default=100, show_default=True, help="Picture resolution.")
@_with_options(seeds_option_list())
def report(out: str, replace: bool, dpi: int, fail_on: str | None, seeds: int, suggest: bool, jobs: int | None,
           **kw: Any) -> int:
    """Probe, then write a report directory: hist.png, plot.png, report.json, report.md.

    report.md reads on its own: the configuration and the command that reproduces it,
    the verdict, the per-layer table, the warnings with their thresholds and fixes, and
    the pictures. A non-empty OUT is refused unless --force; a failure leaves nothing.
    With --seeds N, medians over N seeds and the seeds each warning fired in; with
    --suggest, the ranked candidate fixes (report.md and report.json).

    \b
    Example:
        actstat report --act tanh --init normal:0.01 --out tanh-small
    """
    from ..fileio import atomic_dir, check_output_dir
    from ..rendering.report import REPORT_FILES, write_report
    from ..seeds import fails
    from .probe import run_seeded_command

    fail_kinds = parse_fail_on(fail_on, _all_kinds())
    check_grad_options(kw, fail_kinds)
    with core_errors():
        check_output_dir(out, replace)
        doc = run_seeded_command({**kw, "force": replace}, seeds, suggest, jobs)
        with atomic_dir(out, replace) as tmp:
            write_report(doc, tmp, dpi)
    kinds = list(dict.fromkeys(w["kind"] for w in doc["warnings"]))
    click.echo(f"wrote {out}/: {', '.join(REPORT_FILES)}; verdict: {', '.join(kinds) or 'no warnings'}", err=True)
    return EXIT_FAIL_ON if fails(doc, fail_kinds) else 0
