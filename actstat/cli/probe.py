"""actstat probe."""

from __future__ import annotations

from typing import Any

import click

from .app import CONTEXT, EXIT_FAIL_ON, cli, core_errors
from .common import _all_kinds, check_grad_options, check_pictures, draw_pictures, emit, preload_renderer, run_probe_command
from .options import _with_options, config_option, grad_options, network_options, parse_fail_on, picture_options, stats_options


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
