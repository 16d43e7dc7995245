"""actstat gallery: one report per canonical experiment."""

from __future__ import annotations

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
    all-positive inputs. sample_reports/ in the repository is this command's output.

    \b
    Example:
        actstat gallery sample_reports --force
    """
    from ..fileio import atomic_dir, check_output_dir
    from ..gallery import CASES
    from ..rendering.gallery_index import gallery_index
    from ..rendering.report import write_report

    wanted = [n for ns in only for n in ns]
    unknown = sorted(set(wanted) - {c.name for c in CASES})
    if unknown:
        raise click.BadParameter(f"unknown case {', '.join(unknown)}; valid: {', '.join(c.name for c in CASES)}",
                                 param_hint="'--only'")
    cases = [c for c in CASES if not wanted or c.name in wanted]
    rows = []
    with core_errors():
        check_output_dir(directory, replace)
        with atomic_dir(directory, replace) as tmp, progress_bar(len(cases), "cases", min_total=2) as on_done:
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
            if not wanted:
                from ..activations import get_activation
                from ..rendering.figures import save_figure
                from ..rendering.phase import phase_figure
                from ..theory import analyse, cached_critical_sigma_w

                tanh = get_activation("tanh")
                sw = cached_critical_sigma_w(tanh, 0.3)
                save_figure(phase_figure(tanh, analyse(tanh, sw or 1.0, 0.3).to_dict()), tmp / "phase-tanh.png", dpi)
            (tmp / "README.md").write_text(gallery_index(rows, phase=not wanted), encoding="utf-8")
    click.echo(f"wrote {len(cases)} reports and README.md to {directory}/", err=True)
