"""actstat: per-layer activation (and gradient) statistics of deep networks at initialisation.

Library first: everything the CLI does is available here.

    >>> from actstat import ProbeConfig, run_probe
    >>> result = run_probe(ProbeConfig(widths=(100,) * 5, act="relu", init="he", batch=200))
    >>> [w.kind for w in result.warnings if w.kind != "not_centered"]
    []
"""

from ._version import __version__

from typing import TYPE_CHECKING, Any

# The names below are imported on first use (PEP 562), so that `actstat --help` and
# `actstat list` do not pay for numpy.random and the whole core at start-up.
_LAZY = {
    "ACTIVATIONS": "activations", "Activation": "activations", "get_activation": "activations",
    "THRESHOLDS": "diagnostics", "Diagnostic": "diagnostics", "diagnose": "diagnostics",
    "ActstatError": "errors", "ConfigError": "errors", "DataError": "errors",
    "MemoryLimitError": "errors", "UnknownNameError": "errors",
    "INITIALIZERS": "initializers", "InitSpec": "initializers", "get_initializer": "initializers",
    "ProbeConfig": "probe", "ProbeResult": "probe", "run_probe": "probe",
    "LayerStats": "stats", "layer_stats": "stats",
    "run_compare": "compare", "analyse": "theory", "critical_sigma_w": "theory",
    "run_search": "search", "run_trainability": "trainability", "run_tasks": "executor",
    "run_seeds": "seeds", "run_suggest": "suggest",
}

if TYPE_CHECKING:
    from .activations import ACTIVATIONS, Activation, get_activation
    from .diagnostics import THRESHOLDS, Diagnostic, diagnose
    from .errors import ActstatError, ConfigError, DataError, MemoryLimitError, UnknownNameError
    from .initializers import INITIALIZERS, InitSpec, get_initializer
    from .probe import ProbeConfig, ProbeResult, run_probe
    from .stats import LayerStats, layer_stats
    from .compare import run_compare
    from .theory import analyse, critical_sigma_w
    from .search import run_search
    from .trainability import run_trainability
    from .executor import run_tasks
    from .seeds import run_seeds
    from .suggest import run_suggest


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'actstat' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "THRESHOLDS",
    "Activation",
    "ActstatError",
    "ConfigError",
    "DataError",
    "Diagnostic",
    "InitSpec",
    "LayerStats",
    "MemoryLimitError",
    "ProbeConfig",
    "ProbeResult",
    "UnknownNameError",
    "__version__",
    "diagnose",
    "get_activation",
    "get_initializer",
    "layer_stats",
    "run_probe",
    "run_compare",
    "run_seeds",
    "run_suggest",
    "analyse",
    "critical_sigma_w",
    "run_search",
    "run_trainability",
    "run_tasks",
]
