"""actstat list: the catalogue."""

from __future__ import annotations

from .app import CONTEXT, cli
from .common import emit
from .options import _with_options, format_options


@cli.command("list", context_settings=CONTEXT)
@_with_options(format_options())
def list_(fmt: str, no_headers: bool) -> None:
    """List the initialisers, activations and optimisers, each with its formula.

    \b
    Example:
        actstat list --format json
    """
    from ..activations import ACTIVATION_ALIASES, ACTIVATIONS, get_activation
    from ..initializers import INIT_ALIASES, INITIALIZERS

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
    from ..training.optimizers import OPTIMIZER_ALIASES, OPTIMIZERS

    opts = [{"name": name, "aliases": [a for a, t in OPTIMIZER_ALIASES.items() if t == name],
             "param": (f"{o.param_meaning} (default {o.default_param:g})" if o.param_meaning else None),
             "formula": o.formula, "default_lr": o.default_lr} for name, o in OPTIMIZERS.items()]
    emit({"inits": inits, "activations": acts, "optimizers": opts}, fmt, no_headers, "list")
