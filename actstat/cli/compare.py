"""actstat compare: a grid of configurations, one row each."""

from __future__ import annotations

from typing import Any

import click

from .app import CONTEXT, EXIT_FAIL_ON, cli, core_errors
from .common import _input_kinds, check_grad_options, emit, progress_bar, replace_cfg, user_input
from .executing import executor_options, resolve_executor
from .options import (
    MAX_LAYERS, MAX_WIDTH, Choice, InputType, ListOf, NameSpec, WidthsType, _act_lookup, _init_lookup, _with_options, build_config,
    config_option, grad_options, parse_fail_on, seeds_option_list, stats_options,
)


COMPARE_GRID = [
    click.option("--act", "act", type=ListOf(NameSpec("act", _act_lookup)), multiple=True,
                 help="Activations to compare (repeatable or comma-separated).  [default: relu]"),
    click.option("--init", "init", type=ListOf(NameSpec("init", _init_lookup)), multiple=True,
                 help="Initialisers to compare.  [default: he]"),
    click.option("--layers", type=ListOf(click.IntRange(1, MAX_LAYERS)), multiple=True, help="Depths.  [default: 10]"),
    click.option("--width", type=ListOf(click.IntRange(1, MAX_WIDTH)), multiple=True, help="Widths.  [default: 500]"),
    click.option("--widths", type=WidthsType(), default=None,
                 help="Per-layer widths for every configuration: 500,250,100 or 500x10 (not with --width)."),
    click.option("--dropout", type=ListOf(click.FloatRange(0, 1, max_open=True)), multiple=True,
                 help="Dropout probabilities.  [default: 0]"),
    click.option("--bias-std", type=ListOf(click.FloatRange(min=0)), multiple=True, help="Bias stds.  [default: 0]"),
    click.option("--gain", type=ListOf(click.FloatRange(min=0, min_open=True)), multiple=True,
                 help="Init gains.  [default: 1]"),
    click.option("--dtype", type=ListOf(Choice(["float64", "float32"])), multiple=True,
                 help="Precisions.  [default: float64]"),
    click.option("--batchnorm", is_flag=True, help="Batch norm in every configuration."),
    click.option("--batchnorm-both", is_flag=True, help="Every configuration with and without batch norm."),
]


@cli.command(context_settings=CONTEXT)
@config_option
@_with_options(COMPARE_GRID)
@_with_options([
    click.option("--input-dim", type=click.IntRange(1, MAX_WIDTH), default=None,
                 help="Input dimension.  [default: the first width]"),
    click.option("--batch", type=click.IntRange(min=1), default=None,
                 help="Examples in the probe batch.  [default: 1000, or every row of an --input file]"),
    click.option("--dropout-mode", type=Choice(["inverted", "classic"]), default="inverted", show_default=True),
    click.option("--input", "input_kind", type=InputType(), default="normal", show_default=True,
                 help="normal, uniform, positive, or a .npy/.csv/.tsv file, or - (CSV on stdin)."),
    click.option("--preprocess", type=Choice(["none", "center", "standardize", "minmax"]), default="none",
                 show_default=True),
    click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                 help="One seed for every configuration: the same input batch for all."),
    click.option("--force", is_flag=True, help="Run even if the memory estimate exceeds what is available."),
    click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
                 help="Overlay std against depth for every configuration (.png, .svg or .pdf)."),
    click.option("--log", "log_scale", is_flag=True, help="--plot: log-scale std axis."),
    click.option("--dpi", type=click.IntRange(20, 1200), default=None, help="--plot resolution.  [default: 100]"),
])
@executor_options("configurations")
@_with_options(seeds_option_list(jobs=False, suggest=False))
@grad_options
@stats_options
def compare(fmt: str, no_headers: bool, fail_on: str | None, jobs: int | None, cluster: str | None,
            plot_path: str | None, log_scale: bool, dpi: int | None, seeds: int, **kw: Any) -> int:
    """Probe every combination of the given values and summarise each configuration in one row.

    Each configuration is probed with the same seed and the same input batch. Rows: the
    configuration, input std, first and last layer std, min std over the layers, max
    saturated %, max dead %, the first layer with a warning, and the warning kinds.
    With --seeds N each configuration is drawn with seeds S..S+N-1: medians, and
    --fail-on fails on a kind that fired in more than half of a configuration's seeds.

    \b
    Examples:
        actstat compare --act tanh,relu --init xavier,he --layers 10
        actstat compare --init normal:0.01,xavier,he --act relu --batchnorm-both --format csv
    """
    from ..compare import expand, run_compare
    from ..diagnostics import FORWARD_KINDS, GRADIENT_KINDS

    jobs, cluster = resolve_executor(jobs, cluster)
    fail_kinds = parse_fail_on(fail_on, FORWARD_KINDS + GRADIENT_KINDS)
    check_grad_options(kw, fail_kinds)
    if dpi is not None and plot_path is None:
        raise click.UsageError("--dpi needs --plot")
    if log_scale and plot_path is None:
        raise click.UsageError("--log needs --plot")
    grid = {k: [v for vs in kw.pop(k) for v in vs] for k in
            ("act", "init", "layers", "width", "dropout", "bias_std", "gain", "dtype")}
    widths = kw.pop("widths")
    if widths is not None:  # one per-layer spec for every configuration (the layers follow from it)
        if grid["width"]:
            raise click.UsageError("give --width or --widths, not both")
        if any(n != len(widths) for n in grid["layers"]):
            raise click.UsageError(f"--widths has {len(widths)} entries but --layers is "
                                   + ",".join(map(str, grid["layers"])))
        grid["layers"] = []
    both = kw.pop("batchnorm_both")
    bn = kw.pop("batchnorm")
    grid["batchnorm"] = [False, True] if both else [bn]
    base_kw = {**kw, "layers": None, "width": None, "widths": widths, "act": "relu", "init": "he", "gain": 1.0,
               "bias_std": 0.0, "dropout": 0.0, "dtype": "float64", "batchnorm": False}
    batch_given = kw["batch"] is not None
    base = build_config(base_kw)
    configs = expand(base, grid)
    with core_errors():
        if plot_path:
            from ..fileio import check_writable_file
            from ..rendering.figures import picture_type

            check_writable_file(plot_path)
            picture_type(plot_path)
        x = None
        if base.input not in _input_kinds():
            fitted, x = user_input(configs[0], batch_given)
            configs = [replace_cfg(c, input_dim=fitted.input_dim, batch=fitted.batch) for c in configs]
        with progress_bar(len(configs) * seeds, "probes", min_total=4) as on_done:
            doc = run_compare(configs, x, jobs, on_done, cluster=cluster, seeds=seeds)
        if plot_path:
            from ..rendering.plots import compare_figure
            from ..rendering.figures import save_figure

            save_figure(compare_figure(doc, log_scale), plot_path, dpi or 100)
            click.echo(f"wrote {plot_path}", err=True)
    emit(doc, fmt, no_headers, "compare")
    if seeds > 1:  # a kind that fired in more than half of a configuration's seeds (actstat.seeds.FAIL_RULE)
        failed = any(2 * r["seeds_fired"].get(k, 0) > seeds for r in doc["configs"] for k in fail_kinds)
    else:
        failed = any(w["kind"] in fail_kinds for w in doc["warnings"])
    return EXIT_FAIL_ON if failed else 0
