"""Run helpers shared by the commands: the probe run, pictures, user input, rendering, the progress bar."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from .options import build_config


def _all_kinds() -> tuple[str, ...]:
    from ..diagnostics import FORWARD_KINDS, GRADIENT_KINDS

    return FORWARD_KINDS + GRADIENT_KINDS


def check_grad_options(kw: dict[str, Any], fail_kinds: frozenset[str]) -> None:
    """--loss/--classes/--lr, or a gradient kind in --fail-on, without --grad would silently do nothing."""
    from ..diagnostics import GRADIENT_KINDS

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
    from ..probe import run_probe

    batch_given = kw["batch"] is not None
    cfg = build_config(kw)
    cfg, x = user_input(cfg, batch_given)
    total = cfg.layers * (2 if cfg.grad else 1)
    with progress_bar(total, "layers", min_total=2) as on_layer:
        return run_probe(cfg, x, on_layer).to_dict()


def check_pictures(**paths: str | None) -> dict[str, str]:
    """Before any computation: every picture path has a known type and a writable directory."""
    from ..fileio import check_writable_file
    from ..rendering.figures import picture_type

    out: dict[str, str] = {}
    opt = {"diagram": "--phase-diagram"}
    for name, path in paths.items():
        if path is not None and not path.strip():
            raise click.UsageError(f"{opt.get(name, '--' + name)} needs a file name, got an empty one")
        if path:
            picture_type(path)
            check_writable_file(path)
            same = [k for k, v in out.items() if os.path.realpath(v) == os.path.realpath(path)]
            if same:
                raise click.UsageError(f"{opt.get(same[0], '--' + same[0])} and {opt.get(name, '--' + name)} name"
                                       f" the same file {path}: one picture would overwrite the other")
            out[name] = path
    return out


def draw_pictures(doc: dict[str, Any], pictures: dict[str, str], dpi: int) -> None:
    if not pictures:
        return
    from ..rendering.figures import save_figure
    from ..rendering.plots import hist_figure, plot_figure

    if "hist" in pictures:
        save_figure(hist_figure(doc, gradients=True)[0], pictures["hist"], dpi)
        click.echo(f"wrote {pictures['hist']}", err=True)
    if "plot" in pictures:
        save_figure(plot_figure(doc), pictures["plot"], dpi)
        click.echo(f"wrote {pictures['plot']}", err=True)


def user_input(cfg: Any, batch_given: bool) -> tuple[Any, Any]:
    """Load --input FILE (or stdin) once, fitting --batch/--input-dim to it; (cfg, None) for random inputs."""
    from ..data import load_input
    from ..probe import INPUT_KINDS, fit_to_data

    if cfg.input in INPUT_KINDS:
        return cfg, None
    stdin = sys.stdin if cfg.input == "-" else None
    return fit_to_data(cfg, load_input(cfg.input, stdin, force=cfg.force), batch_given)


def preload_renderer(fmt: str) -> None:
    """Import the renderer ``fmt`` needs (rich for tables, about 25 ms of Python; json for the others) on
    a helper thread while the probe computes: numpy releases the GIL in its heavy loops, so the import
    costs the run next to nothing."""
    import threading

    def load() -> None:
        with contextlib.suppress(Exception):  # emit imports it again and reports any real failure
            if fmt == "table":
                from ..rendering import table  # noqa: F401
            else:
                from ..rendering import records  # noqa: F401

    threading.Thread(target=load, name="actstat-preload").start()


def emit(doc: dict[str, Any], fmt: str, no_headers: bool, kind: str) -> None:
    """Write the report ``doc`` (a probe, compare, list or theory document) in ``fmt`` to stdout."""
    if fmt == "table":
        from ..rendering import table  # rich only for tables

        getattr(table, f"render_{kind}_table")(doc, sys.stdout)
        return
    from ..rendering import records

    rec = getattr(records, f"{kind}_records")(doc)
    sys.stdout.write(records.RENDERERS[fmt](doc, rec, not no_headers))


def _input_kinds() -> dict[str, str]:
    from ..probe import INPUT_KINDS

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

    def advance(done: int, total_: int, note: str | None = None) -> None:
        if "prog" not in state:
            elapsed = time.monotonic() - start
            if elapsed < min_seconds or done >= total_ or elapsed / max(done, 1) * total_ < min_projected:
                return
            from rich.console import Console
            from rich.progress import (
                BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn,
            )

            prog = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TaskProgressColumn(), TimeRemainingColumn(), console=Console(file=err), transient=True)
            prog.start()
            state["prog"], state["task"] = prog, prog.add_task(what, total=total_)
        # note: a word after the label (train shows the step and the loss)
        state["prog"].update(state["task"], completed=done, description=what if note is None else f"{what} {note}")

    try:
        yield advance
    finally:
        if "prog" in state:
            state["prog"].stop()
