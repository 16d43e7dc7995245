"""actstat theory: the infinite-width prediction."""

from __future__ import annotations

import click

from .app import CONTEXT, cli, core_errors
from .common import check_pictures, emit
from .options import FiniteFloatRange, NameSpec, _act_lookup, _with_options, format_options


@cli.command(context_settings=CONTEXT)
@click.option("--act", "act", type=NameSpec("act", _act_lookup), default="tanh", show_default=True,
              help="Activation NAME[:PARAM] (maxout has no mean-field map).")
@click.option("--sigma-w", type=FiniteFloatRange(min=0, min_open=True), default=None,
              help="Weight scale: W ~ N(0, sigma_w^2/fan_in).  [default: 1, or the critical value with --critical]")
@click.option("--sigma-b", type=FiniteFloatRange(min=0), default=0.0, show_default=True, help="Bias std.")
@click.option("--layers", type=click.IntRange(1, 100_000), default=10, show_default=True)
@click.option("--q0", type=FiniteFloatRange(min=0, min_open=True), default=1.0, show_default=True,
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
    from ..activations import get_activation
    from ..theory import analyse

    if dpi is not None and diagram is None:
        raise click.UsageError("--dpi needs --phase-diagram")
    a = get_activation(act)
    if a.pieces > 1:
        raise click.UsageError("maxout has no single-variable mean-field map; choose another --act")
    with core_errors():
        pictures = check_pictures(diagram=diagram)
        if critical:
            from ..theory import cached_critical_sigma_w

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
            from ..rendering.figures import save_figure
            from ..rendering.phase import phase_figure

            save_figure(phase_figure(a, doc), pictures["diagram"], dpi or 100)
            click.echo(f"wrote {pictures['diagram']}", err=True)
    emit(doc, fmt, no_headers, "theory")
