"""actstat train: train the probe's network on a labelled data set and watch the statistics over time."""

from __future__ import annotations

import sys
from typing import Any

import click

from .app import CONTEXT, EXIT_FAIL_ON, EXIT_INTERRUPTED, Interrupted, cli, core_errors
from .common import check_pictures, progress_bar
from .options import (
    NameSpec,
    _with_options,
    analysis_options,
    config_option,
    format_options,
    network_option_list,
)

TRAIN_DEFAULT_LAYERS = 5
TRAIN_DEFAULT_WIDTH = 100


def _optimizer_lookup(s: str) -> Any:
    from ..training.optimizers import parse_optimizer

    return parse_optimizer(s)


class DataType(click.ParamType):
    """spiral|blobs|teacher|digits, FILE.npz/.csv/.tsv, or mnist:DIR."""

    name = "spiral|blobs|teacher|digits|FILE|mnist:DIR"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from pathlib import Path

        from ..errors import UnknownNameError
        from ..training.datasets import SYNTHETIC

        v = str(value).strip()
        if v.lower() in SYNTHETIC or v.lower().startswith("mnist:") or Path(v).suffix.lower() in (".npz", ".csv",
                                                                                                   ".tsv"):
            return v
        self.fail(f"{UnknownNameError('data set', v, [*SYNTHETIC, 'mnist:DIR'])}, or a .npz/.csv/.tsv file",
                  param, ctx)


class TrainThresholdType(click.ParamType):
    """KIND=VALUE for the babysitting thresholds (actstat.training.verdicts)."""

    name = "kind=value"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, float]:
        from ..training.verdicts import TRAIN_THRESHOLDS

        if isinstance(value, tuple):
            return value
        k, eq, v = str(value).partition("=")
        k = k.strip()
        if not eq or k not in TRAIN_THRESHOLDS:
            self.fail(f"'{value}': expected KIND=VALUE with KIND one of {', '.join(TRAIN_THRESHOLDS)}", param, ctx)
        try:
            f = float(v)
        except ValueError:
            self.fail(f"'{value}': '{v}' is not a number", param, ctx)
        if not f >= 0 or f == float("inf"):
            self.fail(f"'{value}': thresholds are finite and >= 0", param, ctx)
        return k, f


def _params_of(options: list[Any]) -> list[click.Parameter]:
    def noop() -> None:
        pass

    for deco in reversed(options):
        noop = deco(noop)
    return list(reversed(getattr(noop, "__click_params__", [])))


def network_train_options() -> list[Any]:
    """probe's network options (the same types and checks), without the probe batch and the random
    input: training takes its batches from --data."""
    return [o for o in network_option_list(force=True) if _params_of([o])[0].name not in ("batch", "input_kind")]


TRAIN_HELP = {
    "layers": f"Hidden layers.  [default: {TRAIN_DEFAULT_LAYERS}, or the length of --widths]",
    "width": f"Units per hidden layer.  [default: {TRAIN_DEFAULT_WIDTH}]",
    "input_dim": "Features of --data blobs/teacher (2 and 20 by default); for other data a check.  [default: the"
                 " data's]",
    "preprocess": "Per-feature input preprocessing, its statistics from the training split only (standardize is"
                  " the usual choice; none keeps a raw-scale problem visible).",
}


def train_option_list() -> list[Any]:
    return [
        click.option("--data", type=DataType(), default="spiral", show_default=True,
                     help="spiral (CS231n), blobs, teacher (labels of a random network), digits (scikit-learn's"
                     " 8x8 digits), FILE.npz (X, y), FILE.csv/.tsv (with a label column) or mnist:DIR (IDX files)."),
        click.option("--label-column", default=None,
                     help="The label column of a .csv/.tsv: a header name or a 1-based number.  [default: label]"),
        click.option("--classes", type=click.IntRange(2, 100_000), default=None,
                     help="Classes of spiral/blobs/teacher (default 3); for files, a bound the labels must respect."),
        click.option("--examples", type=click.IntRange(min=2), default=None,
                     help="Examples of spiral/blobs/teacher.  [default: 1000]"),
        click.option("--train-size", type=click.IntRange(min=1), default=None,
                     help="Keep only this many training examples (the notes' overfitting experiment uses 300)."),
        click.option("--val-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.2, show_default=True,
                     help="Share of the examples held out for validation (mnist: the t10k files when present)."),
        click.option("--optimizer", type=NameSpec("optimizer", _optimizer_lookup), default="sgd", show_default=True,
                     help="sgd, momentum[:alpha], nesterov[:alpha], adagrad, rmsprop[:rho], adadelta[:rho] or"
                     " adam[:b1], each as the lecture writes it (formulas: 'actstat list')."),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Learning rate.  [default: 0.01 for sgd, momentum, nesterov, adagrad; 0.001 for rmsprop,"
                     " adam; 1 for adadelta]"),
        click.option("--weight-decay", type=click.FloatRange(min=0), default=0.0, show_default=True,
                     help="L2 regularisation lambda: 0.5 * lambda * ||W||^2 added to the loss for every W."),
        click.option("--batch-size", type=click.IntRange(min=1), default=None,
                     help="Mini-batch size.  [default: 100, or the training set if smaller]"),
        click.option("--epochs", type=click.IntRange(min=1), default=None,
                     help="Passes over the training set.  [default: 10 unless --steps]"),
        click.option("--steps", type=click.IntRange(min=0), default=None, help="Updates to make (instead of --epochs)."),
        click.option("--every", type=click.IntRange(min=1), default=None,
                     help="Statistics every K steps.  [default: about 40 log-spaced checkpoints, every early step]"),
        click.option("--overfit", type=click.IntRange(min=1), default=None,
                     help="Train on only N examples and expect ~100% training accuracy (the babysitting check)."),
        click.option("--eval-size", type=click.IntRange(min=1), default=200, show_default=True,
                     help="Examples (training and validation, each) the checkpoints evaluate; the final figures"
                     " use every example."),
    ]


def babysit_option_list() -> list[Any]:
    keep = [p for p in analysis_options() if _params_of([p])[0].name in ("bins", "hist_range")]
    return keep + [
        click.option("--threshold", "thresholds", type=TrainThresholdType(), multiple=True,
                     help="Override a babysitting threshold, e.g. --threshold update_ratio_high=0.05 (repeatable;"
                     " the kinds are in the JSON's thresholds)."),
        click.option("--fail-on", default=None,
                     help="Exit with status 3 if a warning of these kinds fires: loss_exploded,cannot_overfit,..."
                     " or any."),
    ]


def picture_option_list() -> list[Any]:
    return [
        click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
                     help="Write the loss and accuracy curves, per-layer std over steps and log10 update ratio with"
                     " the 1e-3 guide (.png, .svg or .pdf)."),
        click.option("--hist", "hist_path", type=click.Path(dir_okay=False), default=None,
                     help="Write per layer the histogram of activations over time as a heat map (fastai's"
                     " colourful dimension)."),
        click.option("--dpi", type=click.IntRange(20, 1200), default=None,
                     help="Resolution of --plot/--hist pictures.  [default: 100]"),
        click.option("--progress/--no-progress", default=True, show_default=True,
                     help="A progress bar with the step and the loss (only ever on a terminal)."),
    ]


def build_train_config(kw: dict[str, Any]) -> Any:
    """TrainConfig from the parsed options (pops what it uses)."""
    from ..training import TrainConfig

    layers, width, widths = kw.pop("layers"), kw.pop("width"), kw.pop("widths")
    if widths is not None:
        if width is not None:
            raise click.UsageError("give --width or --widths, not both")
        if layers is not None and layers != len(widths):
            raise click.UsageError(f"--widths has {len(widths)} entries but --layers is {layers}")
    else:
        widths = (width or TRAIN_DEFAULT_WIDTH,) * (layers or TRAIN_DEFAULT_LAYERS)
    if kw.get("epochs") is not None and kw.get("steps") is not None:
        raise click.UsageError("give --epochs or --steps, not both")
    names = ("input_dim", "act", "init", "gain", "bias_std", "batchnorm", "dropout", "dropout_mode", "preprocess",
             "seed", "dtype", "bins", "hist_range", "force", "data", "label_column", "classes", "examples",
             "train_size", "val_fraction", "optimizer", "lr", "weight_decay", "batch_size", "epochs", "steps",
             "every", "overfit", "eval_size")
    fields = {k: kw.pop(k) for k in names if k in kw}
    return TrainConfig(widths=tuple(widths), thresholds=dict(kw.pop("thresholds", ())), **fields)


def run_train_command(kw: dict[str, Any], on_checkpoint: Any = None, on_start: Any = None) -> dict[str, Any]:
    """Options -> the training document, with a progress bar (step and loss) on a terminal."""
    from ..training import train

    progress = kw.pop("progress", True)
    cfg = build_train_config(kw)
    with progress_bar(2, "training", min_total=2 if progress else 3) as advance:
        def on_step(step: int, total: int, loss: float) -> None:
            advance(step, total, f"loss {loss:.4g}")  # type: ignore[misc]

        return train(cfg, on_checkpoint=on_checkpoint, on_start=on_start,
                     on_step=on_step if advance is not None else None)


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


@cli.command(context_settings=CONTEXT)
@config_option
@_with_options(network_train_options())
@_with_options(train_option_list())
@_with_options(babysit_option_list())
@_with_options(format_options())
@_with_options(picture_option_list())
def train(fmt: str, no_headers: bool, fail_on: str | None, plot_path: str | None, hist_path: str | None,
          dpi: int | None, **kw: Any) -> int:
    """Train the network on labelled data and report the statistics over training, with babysitting verdicts.

    The network is probe's (every network option) plus an output layer of C classes with softmax
    cross-entropy. At each checkpoint (log-spaced by default, or --every K): the loss, training and
    validation accuracy, and per layer the activation statistics, the RMS of dL/dh, the weight RMS and
    the update ratio ||dW|| / ||W|| of the update actually applied. Then the lecture's babysitting
    warnings: initial_loss, loss_not_decreasing, loss_exploded (training stops early at NaN or 3x the
    initial loss), cannot_overfit (--overfit N), overfitting, update_ratio, dying_units,
    saturation_developing, vanishing_gradient.

    \b
    Examples:
        actstat train --data spiral --layers 2 --width 100 --optimizer momentum --lr 0.1 --steps 500
        actstat train --data digits --preprocess standardize --optimizer adam --epochs 5
        actstat train --data digits --init normal:0.01 --steps 300 --format ndjson
        actstat train --data digits --overfit 20 --optimizer adam --steps 200
        actstat train --data digits --lr 1e6 --steps 100
    """
    from ..training.verdicts import TRAIN_KINDS
    from .options import parse_fail_on

    if dpi is not None and not (plot_path or hist_path):
        raise click.UsageError("--dpi needs --plot or --hist")
    fail_kinds = parse_fail_on(fail_on, TRAIN_KINDS)
    stream = fmt == "ndjson"
    seen: list[int] = []

    def on_start(head: dict[str, Any]) -> None:
        from ..rendering.train_records import header_line

        if not no_headers:
            _write(header_line(head))

    def on_checkpoint(rec: dict[str, Any]) -> None:
        from ..rendering.train_records import checkpoint_line

        seen.append(rec["step"])
        _write(checkpoint_line(rec))

    with core_errors():
        pictures = check_pictures(plot=plot_path, hist=hist_path)
        try:
            doc = run_train_command(kw, on_checkpoint if stream else None, on_start if stream else None)
        except Interrupted as e:
            if not (stream and seen):
                raise
            signum = getattr(e, "signum", None)  # (Terminated: SIGTERM or SIGHUP, exit 128 + its number)
            word = "Interrupted" if signum is None else "Terminated"
            click.echo(f"{word} after the checkpoint at step {seen[-1]}: the NDJSON lines written so far"
                       " are complete; nothing else was written.", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED if signum is None else 128 + signum) from None
        if pictures:
            from ..rendering.figures import save_figure
            from ..rendering.train_plots import train_hist_figure, train_plot_figure

            if "plot" in pictures:
                save_figure(train_plot_figure(doc), pictures["plot"], dpi or 100)
            if "hist" in pictures:
                save_figure(train_hist_figure(doc), pictures["hist"], dpi or 100)
    if fmt == "table":
        from ..rendering.train_table import render_train_table

        render_train_table(doc, sys.stdout)
    elif stream:
        from ..rendering.train_records import tail_lines

        _write(tail_lines(doc))
    else:
        from ..rendering.train_records import render_train

        _write(render_train(doc, fmt, not no_headers))
    return EXIT_FAIL_ON if any(w["kind"] in fail_kinds for w in doc["warnings"]) else 0


for _p in train.params:
    if _p.name in TRAIN_HELP:
        _p.help = TRAIN_HELP[_p.name]  # type: ignore[attr-defined]
