"""Compare configurations: the cartesian product of option values, each probed with the same seed
and the same input batch, summarised one row per configuration. Pure numpy (no click).

With jobs > 1 the configurations run in worker processes (or on a Dask cluster); every probe is a pure function of its
configuration and the shared input, so the results equal a serial run's, in the same order.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ._version import __version__
from .activations import get_activation
from .diagnostics import INFORMATIONAL
from .executor import run_tasks
from .probe import ProbeConfig, run_probe, validate
from .seeds import FAIL_RULE

# options that may take several values, in the order the product varies them (last fastest)
GRID_KEYS = ("act", "init", "layers", "width", "batchnorm", "dropout", "bias_std", "gain", "dtype")
LABEL_KEYS = ("act", "init", "layers", "width", "batchnorm", "dropout", "bias_std", "gain", "dtype")


def expand(base: ProbeConfig, grid: dict[str, Sequence[Any]]) -> list[ProbeConfig]:
    """Every combination of the values in ``grid`` (keys from GRID_KEYS) applied to ``base``."""
    keys = [k for k in GRID_KEYS if grid.get(k)]
    configs = []
    for values in itertools.product(*(grid[k] for k in keys)):
        d = dict(zip(keys, values))
        widths = base.widths
        if "layers" in d or "width" in d:
            widths = (d.pop("width", base.widths[0]),) * d.pop("layers", base.layers)
        configs.append(replace(base, widths=widths, **d))
    return configs


def _value(cfg: ProbeConfig, key: str) -> Any:
    if key == "layers":
        return cfg.layers
    if key == "width":
        return cfg.widths[0] if len(set(cfg.widths)) == 1 else ",".join(map(str, cfg.widths))
    return getattr(cfg, key)


def labels(configs: Sequence[ProbeConfig]) -> list[str]:
    """Short names: the options that differ between configurations (act and init always)."""
    varying = [k for k in LABEL_KEYS
               if k in ("act", "init") or len({str(_value(c, k)) for c in configs}) > 1]
    out = []
    for c in configs:
        parts = []
        for k in varying:
            v = _value(c, k)
            if k == "batchnorm":
                parts.append("bn" if v else "no-bn")
            else:
                parts.append(f"{k}={v}" if k not in ("act", "init") else str(v))
        out.append(" ".join(parts))
    return out


def summarize(doc: dict[str, Any], label: str) -> dict[str, Any]:
    """One row: the configuration and the figures that tell configurations apart."""
    cfg = doc["config"]
    layers = doc["layers"]
    stds = [L["std"] for L in layers]
    finite = [s for s in stds if s is not None and math.isfinite(s)]
    sat = [L["saturated_frac"] for L in layers if L["saturated_frac"] is not None]
    dead = [L["dead_frac"] for L in layers if L["dead_frac"] is not None]
    alarms = [w for w in doc["warnings"] if w["kind"] not in INFORMATIONAL]
    kinds: list[str] = []
    for w in doc["warnings"]:
        if w["kind"] not in kinds:
            kinds.append(w["kind"])
    row: dict[str, Any] = {
        "type": "config", "config": label, "act": cfg["act"], "init": cfg["init"], "layers": cfg["layers"],
        "width": cfg["widths"][0] if len(set(cfg["widths"])) == 1 else ",".join(map(str, cfg["widths"])),
        "batchnorm": cfg["batchnorm"], "dropout": cfg["dropout"], "bias_std": cfg["bias_std"],
        "gain": cfg["gain"], "dtype": cfg["dtype"],
        "input_std": doc["input"]["std"], "first_std": stds[0], "last_std": stds[-1],
        "min_std": min(finite) if finite else None,
        "max_saturated_frac": max(sat) if sat else None,
        "max_dead_frac": max(dead) if dead else None,
        "first_warning_layer": min((w["layer"] for w in alarms), default=None),
        "warnings": kinds,
    }
    if "grad" in layers[0]:
        row["grad_first_last_ratio"] = layers[0]["grad"]["norm_ratio_to_last"]
    return row


def _cost(cfg: ProbeConfig) -> float:
    """A probe's work, roughly: multiply-adds of its products plus its statistics (about as much as
    500 multiply-adds per activation), three times over with the backward pass."""
    pieces = get_activation(cfg.act).pieces
    dims = (cfg.resolved_input_dim, *cfg.widths)
    per_row = sum(w * (fan_in * pieces + 500) for fan_in, w in itertools.pairwise(dims))
    return cfg.batch * per_row * (3 if cfg.grad else 1)


def _probe(cfg: ProbeConfig, x: np.ndarray | None) -> dict[str, Any]:
    # one core per configuration: no weight-drawing helper thread either (see run_probe)
    return run_probe(cfg, x, prefetch=False).to_dict()


def run_compare(
    configs: Sequence[ProbeConfig], x: np.ndarray | None = None, jobs: int = 1,
    on_done: Callable[[int, int], None] | None = None, cluster: str | None = None, seeds: int = 1,
) -> dict[str, Any]:
    """Probe every configuration (in ``jobs`` processes, or on the Dask cluster at ``cluster``: see
    actstat.executor) and return the compare document. ``seeds`` > 1: each configuration over seeds
    S..S+N-1 (actstat.seeds; the rows' figures are medians, ``seeds_fired`` counts each kind's seeds)."""
    for c in configs:
        validate(c)  # every error before any work
    names = labels(configs)
    from .seeds import aggregate, seed_configs

    items = [s for c in configs for s in seed_configs(c, seeds)]
    # longest first, so that no worker is left with a long probe at the end (results keep their order)
    runs: list[dict[str, Any]] = run_tasks(_probe, items, shared=x, jobs=jobs, cluster=cluster, cost=_cost,
                                           on_done=on_done)
    docs = [aggregate(runs[i * seeds:(i + 1) * seeds]) for i in range(len(configs))]
    rows = [summarize(d, n) for d, n in zip(docs, names)]
    if seeds > 1:
        for r, d in zip(rows, docs):
            r["seeds_fired"] = dict(d["seeds"]["fired"])
    warnings = [{"config": n, **w} for d, n in zip(docs, names) for w in d["warnings"]]
    return {
        "actstat_version": __version__,
        "seed": configs[0].seed if configs else None,
        **({"seeds": {"n": seeds, "fail_rule": FAIL_RULE}} if seeds > 1 else {}),
        "batch": docs[0]["config"]["batch"] if docs else None,
        "input": docs[0]["config"]["input"] if docs else None,
        "thresholds": docs[0]["thresholds"] if docs else {},
        "configs": rows,
        "curves": [{"config": n, "std": [L["std"] for L in d["layers"]], "mean": [L["mean"] for L in d["layers"]],
                    "grad_rms": [L["grad"]["rms"] for L in d["layers"]] if "grad" in d["layers"][0] else None}
                   for d, n in zip(docs, names)],
        "warnings": warnings,
    }
