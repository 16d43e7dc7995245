"""The training forms of two probe commands: `actstat report --train` (a training report directory)
and `actstat compare --train` (a grid of training runs). Both take every `actstat train` option; they
are built from the train command's own parameters, so they always take the same options, with the
same types, defaults and checks, as `actstat train`.

``TrainForm`` wraps a registered command: with ``--train`` among the arguments (before any ``--``)
they go to its training form; without it, the command is the probe command it always was. Importing
this module wraps `report` and `compare` (the import in ``actstat.cli`` is the registration).
"""

from __future__ import annotations

import itertools
import shlex
from collections.abc import Callable
from typing import Any

import click

from .app import CONTEXT, EXIT_FAIL_ON, cli, core_errors

META = "actstat.train_form"


def _wants_train(args: list[str]) -> bool:
    head = args[:args.index("--")] if "--" in args else args
    return "--train" in head


class TrainForm(click.Command):
    """``base`` as it is, or with --train its training form ``form()`` (see the module docstring)."""

    def __init__(self, base: click.Command, form: Callable[[], click.Command], what: str) -> None:
        train_flag = click.Option(["--train"], is_flag=True, expose_value=False,
                                  help=f"Train instead of probing: {what}; takes every `actstat train` option"
                                  " (see `actstat " + str(base.name) + " --train --help`).")
        super().__init__(base.name, context_settings=base.context_settings, callback=base.callback,
                         params=[train_flag, *base.params], help=base.help, epilog=base.epilog,
                         short_help=base.short_help, options_metavar=base.options_metavar,
                         no_args_is_help=base.no_args_is_help, hidden=base.hidden,
                         deprecated=base.deprecated)
        self.base, self.form = base, form

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if _wants_train(args):
            other = self.form()
            ctx.meta[META] = other
            cut = args.index("--") if "--" in args else len(args)
            return other.parse_args(ctx, [a for a in args[:cut] if a != "--train"] + args[cut:])
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        other = ctx.meta.get(META)
        return other.invoke(ctx) if other is not None else super().invoke(ctx)

    def get_help(self, ctx: click.Context) -> str:
        other = ctx.meta.get(META)
        return other.get_help(ctx) if other is not None else super().get_help(ctx)


# --- what the train command provides -------------------------------------------------------------

def _train_command() -> click.Command:
    from .train import train

    return train


def _train_params(skip: set[str]) -> list[click.Parameter]:
    return [p for p in _train_command().params if p.name not in skip]


def _run_training(kw: dict[str, Any]) -> dict[str, Any]:
    from .train import run_train_command

    return run_train_command(kw)


def _build_config(kw: dict[str, Any]) -> Any:
    from .train import build_train_config

    return build_train_config(kw)


def train_command_line(ctx: click.Context, skip: set[str]) -> str:
    """The `actstat train` command that reproduces a training form's run: every option given (on the
    command line, in --config or the environment), in the train command's order."""
    from click.core import ParameterSource

    other = ctx.meta.get(META) or ctx.command
    args = ["actstat", "train"]
    for p in other.params:
        if not isinstance(p, click.Option) or p.name in skip or p.name not in ctx.params:
            continue
        if ctx.get_parameter_source(p.name) in (None, ParameterSource.DEFAULT):  # type: ignore[arg-type]
            continue
        flag = next((o for o in p.opts if o.startswith("--")), p.opts[0])
        value = ctx.params[p.name]
        if p.is_flag:
            if value:
                args.append(flag)
            continue
        for v in (value if p.multiple else [value]):
            if v is None:
                continue
            args += [flag, _cell(v)]
    return " ".join(shlex.quote(a) for a in args)


def _cell(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (tuple, list)):
        if len(v) == 2 and isinstance(v[0], str):  # KIND=VALUE
            return f"{v[0]}={_cell(v[1])}"
        return ",".join(_cell(x) for x in v)
    return str(v)


# --- actstat report --train ------------------------------------------------------------------------

REPORT_SKIP = {"fmt", "no_headers", "plot_path", "hist_path", "dpi", "force", "fail_on", "progress"}


def report_train_command() -> click.Command:
    """`actstat report --train`: train, then write report.md, plot.png, hist.png and report.json."""
    params = _train_params(REPORT_SKIP) + [
        click.Option(["--out", "out"], type=click.Path(file_okay=False), required=True, help="The report directory."),
        click.Option(["--force", "replace"], is_flag=True,
                     help="Replace a non-empty --out directory (and run even above the memory estimate)."),
        click.Option(["--dpi"], type=click.IntRange(20, 1200), default=100, show_default=True,
                     help="Picture resolution."),
    ]
    fail_on = next((p for p in _train_command().params if p.name == "fail_on"), None)
    if fail_on is not None:
        params.append(fail_on)
    return click.Command("report", params=params, callback=_report_train, context_settings=CONTEXT,
                         help="Train (every `actstat train` option), then write a training report directory.")


def _report_train(out: str, replace: bool, dpi: int, fail_on: str | None = None, **kw: Any) -> int:
    from ..fileio import atomic_dir, check_output_dir
    from ..rendering.train_report import TRAIN_REPORT_FILES, write_train_report

    ctx = click.get_current_context()
    fail_kinds = _fail_kinds(fail_on)
    with core_errors():
        check_output_dir(out, replace)
        doc = _run_training({**kw, "force": replace})
        with atomic_dir(out, replace) as tmp:
            write_train_report(doc, tmp, dpi, command=train_command_line(ctx, {"out", "replace", "dpi"}))
    kinds = list(dict.fromkeys(w["kind"] for w in doc["warnings"]))
    stop = doc.get("stopped_early")
    click.echo(f"wrote {out}/: {', '.join(TRAIN_REPORT_FILES)}; verdict: {', '.join(kinds) or 'no warnings'}"
               + (f"; stopped early at step {stop['step']}" if stop else ""), err=True)
    return EXIT_FAIL_ON if any(k in fail_kinds for k in kinds) else 0


def _fail_kinds(fail_on: str | None) -> frozenset[str]:
    if not fail_on:
        return frozenset()
    from ..training.verdicts import TRAIN_KINDS  # type: ignore[attr-defined]
    from .options import parse_fail_on

    return parse_fail_on(fail_on, TRAIN_KINDS)


# --- actstat compare --train -----------------------------------------------------------------------

GRID_OPTIONS = ("optimizer", "act", "init", "layers", "width", "lr", "weight_decay", "dropout")
COMPARE_SKIP = {"fmt", "no_headers", "plot_path", "hist_path", "dpi", "fail_on", "progress", "jobs", "cluster"}
COMPARE_TRAIN_FORMATS = ("table", "json", "ndjson", "csv", "tsv", "markdown")


def _listed(p: click.Parameter) -> click.Parameter:
    """The train option ``p`` taking several values (comma-separated or repeated)."""
    from .options import ListOf

    return click.Option([p.name, *p.opts], type=ListOf(p.type), multiple=True,
                        help=((getattr(p, "help", None) or "").rstrip() + " Several values: comma-separated or"
                              " repeated; each combination is one run.").strip())


def compare_train_command() -> click.Command:
    """`actstat compare --train`: every combination of the grid options' values, trained on one data
    split; one row per run and the loss curves overlaid."""
    from .executing import executor_option_list

    params = [_listed(p) if p.name in GRID_OPTIONS else p for p in _train_params(COMPARE_SKIP)]
    extra = [
        click.option("--batchnorm-both", is_flag=True, help="Every run with and without batch norm."),
        click.option("fmt", "-f", "--format", type=click.Choice(COMPARE_TRAIN_FORMATS), default="table",
                     show_default=True, envvar="ACTSTAT_FORMAT"),
        click.option("--no-headers", is_flag=True, help="csv/tsv/ndjson/markdown: leave out the header."),
        click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
                     help="The loss curves (and accuracies) of every run overlaid (.png, .svg or .pdf)."),
        click.option("--dpi", type=click.IntRange(20, 1200), default=None, help="--plot resolution.  [default: 100]"),
        *executor_option_list("runs"),
    ]

    def noop() -> None:
        pass

    for deco in reversed(extra):
        noop = deco(noop)
    params += list(reversed(getattr(noop, "__click_params__", [])))
    return click.Command("compare", params=params, callback=_compare_train, context_settings=CONTEXT,
                         help="Train every combination of the given values; one row per run.")


def expand_kw(kw: dict[str, Any], grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """One option dict per combination of the grid's values (keys in GRID_OPTIONS order, last fastest)."""
    keys = [k for k in (*GRID_OPTIONS, "batchnorm") if grid.get(k)]
    return [{**kw, **dict(zip(keys, values))} for values in itertools.product(*(grid[k] for k in keys))]


def _compare_train(fmt: str, no_headers: bool, plot_path: str | None, dpi: int | None, jobs: int | None,
                   cluster: str | None, **kw: Any) -> int:
    from .executing import resolve_executor

    if dpi is not None and plot_path is None:
        raise click.UsageError("--dpi needs --plot")
    jobs_, cluster_ = resolve_executor(jobs, cluster)
    with core_errors():
        if plot_path:
            from ..fileio import check_writable_file
            from ..rendering.figures import picture_type

            picture_type(plot_path)
            check_writable_file(plot_path)
        doc = run_compare_train_command(kw, jobs_, cluster_)
        if plot_path:
            from ..rendering.figures import save_figure
            from ..rendering.train_plots import compare_train_figure

            save_figure(compare_train_figure(doc), plot_path, dpi or 100)
    emit_compare_train(doc, fmt, no_headers)
    return 0


def run_compare_train_command(kw: dict[str, Any], jobs: int = 1, cluster: str | None = None) -> dict[str, Any]:
    """The parsed options of `compare --train` (grid options as lists of lists) -> the compare-train
    document (a progress bar on a terminal)."""
    from ..compare_train import run_compare_train
    from .common import progress_bar

    kw = dict(kw)
    batchnorm_both = kw.pop("batchnorm_both", False)
    if batchnorm_both and kw.get("batchnorm"):
        raise click.UsageError("--batchnorm-both already trains every run with and without batch norm;"
                               " drop --batchnorm")
    ctx = click.get_current_context()
    grid: dict[str, list[Any]] = {}
    for k in GRID_OPTIONS:
        if k in kw:
            values = [v for vs in kw.pop(k) for v in vs]
            if values:
                grid[k] = values
            else:  # not given: the train command's default
                p = next(p for p in _train_command().params if p.name == k)
                kw[k] = p.get_default(ctx)
    if batchnorm_both:
        grid["batchnorm"] = [False, True]
    configs = [_build_config(dict(one)) for one in expand_kw(kw, grid)]
    with progress_bar(len(configs), "runs", min_total=2) as on_done:
        return run_compare_train(configs, jobs=jobs, cluster=cluster, on_done=on_done)


def emit_compare_train(doc: dict[str, Any], fmt: str, no_headers: bool) -> None:
    import sys

    from ..rendering.compare_train import compare_train_records, render_compare_train_table

    if fmt == "table":
        render_compare_train_table(doc, sys.stdout)
        return
    from ..rendering.records import RENDERERS

    sys.stdout.write(RENDERERS[fmt](doc, compare_train_records(doc), not no_headers))


# --- the gallery's training cases --------------------------------------------------------------------

OUTPUT_KEYS = ("fmt", "no_headers", "fail_on", "hist_path", "plot_path", "dpi", "jobs", "cluster", "progress")


def train_argv_doc(argv: list[str]) -> dict[str, Any]:
    """The train document of `actstat train ARGV`."""
    with _train_command().make_context("train", list(argv)) as ctx:
        params = {k: v for k, v in ctx.params.items() if k not in OUTPUT_KEYS}
        return _run_training(params)


def compare_train_argv_doc(argv: list[str], jobs: int = 1) -> dict[str, Any]:
    """The compare-train document of `actstat compare --train ARGV` (on ``jobs`` local processes)."""
    cmd = compare_train_command()
    with cmd.make_context("compare", [a for a in argv if a != "--train"]) as ctx:
        params = {k: v for k, v in ctx.params.items() if k not in OUTPUT_KEYS}
        return run_compare_train_command(params, jobs)


def _register() -> None:
    for name, form, what in (("report", report_train_command, "write a training report directory"),
                             ("compare", compare_train_command, "train every combination of the values")):
        base = cli.commands.get(name)
        if base is not None and not isinstance(base, TrainForm):
            cli.commands[name] = TrainForm(base, form, what)


_register()
