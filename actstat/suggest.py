"""Fixes that are measured: for every warning a concrete change of options that follows from the
activation's own theory and is never the current setting (``assign_fixes``), and, for ``--suggest``,
every candidate re-run with the same seeds and ranked by what it does to the warned figures
(``run_suggest``). Pure numpy (no click).

Candidates, in the order theory prefers them (the first that differs from the current setting is the
fix printed without ``--suggest``):

* signal scale (vanishing, exploding, saturation, collapse, vanishing_gradient, exploding_gradient):
  the variance-preserving init, then ``--batchnorm``, then ``--init lsuv``, then fewer layers, then the
  activation's usual init (``recommended_init``: --suggest shows when that advice makes things worse). The
  variance-preserving init is ``--init critical`` (the sigma_w with chi_1 = 1, ``theory``) for a
  one-piece activation that has one, and for maxout of k pieces ``--init xavier --gain g`` with
  g = 1/sqrt(E[(max of k N(0,1))^2]) (g = 1 for k = 2: the max of two pieces keeps the variance at
  sigma_w = 1, not He's sqrt 2). It is left out when the mean-field map predicts that the critical
  weights drive more than the saturation threshold of the units into the flat region at the last
  layer (sigmoid: sigma_w = 10.1; there batch norm comes first). With raw user data (unscaled_input,
  scale_mismatch) ``--preprocess standardize`` comes first.
* dead: ``--act leaky_relu`` (a leaky unit cannot die), ``--batchnorm``, ``--init lsuv``.
* symmetry: the variance-preserving init, the activation's usual init (``recommended_init``),
  ``--init lsuv`` (batch norm cannot break a symmetry).
* not_centered, zigzag: ``--preprocess center`` (then ``standardize``) at the input and layer 1,
  ``--act tanh`` after it.
* scale_mismatch, unscaled_input: ``--preprocess standardize``.

Ranking (``run_suggest``): each candidate is probed with the same seeds; candidates are ordered by
the number of alarms (non-informational warnings, counted per layer and kind, averaged over the seeds)
they leave, then by how close they bring the warned figures to healthy (the sum of |log(figure / 1)| for
ratios, of the fraction for shares). A figure is "better" when its distance to healthy shrinks.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .activations import Activation, get_activation
from .diagnostics import INFORMATIONAL, Diagnostic, default_thresholds, recommended_init
from .errors import ActstatError
from .initializers import get_initializer

SCALE_KINDS = ("vanishing", "exploding", "saturation", "collapse", "vanishing_gradient", "exploding_gradient")
RAW_DATA_KINDS = ("unscaled_input", "scale_mismatch")
MAX_CANDIDATES = 6


@dataclass(frozen=True)
class Fix:
    """A change of options: ``args`` as typed on the command line, ``changes`` to ProbeConfig's fields."""

    args: tuple[str, ...]
    changes: tuple[tuple[str, Any], ...]
    reason: str

    @property
    def label(self) -> str:
        return " ".join(self.args)

    def apply(self, cfg: Any) -> Any:
        d = dict(self.changes)
        if "layers" in d:
            d["widths"] = cfg.widths[: d.pop("layers")]
        return replace(cfg, **d)


def _normal(cfg: Any) -> tuple[Any, ...]:
    """The settings a fix may change, with names resolved (aliases and default parameters)."""
    return (get_activation(cfg.act).spec, get_initializer(cfg.init).spec, float(cfg.gain), bool(cfg.batchnorm),
            cfg.preprocess, cfg.widths, float(cfg.bias_std), cfg.input)


def is_current(cfg: Any, fix: Fix) -> bool:
    """Whether applying ``fix`` leaves the configuration as it is."""
    return _normal(fix.apply(cfg)) == _normal(cfg)


def _gain_args(cfg: Any, g: float) -> tuple[str, ...]:
    return ("--gain", f"{g:.4g}") if abs(g - 1.0) > 1e-12 or cfg.gain != 1.0 else ()


@functools.lru_cache(maxsize=64)
def maxout_gain(k: int) -> float:
    """1/sqrt(E[M^2]), M the max of k independent N(0, 1): the gain on N(0, 1/fan_in) weights that keeps
    the pre-activations' variance from layer to layer (E[M^2] = 1 for k = 2 exactly)."""
    x = np.linspace(-12.0, 12.0, 240_001)
    dx = x[1] - x[0]
    from .activations import erf

    pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1.0 + erf(x / math.sqrt(2.0)))
    m2 = float(np.sum(x * x * k * pdf * cdf ** (k - 1)) * dx)
    g = 1.0 / math.sqrt(m2)
    return 1.0 if abs(g - 1.0) < 1e-6 else g  # k = 1, 2: exactly 1


# theory.critical_sigma_w at sigma_b = 0 for the registry's default activations, as theory computes it
# (tests/test_suggest.py checks each against theory.cached_critical_sigma_w): the search takes seconds
# (gelu: about 10 s), too long to add to every probe that warns. Other specs and biases ask theory.
KNOWN_CRITICAL: dict[str, float | None] = {
    "tanh": 1.0, "relu": math.sqrt(2.0), "leaky_relu:0.01": 1.4141428569978354, "sigmoid": 10.149263710019426,
    "elu:1": 1.0, "gelu": None, "silu": None, "softplus": None, "linear": 1.0,
}


@functools.lru_cache(maxsize=64)
def _critical(spec: str, bias_std: float) -> float | None:
    from .theory import cached_critical_sigma_w

    if bias_std == 0.0 and spec in KNOWN_CRITICAL:
        return KNOWN_CRITICAL[spec]
    try:
        return cached_critical_sigma_w(get_activation(spec), bias_std)
    except (ActstatError, ArithmeticError, ValueError):  # a theory without an answer here: no critical candidate
        return None


@functools.lru_cache(maxsize=64)
def predicted_saturation(spec: str, sigma_w: float, bias_std: float, layers: int) -> float:
    """The mean-field share of saturated outputs at the last of ``layers`` layers (N(0, 1) inputs)."""
    from .theory import variance_map

    act = get_activation(spec)
    if act.saturated is None:
        return 0.0
    try:
        q = variance_map(act, sigma_w, bias_std, 1.0, layers)[-1].q
    except (ActstatError, ArithmeticError, ValueError):
        return 0.0
    if q is None or not math.isfinite(q) or q <= 0:
        return 0.0
    z = np.linspace(-10.0, 10.0, 20_001)
    w = np.exp(-0.5 * z * z)
    w /= w.sum()
    u = math.sqrt(q) * z
    return float(np.sum(w[act.saturated(u, act.f(u))]))


def variance_preserving(cfg: Any, act: Activation) -> Fix | None:
    """The init that theory says keeps the signal's scale through this activation, or None."""
    if act.pieces > 1:
        g = maxout_gain(act.pieces)
        return Fix(("--init", "xavier", *_gain_args(cfg, g)), (("init", "xavier"), ("gain", g)),
                   f"maxout of {act.pieces} pieces keeps the variance at sigma_w = {g:.4g}"
                   f", as E[(max of {act.pieces} N(0,1))^2] = {1 / g ** 2:.4g}")
    sw = _critical(act.spec, float(cfg.bias_std))
    if sw is None:
        return None
    limit = (cfg.thresholds or {}).get("saturation", default_thresholds()["saturation"])
    if predicted_saturation(act.spec, sw, float(cfg.bias_std), cfg.layers) > limit:
        return None  # the critical weights would saturate the units (sigmoid)
    return Fix(("--init", "critical", *_gain_args(cfg, 1.0)), (("init", "critical"), ("gain", 1.0)),
               f"sigma_w {sw:.4g} makes {act.spec} critical (chi_1 = 1): signals neither shrink nor grow")


BATCHNORM = Fix(("--batchnorm",), (("batchnorm", True),), "batch norm renormalises every layer's pre-activations")
LSUV = Fix(("--init", "lsuv"), (("init", "lsuv"),), "LSUV rescales each layer to unit output variance on the batch")
STANDARDIZE = Fix(("--preprocess", "standardize"), (("preprocess", "standardize"),),
                  "standardised features: mean 0, std 1 each")
CENTER = Fix(("--preprocess", "center"), (("preprocess", "center"),), "zero-centred inputs")
TANH = Fix(("--act", "tanh"), (("act", "tanh"),), "tanh is zero-centred")
LEAKY = Fix(("--act", "leaky_relu"), (("act", "leaky_relu"),), "a leaky unit always passes some gradient: it cannot die")


def candidates(cfg: Any, act: Activation, kind: str, layer: int, raw_data: bool = False) -> list[Fix]:
    """The fixes for a ``kind`` warning at ``layer``, best by theory first, none equal to the current
    setting (module docstring)."""
    out: list[Fix | None] = []
    if kind in SCALE_KINDS:
        if raw_data:
            out.append(STANDARDIZE)
        vp = variance_preserving(cfg, act)
        out += [vp, BATCHNORM, LSUV]
        if kind in ("vanishing", "exploding") and layer > 1 and len(set(cfg.widths)) == 1:
            out.append(Fix(("--layers", str(layer - 1)), (("layers", layer - 1),),
                           f"the signal is still within bounds at layer {layer - 1}"))
        rec = recommended_init(act)  # the usual advice, last: --suggest measures whether it helps
        out.append(Fix(("--init", rec), (("init", rec),), f"the usual init for {act.name}"))
    elif kind == "dead":
        out += [LEAKY if act.name == "relu" else None, BATCHNORM, LSUV]
    elif kind == "symmetry":
        rec = recommended_init(act)
        out += [variance_preserving(cfg, act),
                Fix(("--init", rec), (("init", rec),), f"{rec} draws every weight independently"), LSUV]
    elif kind in ("not_centered", "zigzag"):
        if layer <= (0 if kind == "not_centered" else 1):
            out += [CENTER, STANDARDIZE]
        else:
            out += [TANH]
    elif kind in RAW_DATA_KINDS:
        out.append(STANDARDIZE)
    seen: set[tuple[str, ...]] = set()
    fixes = []
    for f in out:
        if f is not None and f.args not in seen and not is_current(cfg, f):
            seen.add(f.args)
            fixes.append(f)
    return fixes


def hint_of(fix: Fix) -> str:
    return f"{fix.label} ({fix.reason})"


NO_FIX = "none of actstat's candidate fixes differs from the current setting here"


def assign_fixes(cfg: Any, act: Activation, warnings: Sequence[Diagnostic]) -> list[Diagnostic]:
    """Every warning with its theory's best fix (``fix`` and ``hint``)."""
    raw = any(w.kind in RAW_DATA_KINDS for w in warnings)
    out = []
    for w in warnings:
        c = candidates(cfg, act, w.kind, w.layer, raw)
        out.append(replace(w, fix=c[0].args, hint=hint_of(c[0])) if c else replace(w, fix=(), hint=NO_FIX))
    return out


# --- measuring the candidates --------------------------------------------------------------------


def _layer_values(doc: dict[str, Any], f: Callable[[dict[str, Any]], Any]) -> list[float]:
    out = []
    for L in doc["layers"]:
        v = f(L)
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            out.append(float(v))
    return out


def _count(doc: dict[str, Any], kind: str) -> float:
    """Layers with a ``kind`` warning, per seed (with several seeds: the mean over them)."""
    n = len(doc.get("seeds", {}).get("list", [])) or 1
    return sum(w.get("seeds_fired", 1) for w in doc["warnings"] if w["kind"] == kind) / n


def figure(doc: dict[str, Any], kind: str) -> tuple[str, float | None, str]:
    """(what, value, how distance to healthy is measured: 'log' or 'share' or 'count') of ``kind``."""
    inp = doc["input"]["rms"]
    if kind in ("vanishing", "exploding"):
        ref = doc["layers"][0]["rms"] if any(w["kind"] == "unscaled_input" for w in doc["warnings"]) else inp
        name = "layer RMS / " + ("layer 1's" if ref is not inp else "input RMS")
        vals = [v / ref for v in _layer_values(doc, lambda L: L["rms"])] if ref else []
        if not vals:
            return (name, None, "log")
        return ("min " + name, min(vals), "log") if kind == "vanishing" else ("max " + name, max(vals), "log")
    if kind == "saturation":
        vals = _layer_values(doc, lambda L: L["saturated_frac"])
        return ("max saturated share", max(vals) if vals else 0.0, "share")
    if kind == "dead":
        vals = _layer_values(doc, lambda L: L["dead_frac"])
        return ("max dead share", max(vals) if vals else 0.0, "share")
    if kind == "collapse":
        vals = [abs(L["std"] / L["mean"]) for L in doc["layers"]
                if L["mean"] and L["std"] is not None and math.isfinite(L["mean"])]
        return ("min std / |mean|", min(vals) if vals else None, "low")
    if kind in ("vanishing_gradient", "exploding_gradient"):
        vals = _layer_values(doc, lambda L: (L.get("grad") or {}).get("norm_ratio_to_last"))
        if not vals:
            return ("gradient ratio to last", None, "log")
        return (("min", min(vals)) if kind == "vanishing_gradient" else ("max", max(vals)))[0] + \
            " gradient ratio to last", (min(vals) if kind == "vanishing_gradient" else max(vals)), "log"
    if kind == "not_centered":
        vals = [abs(L["mean"]) / L["rms"] for L in [doc["input"], *doc["layers"]]
                if L["rms"] and L["mean"] is not None]
        return ("max |mean| / RMS", max(vals) if vals else 0.0, "share")
    if kind == "zigzag":
        vals = _layer_values(doc, lambda L: (L.get("grad") or {}).get("zigzag"))
        return ("max one-sign share", max(vals) if vals else 0.0, "share")
    if kind == "unscaled_input":
        return ("input RMS", inp, "log")
    return (f"{kind} warnings", float(_count(doc, kind)), "count")


def distance(value: float | None, how: str) -> float:
    """How far a figure is from healthy (0 = healthy); inf for a missing or non-finite figure."""
    if value is None or not math.isfinite(value):
        return math.inf
    if how == "log":
        return abs(math.log(value)) if value > 0 else math.inf
    if how == "low":  # std/|mean|: healthy from 1 up
        return max(0.0, -math.log(value)) if value > 0 else math.inf
    return abs(value)


def alarms(doc: dict[str, Any]) -> float:
    return sum(_count(doc, k) for k in {w["kind"] for w in doc["warnings"] if w["kind"] not in INFORMATIONAL})


def _warned_kinds(doc: dict[str, Any]) -> list[str]:
    """The kinds that fired (in any seed): the alarms, or the informational ones when there is none."""
    kinds = list(dict.fromkeys(w["kind"] for w in doc["warnings"]))
    alarm = [k for k in kinds if k not in INFORMATIONAL]
    return alarm or kinds


def suggestion_fixes(cfg: Any, act: Activation, doc: dict[str, Any]) -> list[Fix]:
    """Every candidate for the document's warnings (alarms, or the informational ones when there are
    none), theory's order within each warning, at most ``MAX_CANDIDATES``."""
    kinds = _warned_kinds(doc)
    raw = any(w["kind"] in RAW_DATA_KINDS for w in doc["warnings"])
    out: dict[tuple[str, ...], Fix] = {}
    done: set[str] = set()
    for w in doc["warnings"]:  # (in layer order: each kind's first layer)
        if w["kind"] in kinds and w["kind"] not in done:
            done.add(w["kind"])
            for f in candidates(cfg, act, w["kind"], w["layer"], raw):
                out.setdefault(f.args, f)
    return list(out.values())[:MAX_CANDIDATES]


def rank(before: dict[str, Any], tried: Sequence[tuple[Fix, dict[str, Any]]]) -> dict[str, Any]:
    """The suggest document: the warned figures before, each candidate's after, ranked."""
    kinds = _warned_kinds(before)
    figs = {k: figure(before, k) for k in kinds}
    rows = []
    for fix, doc in tried:
        after = {}
        score = 0.0
        for k in kinds:
            name, b, how = figs[k]
            a = figure(doc, k)[1] if k not in RAW_DATA_KINDS else float(_count(doc, k))
            if k in RAW_DATA_KINDS:
                b, how = float(_count(before, k)), "count"
            db, da = distance(b, how), distance(a, how)
            after[k] = {"figure": name, "before": b, "after": a, "better": da < db, "worse": da > db,
                        "warned_layers": _count(doc, k), "warned_layers_before": _count(before, k)}
            score += min(da, 1e6)
        rows.append({"fix": list(fix.args), "label": fix.label, "reason": fix.reason,
                     "alarms": alarms(doc), "figures": after, "_score": score})
    rows.sort(key=lambda r: (r["alarms"], r["_score"]))
    for i, r in enumerate(rows, start=1):
        r["rank"] = i
        del r["_score"]
    best = next((r for r in rows if r["alarms"] < alarms(before)
                 or all(f["better"] for f in r["figures"].values())), None)
    return {"alarms_before": alarms(before), "kinds": kinds, "candidates": rows,
            "best": best["label"] if best else None}


def best_by_kind(suggest: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The best-ranked candidate that leaves fewest ``kind`` warnings and improved its figure."""
    rows = [r for r in suggest["candidates"] if kind in r["figures"] and r["figures"][kind]["better"]]
    if not rows:
        return None
    return min(rows, key=lambda r: (r["figures"][kind]["warned_layers"], r["rank"]))


def apply_measured(doc: dict[str, Any], suggest: dict[str, Any]) -> None:
    """The printed fix of each warned kind becomes its best measured candidate (when one improved it)."""
    for w in doc["warnings"]:
        r = best_by_kind(suggest, w["kind"])
        if r is not None:
            fig = r["figures"][w["kind"]]
            w["fix"] = r["fix"]
            w["hint"] = (f"{r['label']} ({r['reason']}; measured: {fig['figure']} {_g(fig['before'])}"
                         f" -> {_g(fig['after'])})")


def _g(v: float | None) -> str:
    return "-" if v is None else f"{v:.3g}"


def run_suggest(cfg: Any, x: np.ndarray | None, before: dict[str, Any], seeds: int = 1, jobs: int = 1,
                on_done: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Re-run the probe with every candidate fix (the same ``seeds``), rank them, and point the
    document's fixes at the measured best. Returns the suggest document (also stored as
    ``before["suggest"]``)."""
    from .seeds import run_seeds

    act = get_activation(cfg.act)
    fixes = suggestion_fixes(cfg, act, before)
    configs = [f.apply(cfg) for f in fixes]
    docs = run_seeds(configs, seeds, x, jobs, on_done) if configs else []
    result = rank(before, list(zip(fixes, docs)))
    apply_measured(before, result)
    before["suggest"] = result
    return result
