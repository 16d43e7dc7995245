"""actstat search: random hyperparameter search, coarse to fine, over any `train` option."""

from __future__ import annotations

import sys
from typing import Any

import click

from .app import CONTEXT, cli, core_errors
from .common import progress_bar
from .executing import executor_options, resolve_executor
from .options import (
    NameSpec, RangeType, WidthsType, _act_lookup, _init_lookup, _with_options, config_option,
)
from .train import DataType, TrainThresholdType

SEARCH_FORMATS = ("table", "json", "ndjson", "csv", "tsv")

# searchable options take a range LO:HI, log:LO:HI, lin:LO:HI, a list A,B,... or one value (as text)
SEARCHABLE_OPTIONS = [
    click.option("--lr", default=None, help="Learning rate: LO:HI (log-uniform), a list, or one value."
                 "  [default: the optimiser's]"),
    click.option("--weight-decay", default="0", show_default=True,
                 help="L2 strength lambda: LO:HI (log-uniform), a list, or one value."),
    click.option("--optimizer", default="sgd", show_default=True,
                 help="Optimiser NAME[:PARAM], or a list (sgd,momentum:0.9,adam)."),
    click.option("--dropout", default="0", show_default=True, help="Drop probability: LO:HI (uniform), list, value."),
    click.option("--batch-size", default=None, help="Mini-batch size: LO:HI (uniform integers), list, value."
                 "  [default: 100, or the training set if smaller]"),
    click.option("--gain", default="1", show_default=True, help="Init gain: LO:HI (uniform), list, value."),
    click.option("--bias-std", default="0", show_default=True, help="Bias std: LO:HI (uniform), list, value."),
    click.option("--width", default=None, help="Units per hidden layer: LO:HI (integers), list, value.  [default: 100]"),
    click.option("--layers", default=None, help="Hidden layers: LO:HI (integers), list, value.  [default: 5]"),
    click.option("--act", default="relu", show_default=True, help="Activation, or a list (tanh,relu)."),
    click.option("--init", default="he", show_default=True, help="Initialiser, or a list (xavier,he)."),
]

TRAIN_OPTIONS = [
    click.option("--widths", type=WidthsType(), default=None,
                 help="Per-layer widths 100,50 or 100x5 (not with a searched --width/--layers)."),
    click.option("--batchnorm", is_flag=True, help="FC -> batch norm -> activation."),
    click.option("--dropout-mode", type=click.Choice(["inverted", "classic"]), default="inverted", show_default=True),
    click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                 help="Seed of the trials' draws and of every trial's data split, weights and batches."),
    click.option("--dtype", type=click.Choice(["float64", "float32"]), default="float64", show_default=True),
    click.option("--data", type=DataType(), default="spiral", show_default=True,
                 help="spiral, blobs, teacher, digits (pip install 'actstat[data]'), FILE.npz, FILE.csv/.tsv,"
                 " mnist:DIR."),
    click.option("--train-size", type=click.IntRange(min=1), default=None, help="Training examples to keep."),
    click.option("--val-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.2, show_default=True,
                 help="Share held out for validation (the trials are ranked on it)."),
    click.option("--preprocess", type=click.Choice(["none", "center", "standardize", "minmax"]), default="none",
                 show_default=True, help="Per-feature preprocessing, from the training split's statistics."),
    click.option("--classes", type=click.IntRange(2, 100_000), default=None, help="Classes of a synthetic set."),
    click.option("--examples", type=click.IntRange(min=2), default=None, help="Size of a synthetic set.  [default: 1000]"),
    click.option("--input-dim", type=click.IntRange(min=1), default=None,
                 help="Features of --data blobs/teacher (2 and 20 by default).  [default: the data's]"),
    click.option("--eval-size", type=click.IntRange(min=1), default=200, show_default=True,
                 help="Examples (training and validation, each) the checkpoints evaluate."),
    click.option("--label-column", default=None, help="CSV/TSV: the label column (name or number)."),
    click.option("--epochs", type=click.IntRange(min=1), default=None,
                 help="Stage 1's epochs (each later stage twice as many).  [default: 10]"),
    click.option("--steps", type=click.IntRange(min=0), default=None,
                 help="Stage 1's steps instead of epochs (each later stage twice as many)."),
    click.option("--every", type=click.IntRange(min=1), default=None,
                 help="Checkpoint every K steps (the learning curves).  [default: ~40 log-spaced]"),
    click.option("--overfit", type=click.IntRange(min=1), default=None, help="Train on the first N examples only."),
    click.option("--bins", type=click.IntRange(1, 10_000), default=30, show_default=True),
    click.option("--hist-range", type=RangeType(), default=None, help="Histogram range LO,HI."),
    click.option("--threshold", "thresholds", type=TrainThresholdType(), multiple=True,
                 help="Override a babysitting threshold, e.g. --threshold explode=5 (early stop at 5x the"
                 " initial loss; repeatable)."),
    click.option("--force", is_flag=True, help="Run even if the memory estimate exceeds what is available."),
]

SEARCH_OPTIONS = [
    click.option("--trials", type=click.IntRange(1, 100_000), default=16, show_default=True,
                 help="Trials per stage."),
    click.option("--stages", type=click.IntRange(1, 10), default=1, show_default=True,
                 help="Coarse to fine: each stage narrows the ranges around the best trials (widens one whose best"
                 " lies at its edge) and trains twice as long."),
    click.option("--top", type=click.IntRange(min=1), default=None, help="table: only the best N trials."),
    click.option("fmt", "-f", "--format", type=click.Choice(SEARCH_FORMATS), default="table", show_default=True,
                 envvar="ACTSTAT_FORMAT",
                 help="table: the ranked list; json: one document; ndjson: a header, one record per finished"
                 " trial as it finishes (in trial order), then the ranking; csv/tsv: one row per trial."),
    click.option("--no-headers", is_flag=True, help="csv/tsv/ndjson: leave out the header row/object."),
    click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
                 help="Picture (.png, .svg, .pdf): val acc over each pair of searched options (log axes for log"
                 " ranges, best trials starred) and the best trials' learning curves."),
    click.option("--dpi", type=click.IntRange(20, 1200), default=None, help="--plot resolution.  [default: 100]"),
]

_NUMBER_TYPES = {"lr": float, "weight_decay": float, "dropout": float, "gain": float, "bias_std": float,
                 "batch_size": int, "width": int, "layers": int}


def split_space(kw: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """The searched dimensions, and the single values of the searchable options (typed)."""
    from ..errors import ConfigError
    from ..search import SEARCHABLE, parse_dim

    space, fixed = [], {}
    for name in SEARCHABLE:
        text = kw.pop(name)
        if text is None:
            continue
        text = str(text)
        try:
            dim = parse_dim(name, text)
        except ConfigError as e:  # a usage error, at once
            raise click.BadParameter(str(e).split(": ", 1)[-1] if ": " in str(e) else str(e),
                                     param_hint=f"'--{name.replace('_', '-')}'") from None
        if dim is not None:
            space.append(dim)
            continue
        if name in _NUMBER_TYPES:
            try:
                fixed[name] = _NUMBER_TYPES[name](text)
            except ValueError:
                raise click.BadParameter(f"{text!r} is not a {'whole ' if _NUMBER_TYPES[name] is int else ''}number",
                                         param_hint=f"'--{name.replace('_', '-')}'") from None
        else:
            lookup = {"act": _act_lookup, "init": _init_lookup}.get(name)
            if lookup is not None:
                NameSpec(name, lookup).convert(text, None, None)
            fixed[name] = text
    return space, fixed


def build_train_config(kw: dict[str, Any], fixed: dict[str, Any], searched: set[str]) -> Any:
    """TrainConfig from the parsed options and the single values (pops what it uses)."""
    from ..training import TrainConfig

    widths = kw.pop("widths")
    width, layers = fixed.pop("width", None), fixed.pop("layers", None)
    if widths is not None:
        if width is not None or "width" in searched:
            raise click.UsageError("give --width or --widths, not both")
        if "layers" in searched or (layers is not None and layers != len(widths)):
            raise click.UsageError("--layers with --widths: give the widths or the depth, not both")
    else:
        widths = (width or 100,) * (layers or 5)
    if any(w < 1 for w in widths):
        raise click.UsageError("--width and --layers must be at least 1")
    thresholds = dict(kw.pop("thresholds"))
    return TrainConfig(widths=widths, thresholds=thresholds, **fixed, **kw)


@cli.command(context_settings=CONTEXT)
@config_option
@_with_options(SEARCHABLE_OPTIONS + TRAIN_OPTIONS + SEARCH_OPTIONS)
@executor_options("trials")
def search(trials: int, stages: int, top: int | None, fmt: str, no_headers: bool, plot_path: str | None,
           dpi: int | None, jobs: int | None, cluster: str | None, **kw: Any) -> int:
    """Random hyperparameter search (Bergstra and Bengio 2012), coarse to fine, ranked by validation accuracy.

    Give a range LO:HI (lr and weight decay: log-uniform; others: uniform; log:LO:HI or lin:LO:HI to
    choose) or a list A,B,C to search an option; one value fixes it. Every trial trains with the same
    seed (same data split and initial weights), and a run whose loss passes 3x its initial value stops
    early and ranks last. The same command gives the same trials and results whatever --jobs/--cluster.

    \b
    Examples:
        actstat search --data blobs --lr 1e-6:1e-2 --weight-decay 1e-8:1e-4 --trials 16 --epochs 2
        actstat search --data digits --lr 1e-4:1 --optimizer sgd,momentum:0.9,adam --stages 3 --plot s.png
    """
    from ..search import run_search

    jobs, cluster = resolve_executor(jobs, cluster)
    if dpi is not None and plot_path is None:
        raise click.UsageError("--dpi needs --plot")
    if top is not None and fmt != "table":
        raise click.UsageError("--top is for --format table (the other formats hold every trial)")
    space, fixed = split_space(kw)
    base = build_train_config(kw, fixed, {d.name for d in space})
    with core_errors():
        if plot_path:
            from ..fileio import check_writable_file
            from ..rendering.figures import picture_type

            check_writable_file(plot_path)
            picture_type(plot_path)
        on_trial = None
        if fmt == "ndjson":
            from ..rendering import search_output as out

            started = [False]

            def on_trial(rec: dict[str, Any]) -> None:
                if not started[0] and not no_headers:
                    sys.stdout.write(out.search_header(trials, stages, [d.name for d in space], base.seed))
                started[0] = True
                sys.stdout.write(out.trial_line(rec))
                sys.stdout.flush()

        with progress_bar(trials * stages, "trials", min_total=2) as on_done:
            doc = run_search(base, space, trials=trials, stages=stages, jobs=jobs, cluster=cluster,
                             on_trial=on_trial, on_done=on_done)
        if plot_path:
            from ..rendering.figures import save_figure
            from ..rendering.search_plots import search_figure

            save_figure(search_figure(doc), plot_path, dpi or 100)
    from ..rendering import search_output as out

    if fmt == "table":
        sys.stdout.write(out.search_table(doc, top))
    elif fmt == "json":
        from ..rendering.records import to_json

        sys.stdout.write(to_json(doc) + "\n")
    elif fmt == "ndjson":
        sys.stdout.write(out.ranking_line(doc))
    else:
        sys.stdout.write(out.search_delimited(doc, fmt == "tsv", not no_headers))
    return 0
