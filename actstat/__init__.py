"""actstat: per-layer activation (and gradient) statistics of deep networks at initialisation.

Library first: everything the CLI does is available here.

    >>> from actstat import ProbeConfig, run_probe
    >>> result = run_probe(ProbeConfig(widths=(100,) * 5, act="relu", init="he", batch=200))
    >>> [w.kind for w in result.warnings if w.kind != "not_centered"]
    []
"""

__version__ = "0.1.0"

from .activations import ACTIVATIONS, Activation, get_activation  # noqa: E402
from .diagnostics import THRESHOLDS, Diagnostic, diagnose  # noqa: E402
from .errors import ActstatError, ConfigError, DataError, MemoryLimitError, UnknownNameError  # noqa: E402
from .initializers import INITIALIZERS, InitSpec, get_initializer  # noqa: E402
from .probe import ProbeConfig, ProbeResult, run_probe  # noqa: E402
from .stats import LayerStats, layer_stats  # noqa: E402

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
]
