"""Parameter types, the option bundles that several commands share, and --config."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from ..errors import ConfigError

GRID_LAYERS = 30  # rendering.plots.GRID_LAYERS (not imported here: no matplotlib-side import at start-up)
FORMATS = ("table", "json", "ndjson", "csv", "tsv", "markdown")
# probe.MAX_LAYERS and probe.MAX_WIDTH (not imported: probe pulls in numpy; a test keeps them equal). Checked at
# parse time, so that no widths tuple of an impossible size is ever built.
MAX_LAYERS = 100_000
MAX_WIDTH = 10_000_000
MAX_CONFIG_BYTES = 1 << 20


class NameSpec(click.ParamType):
    """NAME[:PARAM] checked against a registry at parse time."""

    def __init__(self, what: str, lookup: Callable[[str], Any]) -> None:
        self.name = what
        self.lookup = lookup

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            self.lookup(str(value))
        except ConfigError as e:
            self.fail(str(e), param, ctx)
        return str(value)


def _act_lookup(s: str) -> Any:
    from ..activations import get_activation

    return get_activation(s)


def _init_lookup(s: str) -> Any:
    from ..initializers import get_initializer

    return get_initializer(s)


def did_you_mean(word: str, valid: Any) -> str:
    """' Did you mean 'x'?' for the closest valid name, or ''."""
    import difflib

    close = difflib.get_close_matches(str(word).lower(), [str(v) for v in valid], n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


class Choice(click.Choice):
    """click.Choice whose error names the closest valid choice, like the init and activation names."""

    def get_invalid_choice_message(self, value: Any, ctx: click.Context | None) -> str:
        return super().get_invalid_choice_message(value, ctx).rstrip() + did_you_mean(value, self.choices)


class WidthsType(click.ParamType):
    """``500,250,100`` or ``500x10`` (ten layers of 500)."""

    name = "widths"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        text = str(value).strip().lower()
        try:
            if "x" in text:
                w, _, n = text.partition("x")
                if not 1 <= int(n) <= MAX_LAYERS:
                    self.fail(f"'{value}': the number of layers must be from 1 to {MAX_LAYERS}", param, ctx)
                widths = (int(w),) * int(n)
            else:
                parts = text.split(",")
                if len(parts) > 1 and any(p.strip() == "" for p in parts):  # 10,,20 or 10,20, : a typo
                    self.fail(f"'{value}': an empty width between commas", param, ctx)
                widths = tuple(int(p) for p in parts)
        except ValueError:
            self.fail(f"'{value}' is not a list of widths like 500,250,100 or 500x10", param, ctx)
        if len(widths) > MAX_LAYERS:
            self.fail(f"'{value[:40]}...': the number of layers must be from 1 to {MAX_LAYERS}", param, ctx)
        if any(w > MAX_WIDTH for w in widths):
            self.fail(f"'{value}': every width must be from 1 to {MAX_WIDTH}", param, ctx)
        if not widths or any(w < 1 for w in widths):
            self.fail(f"'{value}': widths must be positive whole numbers", param, ctx)
        return widths


class InputType(click.ParamType):
    """normal|uniform|positive, or a data file (.npy/.csv/.tsv), or - for stdin."""

    name = "normal|uniform|positive|FILE|-"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from ..data import is_input_file
        from ..probe import INPUT_KINDS

        v = str(value)
        if v in INPUT_KINDS or is_input_file(v):
            return v
        self.fail(f"'{v}' is neither an input kind ({', '.join(INPUT_KINDS)}) nor a .npy/.csv/.tsv file", param, ctx)


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses nan and inf (which compare false with every bound)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        import math

        v = super().convert(value, param, ctx)
        if not math.isfinite(v):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return v


class RangeType(click.ParamType):
    name = "lo,hi"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[float, float]:
        if isinstance(value, tuple):
            return value
        try:
            lo, hi = (float(p) for p in str(value).split(","))
        except ValueError:
            self.fail(f"'{value}' is not a range like -1,1", param, ctx)
        if not lo < hi:
            self.fail(f"'{value}': LO must be below HI", param, ctx)
        return lo, hi


class ThresholdType(click.ParamType):
    name = "kind=value"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, float]:
        from ..diagnostics import THRESHOLDS

        if isinstance(value, tuple):
            return value
        k, eq, v = str(value).partition("=")
        k = k.strip()
        if not eq or k not in THRESHOLDS:
            self.fail(f"'{value}': expected KIND=VALUE with KIND one of {', '.join(THRESHOLDS)}", param, ctx)
        try:
            f = float(v)
        except ValueError:
            self.fail(f"'{value}': '{v}' is not a number", param, ctx)
        if not f >= 0 or f == float("inf"):
            self.fail(f"'{value}': thresholds are finite and >= 0", param, ctx)
        return k, f


class ListOf(click.ParamType):
    """Comma-separated values of ``inner`` (the option is also repeatable): 'tanh,relu'."""

    def __init__(self, inner: click.ParamType) -> None:
        self.inner = inner
        self.name = f"{inner.name}[,...]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list[Any]:
        if isinstance(value, list):
            return value
        parts = [p.strip() for p in str(value).split(",") if p.strip()]
        if not parts:
            self.fail(f"'{value}': give at least one value", param, ctx)
        return [self.inner.convert(p, param, ctx) for p in parts]


def _load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--config FILE.toml: defaults for any option of this command (the command line wins).
    Keys are the long option names, with dashes or underscores: act = "tanh", bias-std = 0.1,
    widths = [500, 250], threshold = {saturation = 0.5}, fail-on = ["vanishing", "dead"]."""
    if value is None:
        return None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(value, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)  # (never more: --config /dev/zero must not read forever)
        if len(raw) > MAX_CONFIG_BYTES:
            raise click.BadParameter(f"{value} is too large for a config file (over {MAX_CONFIG_BYTES >> 20} MiB)",
                                     ctx, param)
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as e:
        raise click.BadParameter(f"cannot read {value}: {e.strerror}", ctx, param) from None
    except UnicodeDecodeError as e:
        raise click.BadParameter(f"{value} is not UTF-8 text ({e.reason} at byte {e.start})", ctx, param) from None
    except tomllib.TOMLDecodeError as e:
        raise click.BadParameter(f"{value} is not valid TOML: {e}", ctx, param) from None
    by_key: dict[str, click.Parameter] = {}
    for p in ctx.command.params:
        for opt in getattr(p, "opts", []):
            if opt.startswith("--"):
                by_key[opt[2:].replace("-", "_")] = p
    defaults: dict[str, Any] = {}
    for key, v in data.items():
        p = by_key.get(key.replace("-", "_"))
        if p is None or p.name in ("config",):
            hint = did_you_mean(key.replace("-", "_"), [k for k in by_key if k != "config"]).replace("_", "-")
            raise click.BadParameter(f"{value}: unknown key '{key}' for 'actstat {ctx.command.name}'.{hint}",
                                     ctx, param)
        if isinstance(v, bool) and not getattr(p, "is_flag", False):  # (click would read true as 1)
            raise click.BadParameter(f"{value}: '{key}' takes a value, not {str(v).lower()}", ctx, param)
        if isinstance(v, dict):  # threshold = {saturation = 0.5}
            v = [f"{k}={x}" for k, x in v.items()]
        if isinstance(v, list) and not getattr(p, "multiple", False):
            v = ",".join(str(x) for x in v)
        elif getattr(p, "multiple", False) and not isinstance(v, list):
            v = [v]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = str(v)
        defaults[p.name] = v
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


config_option = click.option(
    "--config", type=click.Path(dir_okay=False), is_eager=True, expose_value=False, callback=_load_config,
    help="A TOML file of defaults for any option (keys: the long option names); the command line wins.",
)


def parse_fail_on(value: str | None, valid: tuple[str, ...]) -> frozenset[str]:
    """'vanishing,dead' or 'any' (every kind but the informational ones)."""
    from ..diagnostics import INFORMATIONAL

    if not value:
        return frozenset()
    kinds = {k.strip() for k in value.split(",") if k.strip()}
    if "any" in kinds:
        kinds.discard("any")
        kinds |= set(valid) - INFORMATIONAL
    bad = sorted(kinds - set(valid))
    if bad:
        raise click.BadParameter(f"unknown warning kind {', '.join(bad)}; valid: any, {', '.join(valid)}",
                                 param_hint="'--fail-on'")
    return frozenset(kinds)


# --- shared option bundles ------------------------------------------------------------


def _with_options(options: list[Callable[..., Any]]) -> Callable[..., Any]:
    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        for o in reversed(options):
            f = o(f)
        return f
    return deco


def network_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options that describe the network and its input (shared by every probing command)."""
    return _with_options(network_option_list())(f)


def network_option_list(force: bool = True) -> list[Callable[..., Any]]:
    opts = [
        click.option("--layers", type=click.IntRange(1, MAX_LAYERS), default=None,
                     help="Hidden layers.  [default: 10, or the length of --widths]"),
        click.option("--width", type=click.IntRange(1, MAX_WIDTH), default=None,
                     help="Units per hidden layer.  [default: 500]"),
        click.option("--widths", type=WidthsType(), default=None,
                     help="Per-layer widths: 500,250,100 or 500x10."),
        click.option("--input-dim", type=click.IntRange(1, MAX_WIDTH), default=None,
                     help="Input dimension.  [default: the first width]"),
        click.option("--batch", type=click.IntRange(min=1), default=None,
                     help="Examples in the probe batch.  [default: 1000, or every row of an --input file]"),
        click.option("--act", "act", type=NameSpec("act", _act_lookup), default="relu", show_default=True,
                     help="Activation NAME[:PARAM], e.g. tanh, leaky_relu:0.1, maxout:3 (see 'actstat list')."),
        click.option("--init", "init", type=NameSpec("init", _init_lookup), default="he", show_default=True,
                     help="Initialiser NAME[:PARAM], e.g. he, xavier, normal:0.01, orthogonal:1.0."),
        click.option("--gain", type=float, default=1.0, show_default=True, help="Multiplies any init."),
        click.option("--bias-std", type=click.FloatRange(min=0), default=0.0, show_default=True,
                     help="Std of N(0, s^2) biases (0: no bias)."),
        click.option("--batchnorm", is_flag=True, help="FC -> batch norm (training mode) -> activation."),
        click.option("--dropout", type=float, default=0.0, show_default=True,
                     help="Drop probability p after each activation."),
        click.option("--dropout-mode", type=Choice(["inverted", "classic"]), default="inverted",
                     show_default=True,
                     help="inverted: kept units scaled by 1/(1-p) now (modern frameworks); classic: no scaling"
                     " now, the lecture's (1-p) at test time."),
        click.option("--input", "input_kind", type=InputType(), default="normal", show_default=True,
                     help="Random input normal N(0,1), uniform U(-1,1) or positive U[0,1); or your data: a .npy,"
                     " .csv or .tsv file (rows = examples, header row auto-detected), or - for CSV on stdin."),
        click.option("--preprocess", type=Choice(["none", "center", "standardize", "minmax"]),
                     default="none", show_default=True,
                     help="Per-feature input preprocessing (none keeps a raw-scale problem visible)."),
        click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Seed of every random draw."),
        click.option("--dtype", type=Choice(["float64", "float32"]), default="float64", show_default=True),
    ]
    if force:
        opts.append(click.option("--force", is_flag=True,
                                 help="Run even if the memory estimate exceeds what is available."))
    return opts


def stats_options(f: Callable[..., Any]) -> Callable[..., Any]:
    return _with_options(analysis_options() + format_options())(f)


def analysis_options() -> list[Callable[..., Any]]:
    return [
        click.option("--bins", type=click.IntRange(1, 10_000), default=30, show_default=True,
                     help="Histogram bins per layer."),
        click.option("--hist-range", type=RangeType(), default=None,
                     help="Histogram range LO,HI.  [default: the activation's range if bounded, else the data's]"),
        click.option("--threshold", "thresholds", type=ThresholdType(), multiple=True,
                     help="Override a diagnosis threshold, e.g. --threshold saturation=0.5 (repeatable)."),
        click.option("--fail-on", default=None,
                     help="Exit with status 3 if a warning of these kinds fires: vanishing,dead,... or any."),
    ]


def seeds_option_list(jobs: bool = True, suggest: bool = True) -> list[Callable[..., Any]]:
    """--seeds N (and --suggest, --jobs): several seeds, one verdict (actstat.seeds, actstat.suggest)."""
    opts = [
        click.option("--seeds", type=click.IntRange(1, 1000), default=1, show_default=True,
                     help="Draw the network N times (seeds S..S+N-1): medians with their spread, each warning with"
                     " the seeds it fired in; --fail-on then fails on a kind that fired in more than half of them."),
    ]
    if suggest:
        opts.append(click.option(
            "--suggest", is_flag=True,
            help="Re-run the probe with each candidate fix (same seeds) and rank them by the warned figures;"
            " each warning's fix becomes the measured best."))
    if jobs:
        opts.append(click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
                                 help="Parallel processes for --seeds/--suggest runs.  [default: 1]"))
    return opts


def picture_options() -> list[Callable[..., Any]]:
    return [
        click.option("--hist", "hist_path", type=click.Path(dir_okay=False), default=None,
                     help="Write one histogram panel per layer (.png, .svg or .pdf; with --grad, dL/dh too);"
                     f" beyond {GRID_LAYERS} layers a heat map (layer x bin), as panels would be unreadable."),
        click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
                     help="Write per-layer mean and std against depth, std on a log scale, warned layers"
                     " circled (with --grad, gradient norms too)."),
        click.option("--dpi", type=click.IntRange(20, 1200), default=None,
                     help="Resolution of --hist/--plot pictures.  [default: 100]"),
    ]


def grad_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The backward pass (--grad) and what starts it."""
    opts = [
        click.option("--grad", is_flag=True,
                     help="Also run a backward pass and report per-layer gradients (same seed, same weights)."),
        click.option("--loss", type=Choice(["softmax", "mse", "random"]), default="softmax", show_default=True,
                     help="What starts the backward pass. softmax (default, as the lectures' SoftmaxWithLoss):"
                     " an output layer of --classes units with the same --init, cross-entropy against random"
                     " labels; mse: 0.5*mean ||h_L - y||^2, y ~ N(0,1); random: dL/dh_L ~ N(0,1)/batch,"
                     " which isolates the network itself."),
        click.option("--classes", type=click.IntRange(2, 100_000), default=10, show_default=True,
                     help="Output classes for --loss softmax."),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True,
                     help="Learning rate in the update:data ratio lr*||dW||/||W|| (~1e-3 is the usual target)."),
        click.option("--theory", is_flag=True,
                     help="Add the infinite-width prediction of each layer's mean and std (and with --grad, of"
                     " the gradient ratio), for inits N(0, sigma_w^2/fan_in); says so when it does not apply."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def format_options() -> list[Callable[..., Any]]:
    return [
        click.option("fmt", "-f", "--format", type=Choice(FORMATS), default="table", show_default=True,
                     envvar="ACTSTAT_FORMAT",
                     help="Output format on stdout: a table, one JSON document, NDJSON (one object per row and"
                     " per warning), CSV/TSV (one row per layer), or a Markdown table."),
        click.option("--no-headers", is_flag=True, help="csv/tsv/markdown/ndjson: leave out the header row/object."),
    ]


def build_config(kw: dict[str, Any]) -> Any:
    """ProbeConfig from the parsed options (pops what it uses)."""
    from ..probe import ProbeConfig

    layers, width, widths = kw.pop("layers"), kw.pop("width"), kw.pop("widths")
    # the command line wins over --config: a shape option from the file yields to a conflicting one given here
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        from_file = {n for n in ("layers", "width", "widths")
                     if ctx.get_parameter_source(n) == click.core.ParameterSource.DEFAULT_MAP}
        if widths is not None and "widths" in from_file and ({"layers", "width"} - from_file) & {
                n for n, v in (("layers", layers), ("width", width)) if v is not None}:
            layers = layers if layers is not None else len(widths)  # (the file's depth, the command's width)
            widths = None
        elif widths is not None and "widths" not in from_file:
            width = None if "width" in from_file else width
            layers = None if "layers" in from_file else layers
    if widths is not None:
        if width is not None:
            raise click.UsageError("give --width or --widths, not both")
        if layers is not None and layers != len(widths):
            raise click.UsageError(f"--widths has {len(widths)} entries but --layers is {layers}")
    else:
        widths = (width or 500,) * (layers or 10)
    batch = kw.pop("batch")
    return ProbeConfig(
        widths=widths, input_dim=kw.pop("input_dim"), batch=batch if batch is not None else 1000, act=kw.pop("act"),
        init=kw.pop("init"), gain=kw.pop("gain"), bias_std=kw.pop("bias_std"), batchnorm=kw.pop("batchnorm"),
        dropout=kw.pop("dropout"), dropout_mode=kw.pop("dropout_mode"), input=kw.pop("input_kind"),
        preprocess=kw.pop("preprocess"),
        seed=kw.pop("seed"), dtype=kw.pop("dtype"), bins=kw.pop("bins"), hist_range=kw.pop("hist_range"),
        thresholds=dict(kw.pop("thresholds")), force=kw.pop("force"),
        theory=kw.pop("theory", False),
        grad=kw.pop("grad", False), loss=kw.pop("loss", "softmax"), classes=kw.pop("classes", 10),
        lr=kw.pop("lr", 1e-3),
    )


# --- commands -------------------------------------------------------------------------
