"""actstat trainability: train over a sigma_w x depth grid and set the map against 6 xi_c."""

from __future__ import annotations

import math
import sys
from typing import Any

import click

from .app import CONTEXT, cli, core_errors
from .common import progress_bar
from .executing import executor_options, resolve_executor
from .options import NameSpec, _act_lookup, _with_options, config_option
from .train import DataType, TrainThresholdType

FORMATS = ("table", "json", "ndjson", "csv", "tsv")
DEFAULT_SIGMA_W = "1.0:4.0:7"
DEFAULT_LAYERS = "10:60:6"

TRAINABILITY_OPTIONS = [
    click.option("--sigma-w", "sigma_w", default=DEFAULT_SIGMA_W, show_default=True,
                 help="sigma_w values: LO:HI:N (N evenly spaced, ends included) or a list; W ~ N(0, sigma_w^2/fan_in)."),
    click.option("--layers", default=DEFAULT_LAYERS, show_default=True, help="Depths: LO:HI:N or a list."),
    click.option("--width", type=click.IntRange(1, 100_000), default=32, show_default=True,
                 help="Units per hidden layer."),
    click.option("--act", "act", type=NameSpec("act", _act_lookup), default="tanh", show_default=True,
                 help="Activation (any with a mean-field theory: not maxout)."),
    click.option("--bias-std", type=click.FloatRange(min=0), default=math.sqrt(0.05), show_default="sqrt(0.05)",
                 help="sigma_b: b ~ N(0, sigma_b^2); the paper's sigma_b^2 = 0.05."),
    click.option("--batchnorm", is_flag=True, help="FC -> batch norm -> activation (the theory assumes none)."),
    click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True),
    click.option("--dropout-mode", type=click.Choice(["inverted", "classic"]), default="inverted", show_default=True),
    click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                 help="One seed for every cell: the same data split and batches."),
    click.option("--dtype", type=click.Choice(["float64", "float32"]), default="float64", show_default=True),
    click.option("--data", type=DataType(), default="blobs", show_default=True,
                 help="spiral, blobs, teacher, digits, FILE.npz, FILE.csv/.tsv, mnist:DIR."),
    click.option("--train-size", type=click.IntRange(min=1), default=None),
    click.option("--val-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.2, show_default=True),
    click.option("--preprocess", type=click.Choice(["none", "center", "standardize", "minmax"]), default="none",
                 show_default=True),
    click.option("--classes", type=click.IntRange(2, 100_000), default=None, help="Classes of a synthetic set."),
    click.option("--examples", type=click.IntRange(min=2), default=None, help="Size of a synthetic set."),
    click.option("--input-dim", type=click.IntRange(min=1), default=None,
                 help="Features of --data blobs/teacher (2 and 20 by default).  [default: the data's]"),
    click.option("--eval-size", type=click.IntRange(min=1), default=200, show_default=True,
                 help="Examples (training and validation, each) the checkpoints evaluate."),
    click.option("--label-column", default=None, help="CSV/TSV: the label column."),
    click.option("--optimizer", default="adam", show_default=True, help="Optimiser NAME[:PARAM]."),
    click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=3e-3, show_default=True),
    click.option("--weight-decay", type=click.FloatRange(min=0), default=0.0, show_default=True),
    click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True),
    click.option("--steps", type=click.IntRange(min=1), default=150, show_default=True,
                 help="Training steps of every cell."),
    click.option("--epochs", type=click.IntRange(min=1), default=None, help="Epochs instead of --steps."),
    click.option("--overfit", type=click.IntRange(min=1), default=None),
    click.option("--threshold", "thresholds", type=TrainThresholdType(), multiple=True,
                 help="Override a babysitting threshold, e.g. explode=5 (repeatable)."),
    click.option("--trained-at", "trained_at", type=click.FloatRange(0, 1), default=None,
                 help="A cell trains when its final training accuracy reaches this.  [default: half way from"
                 " chance to the best cell, at least chance + 0.05]"),
    click.option("--metric", type=click.Choice(["train_acc", "loss"]), default="train_acc", show_default=True,
                 help="What the table and the heat map show."),
    click.option("--force", is_flag=True, help="Run even if the memory estimate exceeds what is available."),
    click.option("fmt", "-f", "--format", type=click.Choice(FORMATS), default="table", show_default=True,
                 envvar="ACTSTAT_FORMAT",
                 help="table: the grid with the prediction; json: one document; ndjson: a header (grid, theory,"
                 " boundary), one object per cell, the summary; csv/tsv: one row per cell."),
    click.option("--no-headers", is_flag=True, help="csv/tsv/ndjson: leave out the header row/object."),
    click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
                 help="Heat map (.png, .svg, .pdf) with the 6 xi_c curve and the critical sigma_w."),
    click.option("--dpi", type=click.IntRange(20, 1200), default=None, help="--plot resolution.  [default: 100]"),
]


@cli.command(context_settings=CONTEXT)
@config_option
@_with_options(TRAINABILITY_OPTIONS)
@executor_options("cells")
def trainability(sigma_w: str, layers: str, width: int, trained_at: float | None, metric: str, fmt: str,
                 no_headers: bool, plot_path: str | None, dpi: int | None, jobs: int | None, cluster: str | None,
                 **kw: Any) -> int:
    """Train one network over a grid of sigma_w x depth and compare with theory: trainable below 6 xi_c.

    Schoenholz et al. 2017: a network trains only while its depth is below about 6 xi_c, the
    correlation depth scale, which diverges at the critical sigma_w. Every cell has W ~ N(0,
    sigma_w^2/fan_in), b ~ N(0, sigma_b^2) and the same seed, trained for the same number of steps.

    \b
    Examples:
        actstat trainability
        actstat trainability --sigma-w 1.0:4.0:13 --layers 10:100:10 --plot map.png --format json
    """
    from ..errors import ConfigError
    from ..trainability import parse_grid, run_trainability
    from ..training import TrainConfig

    jobs, cluster = resolve_executor(jobs, cluster)
    if dpi is not None and plot_path is None:
        raise click.UsageError("--dpi needs --plot")
    if kw["epochs"] is not None:
        if click.get_current_context().get_parameter_source("steps").name != "DEFAULT":
            raise click.UsageError("give --steps or --epochs, not both")
        kw["steps"] = None
    try:
        sws = parse_grid(sigma_w, "sigma-w", False, 0.0)
        depths = parse_grid(layers, "layers", True, 1)
    except ConfigError as e:
        raise click.UsageError(str(e)) from None
    thresholds = dict(kw.pop("thresholds"))
    # statistics only at the first and the last step: the map needs the final figures alone
    base = TrainConfig(widths=(width,), thresholds=thresholds, every=10_000_000, **kw)
    with core_errors():
        if plot_path:
            from ..fileio import check_writable_file
            from ..rendering.figures import picture_type

            check_writable_file(plot_path)
            picture_type(plot_path)
        with progress_bar(len(sws) * len(depths), "cells", min_total=2) as on_done:
            doc = run_trainability(base, sws, depths, width, threshold=trained_at, jobs=jobs, cluster=cluster,
                                   on_done=on_done)
        if plot_path:
            from ..rendering.figures import save_figure
            from ..rendering.search_plots import trainability_figure

            save_figure(trainability_figure(doc, metric), plot_path, dpi or 100)
    from ..rendering import search_output as out

    if fmt == "table":
        sys.stdout.write(out.trainability_table(doc, metric))
    elif fmt == "json":
        from ..rendering.records import to_json

        sys.stdout.write(to_json(doc) + "\n")
    elif fmt == "ndjson":
        sys.stdout.write(out.trainability_ndjson(doc, not no_headers))
    else:
        sys.stdout.write(out.trainability_delimited(doc, fmt == "tsv", not no_headers))
    return 0
