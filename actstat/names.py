"""Parsing of the ``NAME[:PARAM]`` specs shared by ``--act`` and ``--init``."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping

from .errors import ConfigError, UnknownNameError


def parse_spec(
    kind: str, spec: str, names: Collection[str], aliases: Mapping[str, str],
    takes_param: Callable[[str], bool],
) -> tuple[str, float | None]:
    """Split ``NAME[:PARAM]`` into the canonical name and the parameter (None when absent).

    ``kind`` names the registry in messages ("activation", "init"); an unknown name suggests the
    closest valid one; ``takes_param(name)`` says whether a parameter is allowed at all.
    """
    name, colon, raw = spec.strip().partition(":")
    name = name.strip().lower()
    name = aliases.get(name, name)
    if name not in names:
        raise UnknownNameError(kind, name, list(names) + list(aliases))
    if not colon:
        return name, None
    raw = raw.strip()
    if not takes_param(name):
        raise ConfigError(f"{kind} '{name}' takes no parameter (got ':{raw}')")
    if not raw:
        raise ConfigError(f"missing parameter after ':' for {kind} '{name}'")
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"invalid parameter '{raw}' for {kind} '{name}': expected a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"invalid parameter '{raw}' for {kind} '{name}': must be finite")
    return name, value



def exact(v: float) -> str:
    """``v`` as written by ``:g`` when that reads back as ``v``, else its shortest round-trip repr
    (1.23456789 stays 1.23456789, 0.9999999 stays 0.9999999): specs and commands must reproduce a run."""
    s = f"{v:g}"
    return s if float(s) == v else repr(float(v))
