"""actstat probe."""

from __future__ import annotations

from typing import Any

import click

from .app import CONTEXT, EXIT_FAIL_ON, cli, core_errors
from .common import (
    _all_kinds,
    check_grad_options,
    check_pictures,
    draw_pictures,
    emit,
    preload_renderer,
    progress_bar,
    run_probe_command,
    user_input,
)
from .options import (
    _with_options,
    build_config,
    config_option,
    grad_options,
    network_options,
    parse_fail_on,
    picture_options,
    seeds_option_list,
    stats_options,
)


def run_seeded_command(kw: dict[str, Any], seeds: int, suggest: bool, jobs: int | None) -> dict[str, Any]:
    """Options -> the probe document over ``seeds`` seeds (actstat.seeds), with the ranked candidate fixes
    when ``suggest`` (actstat.suggest). One seed without --suggest: exactly run_probe_command."""
    if seeds == 1 and not suggest:
        return run_probe_command(kw)
    from ..seeds import run_seeds
    from ..suggest import run_suggest

    batch_given = kw["batch"] is not None
    cfg = build_config(kw)
    cfg, x = user_input(cfg, batch_given)
    with progress_bar(seeds, "seeds", min_total=2) as on_done:
        doc = run_seeds([cfg], seeds, x, jobs or 1, on_done)[0]
    if suggest:
        with progress_bar(seeds * 6, "candidate fixes", min_total=2) as on_done:
            run_suggest(cfg, x, doc, seeds, jobs or 1, on_done)
    return doc


@cli.command(context_settings=CONTEXT)
@config_option
@network_options
@grad_options
@stats_options
@_with_options(seeds_option_list())
@_with_options(picture_options())
def probe(fmt: str, no_headers: bool, fail_on: str | None, hist_path: str | None, plot_path: str | None,
          dpi: int | None, seeds: int, suggest: bool, jobs: int | None, **kw: Any) -> int:
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
        actstat probe --act sigmoid --grad --suggest
        actstat probe --act gelu --init lsuv --layers 24 --width 256 --seeds 5 --fail-on any

    With --seeds N the figures are medians over seeds S..S+N-1 and --fail-on fails on a kind that
    fired in more than half of the seeds.
    """
    if dpi is not None and not (hist_path or plot_path):
        raise click.UsageError("--dpi needs --hist or --plot")
    fail_kinds = parse_fail_on(fail_on, _all_kinds())
    check_grad_options(kw, fail_kinds)
    with core_errors():
        pictures = check_pictures(hist=hist_path, plot=plot_path)
        preload_renderer(fmt)
        doc = run_seeded_command(kw, seeds, suggest, jobs)
        draw_pictures(doc, pictures, dpi or 100)
    emit(doc, fmt, no_headers, "probe")
    from ..seeds import fails

    return EXIT_FAIL_ON if fails(doc, fail_kinds) else 0
