"""Several seeds, one verdict: the same network drawn N times (seeds S..S+N-1), each figure as the
median over the seeds with its spread, each warning with the number of seeds in which it fired; and,
with one seed, which warnings are borderline. Pure numpy (no click).

The multi-seed document (N > 1) is the single-seed probe document with, as documented additions:

* every figure of ``input`` and ``layers`` (also ``pre``, ``grad``, ``theory``) the median over the seeds;
  histograms summed over the seeds when their bin edges agree (a bounded activation, a fixed
  ``--hist-range``), else the first seed's (``seeds.hist`` says which);
* ``layers[i].spread``: ``[min, max]`` over the seeds of ``mean``, ``std``, ``rms``, ``saturated_frac``,
  ``zero_frac``, ``dead_frac`` (and ``grad``: ``rms``, ``norm_ratio_to_last``, ``update_ratio``);
* ``warnings[i].seeds_fired``: in how many seeds the warning (same layer, kind and rule) fired; its
  ``value`` is the median over those seeds, its message and fix those of the seed nearest that median;
* ``seeds``: ``{"n", "list", "fired": {kind: seeds in which it fired at any layer}, "fail_rule", "hist"}``.

With N = 1 the document is exactly the single-seed one (plus ``borderline`` on each warning, as for
every single-seed probe).

``--fail-on`` with N > 1 (``fails``): a kind fails the run when it fired, at any layer, in a strict
majority of the seeds (more than N/2). With N = 1: when it fired.

Borderline (one seed, ``borderline``): a warning is borderline when its value lies within two expected
seed-to-seed standard deviations of its threshold. Ratios of RMS figures (vanishing, exploding, the
gradient ratios) fluctuate log-normally over the weight draw: the standard deviation of ln(ratio)
across seeds is about sqrt(SPREAD_C * d / n), d the number of random layers the ratio spans and n
their (harmonic mean) width; a ratio within one layer (collapse, not_centered) spans d = 1. Shares (saturation, dead, zigzag) over the n units of a
layer: sqrt(SHARE_C * t (1 - t) / n) at the threshold t. symmetry, scale_mismatch and unscaled_input
do not depend on the seed and are never borderline.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from .diagnostics import RATE_WINDOW, Diagnostic

# calibrated on 8 seeds of relu/he, tanh/xavier, gelu/he, sigmoid/xavier at widths 64-128 and depths
# 10-20 (tests/test_seeds.py checks the model against measured spreads)
SPREAD_C = 3.0
SHARE_C = 4.0
BAND = 2.0
FAIL_RULE = "a kind fails when it fired, at any layer, in more than half of the seeds"
SPREAD_KEYS = ("mean", "std", "rms", "saturated_frac", "zero_frac", "dead_frac")
GRAD_SPREAD_KEYS = ("rms", "norm_ratio_to_last", "update_ratio")


# --- running ------------------------------------------------------------------------------------


def seed_configs(cfg: Any, n: int) -> list[Any]:
    return [replace(cfg, seed=cfg.seed + i) for i in range(n)]


def _probe_doc(cfg: Any, x: np.ndarray | None) -> dict[str, Any]:
    from .probe import run_probe

    return run_probe(cfg, x, prefetch=False).to_dict()


def _cost(cfg: Any) -> float:
    dims = (cfg.resolved_input_dim, *cfg.widths)
    return float(cfg.batch * sum(a * b for a, b in itertools.pairwise(dims)) * (3 if cfg.grad else 1))


def run_docs(configs: Sequence[Any], x: np.ndarray | None = None, jobs: int = 1,
             on_done: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """Probe documents of ``configs``, in order, through the executor: in this process when ``jobs`` <= 1,
    else in worker processes. Every probe runs on one BLAS thread either way (BLAS sums in a
    thread-dependent order), so --jobs 1 and --jobs N give the same bytes."""
    from .executor import run_tasks
    from .probe import validate

    for c in configs:
        validate(c)
    return run_tasks(_probe_doc, list(configs), shared=x, jobs=jobs, cost=_cost, on_done=on_done)


def run_seeds(configs: Sequence[Any], n: int, x: np.ndarray | None = None, jobs: int = 1,
              on_done: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """For each configuration, the document aggregated over its ``n`` seeds (all probes in one pool)."""
    items = [c for cfg in configs for c in seed_configs(cfg, n)]
    docs = run_docs(items, x, jobs, on_done)
    return [aggregate(docs[i * n:(i + 1) * n]) for i in range(len(configs))]


# --- aggregating --------------------------------------------------------------------------------


def _median(vals: Sequence[Any]) -> Any:
    """The median of numbers (None and NaN left out; None when nothing is left); non-numbers: the first."""
    first = vals[0]
    if isinstance(first, bool) or not isinstance(first, (int, float, type(None))):
        return first
    nums = [float(v) for v in vals if v is not None and not math.isnan(float(v))]
    if not nums:
        return None if all(v is None for v in vals) else math.nan
    m = float(np.median(np.array(nums)))
    if isinstance(first, int) and all(isinstance(v, int) for v in vals) and m == int(m):
        return int(m)
    return m


def _merge(objs: Sequence[Any]) -> Any:
    """Element-wise median of equally shaped JSON-like objects (histograms handled by the caller)."""
    first = objs[0]
    if isinstance(first, dict):
        return {k: _merge([o.get(k) if isinstance(o, dict) else None for o in objs]) if k != "hist" else first[k]
                for k in first}
    if isinstance(first, list):
        if all(isinstance(o, list) and len(o) == len(first) for o in objs):
            return [_merge([o[i] for o in objs]) for i in range(len(first))]
        return first
    return _median(list(objs))


def _hist_sum(hists: Sequence[dict[str, Any] | None]) -> tuple[dict[str, Any] | None, bool]:
    """Counts summed when every histogram has the same edges; else the first. (hist, summed)."""
    first = hists[0]
    if first is None or any(h is None or h["edges"] != first["edges"] for h in hists):
        return first, False
    counts = np.sum([h["counts"] for h in hists], axis=0)  # type: ignore[index]
    return {"edges": first["edges"], "counts": [int(c) for c in counts],
            "outside": int(sum(h["outside"] for h in hists))}, True  # type: ignore[index]


def _spread(vals: Sequence[Any]) -> list[float] | None:
    nums = [float(v) for v in vals if v is not None and not math.isnan(float(v))]
    return [min(nums), max(nums)] if nums else None


def aggregate(docs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One document from the probe documents of seeds S..S+N-1 (module docstring). N = 1: that document."""
    if len(docs) == 1:
        return docs[0]
    n = len(docs)
    out = copy.deepcopy(docs[0])
    summed = True
    for key in ("input",):
        out[key] = _merge([d[key] for d in docs])
        out[key]["hist"], ok = _hist_sum([d[key]["hist"] for d in docs])
        summed &= ok
    layers = []
    for i in range(len(docs[0]["layers"])):
        per = [d["layers"][i] for d in docs]
        L = _merge(per)
        L["hist"], ok = _hist_sum([p["hist"] for p in per])
        summed &= ok
        spread: dict[str, Any] = {k: _spread([p.get(k) for p in per]) for k in SPREAD_KEYS}
        if per[0].get("grad") is not None:
            L["grad"]["hist"], ok = _hist_sum([p["grad"]["hist"] for p in per])
            summed &= ok
            spread["grad"] = {k: _spread([p["grad"].get(k) for p in per]) for k in GRAD_SPREAD_KEYS}
        L["spread"] = spread
        layers.append(L)
    out["layers"] = layers
    groups: dict[tuple[int, str, str], list[dict[str, Any]]] = {}
    fired: dict[str, set[int]] = {}
    for s, d in enumerate(docs):
        for w in d["warnings"]:
            groups.setdefault((w["layer"], w["kind"], w.get("rule", "")), []).append(w)
            fired.setdefault(w["kind"], set()).add(s)
    warnings = []
    for ws in groups.values():
        med = _median([x["value"] for x in ws])
        # the message (which quotes a value) and fix of the seed whose value is nearest the median
        near = min(ws, key=lambda x: abs(x["value"] - med) if x["value"] is not None and med is not None
                   and math.isfinite(x["value"] - med) else math.inf)
        w = dict(near)
        w.pop("borderline", None)
        w["value"] = med
        w["seeds_fired"] = len(ws)
        warnings.append(w)
    warnings.sort(key=lambda w: w["layer"])  # stable: each layer's kinds in the order they were found
    out["warnings"] = warnings
    seeds = [d["config"]["seed"] for d in docs]
    out["seeds"] = {"n": n, "list": seeds, "fired": {k: len(v) for k, v in fired.items()},
                    "fail_rule": FAIL_RULE,
                    "hist": "summed over the seeds" if summed else f"seed {seeds[0]} only (bin edges differ)"}
    out["notes"] = list(docs[0].get("notes", [])) + [
        (f"figures: the median over {n} seeds ({seeds[0]}..{seeds[-1]}), spread: min..max over the seeds;"
        " each warning counts the seeds in which it fired")]
    return out


def seeds_fired(doc: dict[str, Any], kind: str) -> int:
    """In how many seeds ``kind`` fired at any layer (1 or 0 for a single-seed document)."""
    if "seeds" in doc:
        return int(doc["seeds"]["fired"].get(kind, 0))
    return int(any(w["kind"] == kind for w in doc["warnings"]))


def fails(doc: dict[str, Any], kinds: frozenset[str] | set[str]) -> bool:
    """Whether --fail-on ``kinds`` fails this document (FAIL_RULE; one seed: any such warning)."""
    n = doc["seeds"]["n"] if "seeds" in doc else 1
    return any(2 * seeds_fired(doc, k) > n for k in kinds)


# --- borderline (one seed) ----------------------------------------------------------------------


def _harmonic(ws: Sequence[int]) -> float:
    return len(ws) / sum(1.0 / w for w in ws) if ws else 1.0


def expected_spread(w: Diagnostic, widths: Sequence[int]) -> tuple[float, str] | None:
    """(standard deviation, 'log' or 'abs') of the warning's value across seeds, or None when the value
    does not depend on the seed (module docstring)."""
    L = len(widths)
    l = w.layer
    if w.kind in ("symmetry", "scale_mismatch", "unscaled_input") or l < 1 or not math.isfinite(w.value):
        return None
    if w.rule in ("vanishing", "exploding"):
        return math.sqrt(SPREAD_C * l / _harmonic(widths[:l])), "log"
    if w.rule in ("collapse", "not_centered"):  # a ratio within one layer: its own units only
        return math.sqrt(SPREAD_C / widths[l - 1]), "log"
    if w.rule in ("vanishing_rate", "exploding_rate"):
        k = min(RATE_WINDOW, l - 1)
        return math.sqrt(SPREAD_C * k / _harmonic(widths[l - k:l])) / k, "log"
    if w.rule in ("vanishing_gradient", "exploding_gradient"):
        return math.sqrt(SPREAD_C * (L - l + 1) / _harmonic(widths[l - 1:])), "log"
    if w.rule in ("saturation", "dead", "zigzag"):
        t = min(max(w.threshold, 1e-3), 1 - 1e-3)
        return math.sqrt(SHARE_C * t * (1 - t) / widths[l - 1]), "abs"
    return None


def borderline(w: Diagnostic, widths: Sequence[int]) -> bool:
    """Whether the value lies within BAND expected seed-to-seed deviations of its threshold."""
    sp = expected_spread(w, widths)
    if sp is None:
        return False
    sd, how = sp
    if how == "log":
        if w.value <= 0 or w.threshold <= 0:
            return False
        return abs(math.log(w.value / w.threshold)) < BAND * sd
    return abs(w.value - w.threshold) < BAND * sd


def mark_borderline(warnings: Sequence[Diagnostic], widths: Sequence[int]) -> list[Diagnostic]:
    return [replace(w, borderline=borderline(w, widths)) for w in warnings]
