"""The command line: parse, call the core, render. Only this module imports click.

Exit status: 0 success; 1 error while running (e.g. a file that cannot be written);
2 usage error (bad option, bad name or parameter, impossible size, too little memory);
3 a warning named by --fail-on fired; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from . import __version__
from .errors import ActstatError, ConfigError, DataError

# OpenBLAS's idle threads spin for about 0.1 s after every matrix product, holding the core that the
# weight-drawing helper thread and numpy's single-threaded statistics need in the meantime (a probe's
# non-product work took 1.5x as long). This asks them to sleep at once. OpenBLAS reads it when numpy
# first loads it, which is after this point; a value the user has set is kept.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

GRID_LAYERS = 30  # rendering.plots.GRID_LAYERS (not imported here: no matplotlib-side import at start-up)
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
FORMATS = ("table", "json", "ndjson", "csv", "tsv", "markdown")
EXIT_FAIL_ON = 3
EXIT_INTERRUPTED = 130


def _one_line(msg: str) -> str:
    return " ".join(msg.split())


class Interrupted(BaseException):
    """Raised by our SIGINT handler: click turns KeyboardInterrupt into noise, this passes through.
    A BaseException, so that atomic writers clean up on the way out."""


def _on_sigint(signum: int, frame: Any) -> None:
    raise Interrupted()


class ActstatGroup(click.Group):
    """A group whose every error is one line on stderr with a documented exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader went away (`actstat ... | head`): stop quietly, as the Python docs advise,
            # pointing stdout at devnull so the interpreter's final flush cannot complain.
            import os

            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(0) from None

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, _on_sigint)
        try:
            rv = super().main(args, prog_name or "actstat", complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as e:
            click.echo(e.ctx.get_help() if e.ctx else str(e), err=True)
            sys.exit(2)
        except click.ClickException as e:
            click.echo(f"Error: {_one_line(e.format_message())}", err=True)
            sys.exit(e.exit_code)
        except (Interrupted, click.Abort, KeyboardInterrupt):
            click.echo("Interrupted: no output was written.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except MemoryError:
            click.echo("Error: out of memory; use smaller --batch/--width/--layers", err=True)
            sys.exit(1)
        except Exception as e:  # a bug: still one line, never a traceback
            click.echo(f"Error: internal error ({type(e).__name__}: {_one_line(str(e))}); please report it",
                       err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


@contextlib.contextmanager
def core_errors() -> Iterator[None]:
    """Convert the core's errors once, at the edge: ConfigError -> exit 2, others -> exit 1."""
    try:
        yield
    except (ConfigError, DataError) as e:
        raise click.UsageError(str(e)) from None
    except ActstatError as e:
        raise click.ClickException(str(e)) from None


# --- parameter types ------------------------------------------------------------------


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
    from .activations import get_activation

    return get_activation(s)


def _init_lookup(s: str) -> Any:
    from .initializers import get_initializer

    return get_initializer(s)


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
                widths = (int(w),) * int(n)
            else:
                widths = tuple(int(p) for p in text.split(",") if p.strip() != "")
        except ValueError:
            self.fail(f"'{value}' is not a list of widths like 500,250,100 or 500x10", param, ctx)
        if not widths or any(w < 1 for w in widths):
            self.fail(f"'{value}': widths must be positive whole numbers", param, ctx)
        return widths


class InputType(click.ParamType):
    """normal|uniform|positive, or a data file (.npy/.csv/.tsv), or - for stdin."""

    name = "normal|uniform|positive|FILE|-"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from .data import is_input_file
        from .probe import INPUT_KINDS

        v = str(value)
        if v in INPUT_KINDS or is_input_file(v):
            return v
        self.fail(f"'{v}' is neither an input kind ({', '.join(INPUT_KINDS)}) nor a .npy/.csv/.tsv file", param, ctx)


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
        from .diagnostics import THRESHOLDS

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
            data = tomllib.load(fh)
    except OSError as e:
        raise click.BadParameter(f"cannot read {value}: {e.strerror}", ctx, param) from None
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
            raise click.BadParameter(f"{value}: unknown key '{key}' for 'actstat {ctx.command.name}'", ctx, param)
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
    from .diagnostics import INFORMATIONAL

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
        click.option("--layers", type=click.IntRange(min=1), default=None,
                     help="Hidden layers.  [default: 10, or the length of --widths]"),
        click.option("--width", type=click.IntRange(min=1), default=None,
                     help="Units per hidden layer.  [default: 500]"),
        click.option("--widths", type=WidthsType(), default=None,
                     help="Per-layer widths: 500,250,100 or 500x10."),
        click.option("--input-dim", type=click.IntRange(min=1), default=None,
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
        click.option("--dropout-mode", type=click.Choice(["inverted", "classic"]), default="inverted",
                     show_default=True,
                     help="inverted: kept units scaled by 1/(1-p) now (modern frameworks); classic: no scaling"
                     " now, the lecture's (1-p) at test time."),
        click.option("--input", "input_kind", type=InputType(), default="normal", show_default=True,
                     help="Random input normal N(0,1), uniform U(-1,1) or positive U[0,1); or your data: a .npy,"
                     " .csv or .tsv file (rows = examples, header row auto-detected), or - for CSV on stdin."),
        click.option("--preprocess", type=click.Choice(["none", "center", "standardize", "minmax"]),
                     default="none", show_default=True,
                     help="Per-feature input preprocessing (none keeps a raw-scale problem visible)."),
        click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Seed of every random draw."),
        click.option("--dtype", type=click.Choice(["float64", "float32"]), default="float64", show_default=True),
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
        click.option("--loss", type=click.Choice(["softmax", "mse", "random"]), default="softmax", show_default=True,
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
        click.option("fmt", "-f", "--format", type=click.Choice(FORMATS), default="table", show_default=True,
                     envvar="ACTSTAT_FORMAT",
                     help="Output format on stdout: a table, one JSON document, NDJSON (one object per row and"
                     " per warning), CSV/TSV (one row per layer), or a Markdown table."),
        click.option("--no-headers", is_flag=True, help="csv/tsv/markdown/ndjson: leave out the header row/object."),
    ]


def build_config(kw: dict[str, Any]) -> Any:
    """ProbeConfig from the parsed options (pops what it uses)."""
    from .probe import ProbeConfig

    layers, width, widths = kw.pop("layers"), kw.pop("width"), kw.pop("widths")
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


@click.group(cls=ActstatGroup, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="actstat")
def cli() -> None:
    """Per-layer activation statistics of a deep network at initialisation, with diagnoses.

    \b
    Example:
        actstat probe --init he --act relu --layers 10

    Exit status: 0 ok, 1 error, 2 usage error, 3 a --fail-on warning fired, 130 interrupted.
    """


@cli.command(context_settings=CONTEXT)
@config_option
@network_options
@grad_options
@stats_options
@_with_options(picture_options())
def probe(fmt: str, no_headers: bool, fail_on: str | None, hist_path: str | None, plot_path: str | None,
          dpi: int | None, **kw: Any) -> int:
    """Build a deep MLP, push a batch through it, and report every layer.

    Reports mean, std, min, max, % saturated, % zero and % dead units per layer
    (post-activation, over the whole batch x width matrix), then warnings
    (vanishing, exploding, saturation, collapse, dead, symmetry, not_centered),
    each with the measured value, its threshold and a fix. With --grad, a backward
    pass adds per-layer gradient figures and the warnings vanishing_gradient,
    exploding_gradient and zigzag.

    \b
    Examples:
        actstat probe --init he --act relu --layers 10
        actstat probe --init normal:0.01 --act tanh
        actstat probe --init small --act relu --batchnorm --format json
        actstat probe --act tanh --init xavier --grad --loss random
        actstat probe --init normal:0.01 --act tanh --hist tanh.png --plot tanh-std.png
    """
    if dpi is not None and not (hist_path or plot_path):
        raise click.UsageError("--dpi needs --hist or --plot")
    fail_kinds = parse_fail_on(fail_on, _all_kinds())
    check_grad_options(kw, fail_kinds)
    with core_errors():
        pictures = check_pictures(hist=hist_path, plot=plot_path)
        preload_renderer(fmt)
        doc = run_probe_command(kw)
        draw_pictures(doc, pictures, dpi or 100)
    emit(doc, fmt, no_headers, "probe")
    return EXIT_FAIL_ON if any(w["kind"] in fail_kinds for w in doc["warnings"]) else 0


def _all_kinds() -> tuple[str, ...]:
    from .diagnostics import FORWARD_KINDS, GRADIENT_KINDS

    return FORWARD_KINDS + GRADIENT_KINDS


def check_grad_options(kw: dict[str, Any], fail_kinds: frozenset[str]) -> None:
    """--loss/--classes/--lr, or a gradient kind in --fail-on, without --grad would silently do nothing."""
    from .diagnostics import GRADIENT_KINDS

    if kw.get("grad"):
        return
    ctx = click.get_current_context()
    given = [f"--{n}" for n in ("loss", "classes", "lr")
             if ctx.get_parameter_source(n) not in (None, click.core.ParameterSource.DEFAULT)]
    if given:
        raise click.UsageError(f"{', '.join(given)} only {'means' if len(given) == 1 else 'mean'} something with"
                               " --grad")
    named = sorted(k for k in fail_kinds if k in GRADIENT_KINDS)
    value = ctx.params.get("fail_on") or ""
    if named and "any" not in value.split(","):
        raise click.UsageError(f"--fail-on {','.join(named)} needs --grad (no backward pass, so it could never fire)")


def run_probe_command(kw: dict[str, Any]) -> dict[str, Any]:
    """Options -> the probe document (the user's data loaded once, a progress bar on long runs)."""
    from .probe import run_probe

    batch_given = kw["batch"] is not None
    cfg = build_config(kw)
    cfg, x = user_input(cfg, batch_given)
    total = cfg.layers * (2 if cfg.grad else 1)
    with progress_bar(total, "layers", min_total=2) as on_layer:
        return run_probe(cfg, x, on_layer).to_dict()


def check_pictures(**paths: str | None) -> dict[str, str]:
    """Before any computation: every picture path has a known type and a writable directory."""
    from .fileio import check_writable_file
    from .rendering.figures import picture_type

    out = {}
    for name, path in paths.items():
        if path:
            picture_type(path)
            check_writable_file(path)
            out[name] = path
    return out


def draw_pictures(doc: dict[str, Any], pictures: dict[str, str], dpi: int) -> None:
    if not pictures:
        return
    from .rendering.figures import save_figure
    from .rendering.plots import hist_figure, plot_figure

    if "hist" in pictures:
        save_figure(hist_figure(doc, gradients=True)[0], pictures["hist"], dpi)
    if "plot" in pictures:
        save_figure(plot_figure(doc), pictures["plot"], dpi)


def user_input(cfg: Any, batch_given: bool) -> tuple[Any, Any]:
    """Load --input FILE (or stdin) once, fitting --batch/--input-dim to it; (cfg, None) for random inputs."""
    from .data import load_input
    from .probe import INPUT_KINDS, fit_to_data

    if cfg.input in INPUT_KINDS:
        return cfg, None
    stdin = sys.stdin if cfg.input == "-" else None
    return fit_to_data(cfg, load_input(cfg.input, stdin), batch_given)


def preload_renderer(fmt: str) -> None:
    """Import the renderer ``fmt`` needs (rich for tables, about 25 ms of Python; json for the others) on
    a helper thread while the probe computes: numpy releases the GIL in its heavy loops, so the import
    costs the run next to nothing."""
    import threading

    def load() -> None:
        with contextlib.suppress(Exception):  # emit imports it again and reports any real failure
            if fmt == "table":
                from .rendering import table  # noqa: F401
            else:
                from .rendering import records  # noqa: F401

    threading.Thread(target=load, name="actstat-preload").start()


def emit(doc: dict[str, Any], fmt: str, no_headers: bool, kind: str) -> None:
    """Write the report ``doc`` (a probe, compare, list or theory document) in ``fmt`` to stdout."""
    if fmt == "table":
        from .rendering import table  # rich only for tables

        getattr(table, f"render_{kind}_table")(doc, sys.stdout)
        return
    from .rendering import records

    rec = getattr(records, f"{kind}_records")(doc)
    sys.stdout.write(records.RENDERERS[fmt](doc, rec, not no_headers))


COMPARE_GRID = [
    click.option("--act", "act", type=ListOf(NameSpec("act", _act_lookup)), multiple=True,
                 help="Activations to compare (repeatable or comma-separated).  [default: relu]"),
    click.option("--init", "init", type=ListOf(NameSpec("init", _init_lookup)), multiple=True,
                 help="Initialisers to compare.  [default: he]"),
    click.option("--layers", type=ListOf(click.IntRange(min=1)), multiple=True, help="Depths.  [default: 10]"),
    click.option("--width", type=ListOf(click.IntRange(min=1)), multiple=True, help="Widths.  [default: 500]"),
    click.option("--dropout", type=ListOf(click.FloatRange(0, 1, max_open=True)), multiple=True,
                 help="Dropout probabilities.  [default: 0]"),
    click.option("--bias-std", type=ListOf(click.FloatRange(min=0)), multiple=True, help="Bias stds.  [default: 0]"),
    click.option("--gain", type=ListOf(click.FloatRange(min=0, min_open=True)), multiple=True,
                 help="Init gains.  [default: 1]"),
    click.option("--dtype", type=ListOf(click.Choice(["float64", "float32"])), multiple=True,
                 help="Precisions.  [default: float64]"),
    click.option("--batchnorm", is_flag=True, help="Batch norm in every configuration."),
    click.option("--batchnorm-both", is_flag=True, help="Every configuration with and without batch norm."),
]


@cli.command(context_settings=CONTEXT)
@config_option
@_with_options(COMPARE_GRID)
@_with_options([
    click.option("--input-dim", type=click.IntRange(min=1), default=None,
                 help="Input dimension.  [default: the first width]"),
    click.option("--batch", type=click.IntRange(min=1), default=None,
                 help="Examples in the probe batch.  [default: 1000, or every row of an --input file]"),
    click.option("--dropout-mode", type=click.Choice(["inverted", "classic"]), default="inverted", show_default=True),
    click.option("--input", "input_kind", type=InputType(), default="normal", show_default=True,
                 help="normal, uniform, positive, or a .npy/.csv/.tsv file, or - (CSV on stdin)."),
    click.option("--preprocess", type=click.Choice(["none", "center", "standardize", "minmax"]), default="none",
                 show_default=True),
    click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                 help="One seed for every configuration: the same input batch for all."),
    click.option("--force", is_flag=True, help="Run even if the memory estimate exceeds what is available."),
    click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
                 help="Parallel processes (results equal --jobs 1).  [default: the number of cores]"),
    click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
                 help="Overlay std against depth for every configuration (.png, .svg or .pdf)."),
    click.option("--log", "log_scale", is_flag=True, help="--plot: log-scale std axis."),
    click.option("--dpi", type=click.IntRange(20, 1200), default=None, help="--plot resolution.  [default: 100]"),
])
@grad_options
@stats_options
def compare(fmt: str, no_headers: bool, fail_on: str | None, jobs: int | None, plot_path: str | None,
            log_scale: bool, dpi: int | None, **kw: Any) -> int:
    """Probe every combination of the given values and summarise each configuration in one row.

    Each configuration is probed with the same seed and the same input batch. Rows: the
    configuration, input std, first and last layer std, min std over the layers, max
    saturated %, max dead %, the first layer with a warning, and the warning kinds.

    \b
    Examples:
        actstat compare --act tanh,relu --init xavier,he --layers 10
        actstat compare --init normal:0.01,xavier,he --act relu --batchnorm-both --format csv
    """
    import os

    from .compare import expand, run_compare
    from .diagnostics import FORWARD_KINDS, GRADIENT_KINDS

    fail_kinds = parse_fail_on(fail_on, FORWARD_KINDS + GRADIENT_KINDS)
    check_grad_options(kw, fail_kinds)
    if dpi is not None and plot_path is None:
        raise click.UsageError("--dpi needs --plot")
    if log_scale and plot_path is None:
        raise click.UsageError("--log needs --plot")
    grid = {k: [v for vs in kw.pop(k) for v in vs] for k in
            ("act", "init", "layers", "width", "dropout", "bias_std", "gain", "dtype")}
    both = kw.pop("batchnorm_both")
    bn = kw.pop("batchnorm")
    grid["batchnorm"] = [False, True] if both else [bn]
    base_kw = {**kw, "layers": None, "width": None, "widths": None, "act": "relu", "init": "he", "gain": 1.0,
               "bias_std": 0.0, "dropout": 0.0, "dtype": "float64", "batchnorm": False}
    batch_given = kw["batch"] is not None
    base = build_config(base_kw)
    configs = expand(base, grid)
    with core_errors():
        if plot_path:
            from .fileio import check_writable_file
            from .rendering.figures import picture_type

            check_writable_file(plot_path)
            picture_type(plot_path)
        x = None
        if base.input not in _input_kinds():
            fitted, x = user_input(configs[0], batch_given)
            configs = [replace_cfg(c, input_dim=fitted.input_dim, batch=fitted.batch) for c in configs]
        with progress_bar(len(configs), "configurations", min_total=4) as on_done:
            doc = run_compare(configs, x, jobs or os.cpu_count() or 1, on_done)
        if plot_path:
            from .rendering.plots import compare_figure
            from .rendering.figures import save_figure

            save_figure(compare_figure(doc, log_scale), plot_path, dpi or 100)
    emit(doc, fmt, no_headers, "compare")
    if any(w["kind"] in fail_kinds for w in doc["warnings"]):
        return EXIT_FAIL_ON
    return 0


def _input_kinds() -> dict[str, str]:
    from .probe import INPUT_KINDS

    return INPUT_KINDS


def replace_cfg(cfg: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(cfg, **changes)


@contextlib.contextmanager
def progress_bar(total: int, what: str, min_total: int = 1, min_seconds: float = 0.5,
                 min_projected: float = 2.0) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr (done, rate, time left), only when stderr is a terminal, there are
    at least ``min_total`` steps, and the run, once ``min_seconds`` old, is projected to take more than
    ``min_projected`` seconds in all: quick runs never flash a bar. Off a terminal: nothing, and
    rich's progress is never imported."""
    import time

    err = sys.stderr
    if total < min_total or not (hasattr(err, "isatty") and err.isatty()):
        yield None
        return
    start = time.monotonic()
    state: dict[str, Any] = {}

    def advance(done: int, total_: int) -> None:
        if "prog" not in state:
            elapsed = time.monotonic() - start
            if elapsed < min_seconds or done >= total_ or elapsed / max(done, 1) * total_ < min_projected:
                return
            from rich.console import Console
            from rich.progress import (
                BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn,
            )

            prog = Progress(TextColumn(f"[bold]{what}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                            TimeRemainingColumn(), console=Console(file=err), transient=True)
            prog.start()
            state["prog"], state["task"] = prog, prog.add_task(what, total=total_)
        state["prog"].update(state["task"], completed=done)

    try:
        yield advance
    finally:
        if "prog" in state:
            state["prog"].stop()


@cli.command(context_settings=CONTEXT)
@config_option
@_with_options(network_option_list(force=False))
@grad_options
@_with_options(analysis_options())
@click.option("--out", "out", type=click.Path(file_okay=False), required=True, help="The report directory.")
@click.option("--force", "replace", is_flag=True,
              help="Replace a non-empty --out directory (and run even above the memory estimate).")
@click.option("--dpi", type=click.IntRange(20, 1200), default=100, show_default=True, help="Picture resolution.")
def report(out: str, replace: bool, dpi: int, fail_on: str | None, **kw: Any) -> int:
    """Probe, then write a report directory: hist.png, plot.png, report.json, report.md.

    report.md reads on its own: the configuration and the command that reproduces it,
    the verdict, the per-layer table, the warnings with their thresholds and fixes, and
    the pictures. A non-empty OUT is refused unless --force; a failure leaves nothing.

    \b
    Example:
        actstat report --act tanh --init normal:0.01 --out tanh-small
    """
    from .fileio import atomic_dir, check_output_dir
    from .rendering.report import REPORT_FILES, write_report

    fail_kinds = parse_fail_on(fail_on, _all_kinds())
    check_grad_options(kw, fail_kinds)
    with core_errors():
        check_output_dir(out, replace)
        doc = run_probe_command({**kw, "force": replace})
        with atomic_dir(out, replace) as tmp:
            write_report(doc, tmp, dpi)
    kinds = list(dict.fromkeys(w["kind"] for w in doc["warnings"]))
    click.echo(f"wrote {out}/: {', '.join(REPORT_FILES)}; verdict: {', '.join(kinds) or 'no warnings'}", err=True)
    return EXIT_FAIL_ON if any(k in fail_kinds for k in kinds) else 0


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
    from .fileio import atomic_dir, check_output_dir
    from .gallery import CASES
    from .rendering.report import write_report

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
                from .activations import get_activation
                from .rendering.figures import save_figure
                from .rendering.phase import phase_figure
                from .theory import analyse, cached_critical_sigma_w

                tanh = get_activation("tanh")
                sw = cached_critical_sigma_w(tanh, 0.3)
                save_figure(phase_figure(tanh, analyse(tanh, sw or 1.0, 0.3).to_dict()), tmp / "phase-tanh.png", dpi)
            (tmp / "README.md").write_text(_gallery_index(rows, phase=not wanted), encoding="utf-8")
    click.echo(f"wrote {len(cases)} reports and README.md to {directory}/", err=True)


def _gallery_index(rows: list[tuple[Any, list[str]]], phase: bool = False) -> str:
    lines = ["# actstat sample reports", "",
             "One report per canonical experiment, written by `actstat gallery sample_reports --force`"
             " (the case list is `actstat/gallery.py`). Click a picture for the full report.", "",
             "| experiment | histograms per layer | verdict |", "|---|---|---|"]
    for case, kinds in rows:
        cmd = "actstat probe " + " ".join(case.argv)
        lines.append(f"| [{case.title}]({case.name}/report.md)<br>`{cmd}`<br>{case.lecture} |"
                     f" [<img src=\"{case.name}/hist.png\" width=\"360\">]({case.name}/report.md) |"
                     f" {', '.join(f'`{k}`' for k in kinds) or 'no warnings'} |")
    if phase:
        lines += ["", "## Theory: the phase diagram of tanh", "",
                  "`actstat theory --act tanh --sigma-b 0.3 --critical --phase-diagram phase-tanh.png`: chi_1 over"
                  " sigma_w x sigma_b, the critical line chi_1 = 1 between order (blue) and chaos (red), the"
                  " critical sigma_w at sigma_b = 0.3 marked.", "", "![phase diagram of tanh](phase-tanh.png)"]
    return "\n".join(lines) + "\n"


@cli.command(context_settings=CONTEXT)
@click.option("--act", "act", type=NameSpec("act", _act_lookup), default="tanh", show_default=True,
              help="Activation NAME[:PARAM] (maxout has no mean-field map).")
@click.option("--sigma-w", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Weight scale: W ~ N(0, sigma_w^2/fan_in).  [default: 1, or the critical value with --critical]")
@click.option("--sigma-b", type=click.FloatRange(min=0), default=0.0, show_default=True, help="Bias std.")
@click.option("--layers", type=click.IntRange(1, 100_000), default=10, show_default=True)
@click.option("--q0", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="The inputs' mean square (1 for N(0,1) inputs).")
@click.option("--critical", is_flag=True, help="Solve for the sigma_w with chi_1 = 1 at --sigma-b and use it.")
@click.option("--phase-diagram", "diagram", type=click.Path(dir_okay=False), default=None,
              help="Draw chi_1 over a sigma_w x sigma_b grid with the critical line and this configuration.")
@click.option("--dpi", type=click.IntRange(20, 1200), default=None, help="--phase-diagram resolution.  [default: 100]")
@_with_options(format_options())
def theory(act: str, sigma_w: float | None, sigma_b: float, layers: int, q0: float, critical: bool,
           diagram: str | None, dpi: int | None, fmt: str, no_headers: bool) -> None:
    """Infinite-width theory: the variance map, q*, chi_1, the phase and the depth scales.

    With W ~ N(0, sigma_w^2/fan_in) and biases N(0, sigma_b^2), q^l = sigma_w^2
    E[phi(sqrt(q^{l-1}) z)^2] + sigma_b^2 (Poole et al. 2016). chi_1 = sigma_w^2
    E[phi'(sqrt(q*) z)^2] tells ordered (< 1: signals and gradients shrink), critical
    (= 1) or chaotic (> 1: they grow); xi_q and xi_c are the depths over which the
    length and the correlation of signals settle (Schoenholz et al. 2017).

    \b
    Examples:
        actstat theory --act tanh --sigma-w 1.5 --sigma-b 0.05
        actstat theory --act relu --critical --format json
        actstat theory --act tanh --sigma-b 0.1 --critical --phase-diagram tanh-phase.png
    """
    from .activations import get_activation
    from .theory import analyse

    if dpi is not None and diagram is None:
        raise click.UsageError("--dpi needs --phase-diagram")
    a = get_activation(act)
    if a.pieces > 1:
        raise click.UsageError("maxout has no single-variable mean-field map; choose another --act")
    with core_errors():
        pictures = check_pictures(diagram=diagram)
        if critical:
            from .theory import cached_critical_sigma_w

            crit = cached_critical_sigma_w(a, sigma_b)
            if crit is None:
                raise click.UsageError(f"{a.spec} has no critical sigma_w at --sigma-b {sigma_b:g}"
                                       " (no sigma_w makes chi_1 = 1); try another --sigma-b")
            if sigma_w is not None and abs(sigma_w - crit) > 1e-9 * crit:
                raise click.UsageError("give --sigma-w or --critical, not both")
            sigma_w = crit
        result = analyse(a, sigma_w if sigma_w is not None else 1.0, sigma_b, layers, q0)
        doc = result.to_dict()
        if pictures:
            from .rendering.figures import save_figure
            from .rendering.phase import phase_figure

            save_figure(phase_figure(a, doc), pictures["diagram"], dpi or 100)
    emit(doc, fmt, no_headers, "theory")


@cli.command("list", context_settings=CONTEXT)
@_with_options(format_options())
def list_(fmt: str, no_headers: bool) -> None:
    """List the initialisers and activations, each with its formula.

    \b
    Example:
        actstat list --format json
    """
    from .activations import ACTIVATION_ALIASES, ACTIVATIONS, get_activation
    from .initializers import INIT_ALIASES, INITIALIZERS

    inits = []
    for name, ini in INITIALIZERS.items():
        aliases = [a for a, t in INIT_ALIASES.items() if t == name]
        p = f"{ini.param_meaning}" + (f" (default {ini.default_param:g})" if ini.default_param is not None else "")
        inits.append({"name": name, "aliases": aliases, "param": p if ini.param_meaning else None,
                      "formula": ini.formula})
    acts = []
    for name, (default, meaning) in ACTIVATIONS.items():
        a = get_activation(name)
        aliases = [al for al, t in ACTIVATION_ALIASES.items() if t == name]
        acts.append({"name": name, "aliases": aliases,
                     "param": f"{meaning} (default {default:g})" if meaning else None,
                     "formula": a.formula, "saturated": a.saturation_rule, "gain": a.gain})
    emit({"inits": inits, "activations": acts}, fmt, no_headers, "list")
