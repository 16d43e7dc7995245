"""Diagnoses: from per-layer statistics to named warnings with a fix. Returns data, never prints.

Rules (each threshold is a named default, overridable with ``--threshold KIND=VALUE``
and printed with every report):

* vanishing   layer RMS / input RMS < ``vanishing`` (0.1), or the RMS shrinks by a factor
              below ``vanishing_rate`` (0.75) per layer, averaged over the last up-to-3 layers
              (at least 2), which catches ReLU+Xavier's halving of the variance per layer.
* exploding   layer RMS / input RMS > ``exploding`` (10), or the RMS grows by more than
              ``exploding_rate`` (1.33) per layer on the same window, or any inf/NaN.
* saturation  fraction of outputs in the activation's flat region > ``saturation`` (0.25).
* collapse    std / |mean| < ``collapse`` (0.1): every unit outputs nearly the same non-zero value.
* dead        fraction of units that are 0 for every example > ``dead`` (0.2); ReLU-like only.
              (0.2, not lower: even ReLU+He loses ~10% of units by layer 10 at width 500, and
              ~30% by layer 30, as deep ReLU layers make the examples' codes ever more alike.)
* symmetry    every unit of the layer has the same incoming weights (and bias): exact.
* not_centered (informational) |mean| / RMS > ``not_centered`` (0.5).
* scale_mismatch  (the input) the largest per-feature std over the smallest > ``scale_mismatch``
              (100): one feature dominates the first layer; --preprocess standardize fixes it.
* unscaled_input  (the input, user data only) the RMS of the data is above ``unscaled_input`` (10)
              or below its inverse: raw, unstandardised features. The layers are then not judged
              against the input's RMS (the ``vanishing``/``exploding`` ratio rules, which would call a
              saturated layer "collapsing to zero"), only by the per-layer rates; the fix is
              --preprocess standardize.

Gradient mode (--grad), from the backward pass; r_l = RMS(dL/dh_l) / RMS(dL/dh_L), the
back-propagated gradient at layer l relative to the last layer (``norm_ratio_to_last``):

* vanishing_gradient  r_l < ``vanishing_gradient`` (0.1): an order of magnitude lost on the way
              back (tanh std 0.01: 1e-6 at layer 1; ReLU+Xavier over 10 layers: 0.04; ReLU+He: ~1).
* exploding_gradient  r_l > ``exploding_gradient`` (10), or inf/NaN in the gradients.
* zigzag (informational)  share of (example, unit) pairs, on the first 8 examples, whose gradient
              on the unit's incoming weights has a single sign > ``zigzag`` (0.9): the layer's
              inputs are all positive (sigmoid/ReLU outputs, raw positive features).

At a symmetric layer the root cause is the symmetry, so ``dead`` and ``collapse`` are not
reported there as well; at a vanished layer (RMS ratio below ``vanishing``) ``collapse`` is not
reported; at an overflowed layer (any inf/NaN) only ``exploding`` is; at a saturated layer
``vanishing`` is not (its outputs sit at the activation's flat ends, not at zero).

Each warning names its ``rule``: the threshold it was judged against (``vanishing`` or
``vanishing_rate``, ...; ``symmetry`` for the exact symmetry check), so that one summary line never
mixes two rules. Dead units are judged only on a batch of at least ``MIN_DEAD_BATCH`` (16) examples:
a live ReLU unit is 0 on all of B examples with probability about 2^-B, so on a smaller batch "zero
for every example" says little (``dead_judged``).

The ``hint`` written here is generic; ``actstat.suggest.assign_fixes`` replaces it with a concrete
change of options (``fix``) that follows from the activation's theory and is never the current setting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .activations import Activation
from .stats import LayerStats, MomentStats

# name -> (default, what it bounds). Order is the order printed.
THRESHOLDS: dict[str, tuple[float, str]] = {
    "vanishing": (0.1, "layer RMS / input RMS below this"),
    "vanishing_rate": (0.75, "per-layer RMS ratio (geometric mean over the last up-to-3 layers) below this"),
    "exploding": (10.0, "layer RMS / input RMS above this"),
    "exploding_rate": (1.33, "per-layer RMS ratio (geometric mean over the last up-to-3 layers) above this"),
    "saturation": (0.25, "fraction of outputs in the saturated region above this"),
    "collapse": (0.1, "std / |mean| of the outputs below this"),
    "dead": (0.2, "fraction of units zero for every example above this"),
    "not_centered": (0.5, "|mean| / RMS of the outputs above this"),
    "scale_mismatch": (100.0, "largest / smallest per-feature std of the input above this"),
    "unscaled_input": (10.0, "user data: RMS of the input (or its inverse) above this"),
    "vanishing_gradient": (0.1, "--grad: RMS of dL/dh at a layer / at the last layer below this"),
    "exploding_gradient": (10.0, "--grad: RMS of dL/dh at a layer / at the last layer above this"),
    "zigzag": (0.9, "--grad: share of units whose per-example weight gradient has one sign, above this"),
}

INFORMATIONAL = {"not_centered", "zigzag"}
FORWARD_KINDS = ("vanishing", "exploding", "saturation", "collapse", "dead", "symmetry", "not_centered",
                 "scale_mismatch", "unscaled_input")
GRADIENT_KINDS = ("vanishing_gradient", "exploding_gradient", "zigzag")
RATE_WINDOW = 3
MIN_DEAD_BATCH = 16


def dead_judged(batch: int) -> bool:
    """Whether a batch of ``batch`` examples can tell a dead unit from a live one (see the module doc)."""
    return batch >= MIN_DEAD_BATCH


def default_thresholds() -> dict[str, float]:
    return {k: v for k, (v, _) in THRESHOLDS.items()}


@dataclass(frozen=True)
class Diagnostic:
    """One warning. layer 0 is the input.

    rule: the threshold's name the value was judged against (``THRESHOLDS``; ``symmetry`` for the exact
    check). fix: the change of options the hint names, as command-line words (empty: none known).
    borderline: with one seed, whether the value lies within the expected seed-to-seed spread of its
    threshold (``actstat.seeds.mark_borderline``); None when not judged.
    """

    layer: int
    kind: str
    value: float
    threshold: float
    message: str
    hint: str
    rule: str = ""
    fix: tuple[str, ...] = ()
    borderline: bool | None = None

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["fix"] = list(self.fix)
        if self.borderline is None:
            d.pop("borderline")
        return d


@dataclass(frozen=True)
class LayerFacts:
    """What diagnose needs about one layer."""

    index: int
    stats: LayerStats
    symmetric: bool


def recommended_init(act: Activation) -> str:
    """The fan-in init that keeps the variance of this activation's outputs steady."""
    if act.name in ("relu", "leaky_relu", "maxout", "gelu", "silu", "elu", "softplus"):
        return "he"
    if act.name == "selu":
        return "lecun_normal"
    return "xavier"


def _fix(act: Activation) -> str:
    init = recommended_init(act)
    return f"use --init {init} for {act.name}, or --batchnorm"


def _rate(rms: Sequence[float], l: int) -> float | None:
    """Geometric-mean per-layer RMS ratio ending at layer l (1-based in ``rms``, rms[0] = input)."""
    k = min(RATE_WINDOW, l - 1)
    if k < 2:
        return None
    a, b = rms[l - k], rms[l]
    if not (a > 0 and math.isfinite(a) and math.isfinite(b)):
        return None
    return (b / a) ** (1.0 / k)


def diagnose(
    input_moments: MomentStats,
    layers: Sequence[LayerFacts],
    act: Activation,
    thresholds: dict[str, float] | None = None,
    feature_scale_ratio: float | None = None,
    user_data: bool = False,
    batch: int | None = None,
) -> list[Diagnostic]:
    """Forward-pass warnings, in layer order (input first). ``feature_scale_ratio``: the input's
    largest / smallest per-feature std (``data.feature_scale_ratio``); ``user_data``: the input is the
    user's data (so its scale may be raw); ``batch``: the examples per batch (dead units are judged only
    when ``dead_judged(batch)``; None: judged)."""
    t = default_thresholds() | (thresholds or {})
    out: list[Diagnostic] = []
    if feature_scale_ratio is not None and feature_scale_ratio > t["scale_mismatch"]:
        out.append(Diagnostic(
            0, "scale_mismatch", feature_scale_ratio, t["scale_mismatch"],
            f"the input features' scales differ {feature_scale_ratio:.3g}x: the largest dominates the first"
            " layer's pre-activations (and any distance between examples)",
            "--preprocess standardize", "scale_mismatch",
        ))
    rms0 = input_moments.rms
    unscaled = False
    if user_data and math.isfinite(rms0) and rms0 > 0:
        lim = t["unscaled_input"]
        if lim > 0 and (rms0 > lim or rms0 < 1.0 / lim):
            unscaled = True
            out.append(Diagnostic(
                0, "unscaled_input", rms0, lim if rms0 > lim else 1.0 / lim,
                f"the input data are not standardised (RMS {rms0:.3g}): the first layer sees raw-scale"
                " pre-activations, so the layers are judged by their per-layer rates only, not against the"
                " input's RMS",
                "--preprocess standardize", "unscaled_input",
            ))
    if math.isfinite(input_moments.mean) and rms0 > 0 and abs(input_moments.mean) / rms0 > t["not_centered"]:
        out.append(Diagnostic(
            0, "not_centered", abs(input_moments.mean) / rms0, t["not_centered"],
            "the inputs are not zero-centred: the first layer's weight gradients share a sign per unit",
            "--preprocess center", "not_centered",
        ))
    rms = [rms0] + [f.stats.rms for f in layers]
    fix = _fix(act)
    judge_dead = batch is None or dead_judged(batch)
    for f in layers:
        l, s = f.index, f.stats
        m = s.moments
        if f.symmetric:
            out.append(Diagnostic(
                l, "symmetry", 1.0, 1.0,
                "every unit has the same incoming weights, so all compute the same thing and get the same"
                " gradient: symmetry is never broken"
                + (" (and with zero weights no signal gets through)" if m.std == 0 and m.mean == 0 else ""),
                "use a random init (e.g. --init " + recommended_init(act) + ")", "symmetry",
            ))
        ratio = m.rms / rms0 if rms0 > 0 else math.inf
        rate = _rate(rms, l)
        if m.nonfinite_frac > 0 or not math.isfinite(m.rms):
            out.append(Diagnostic(
                l, "exploding", math.inf, t["exploding"],
                f"activations overflowed: {m.nonfinite_frac:.1%} of the outputs are inf or NaN",
                "lower the weight scale: " + fix, "exploding",
            ))
            continue  # past an overflow the other figures mean nothing
        saturated = s.saturated_frac is not None and s.saturated_frac > t["saturation"]
        # raw-scale data: a ratio to the input's RMS says nothing about the network
        grow = not unscaled and ratio > t["exploding"]
        shrink = not unscaled and ratio < t["vanishing"]
        vanished = shrink and not saturated
        if grow or (rate is not None and rate > t["exploding_rate"]):
            out.append(Diagnostic(
                l, "exploding", ratio if grow else rate, t["exploding"] if grow else t["exploding_rate"],
                f"the output RMS is {ratio:.3g}x the input's" if grow
                else f"the output RMS grows {rate:.3g}x per layer",
                "lower the weight scale: " + fix, "exploding" if grow else "exploding_rate",
            ))
        elif not saturated and (shrink or (rate is not None and rate < t["vanishing_rate"])):
            out.append(Diagnostic(
                l, "vanishing", ratio if shrink else rate, t["vanishing"] if shrink else t["vanishing_rate"],
                (f"the output RMS is {ratio:.3g}x the input's: activations collapse to zero, so the"
                 " gradients on the next weights vanish too") if shrink
                else f"the output RMS shrinks {rate:.3g}x per layer: deeper layers will see almost nothing",
                fix, "vanishing" if shrink else "vanishing_rate",
            ))
        if saturated:
            assert s.saturated_frac is not None
            out.append(Diagnostic(
                l, "saturation", s.saturated_frac, t["saturation"],
                f"{s.saturated_frac:.0%} of the outputs sit where {act.name}'s derivative is ~0"
                f" ({act.saturation_rule}): local gradients vanish",
                f"the weights are too large for {act.name}: " + fix, "saturation",
            ))
        mean_abs = abs(m.mean)
        # a vanished signal is reported as such; its rounding residue is no "collapse"
        if (not f.symmetric and not vanished and mean_abs > 0 and m.std / mean_abs < t["collapse"]):
            out.append(Diagnostic(
                l, "collapse", m.std / mean_abs, t["collapse"],
                f"every unit outputs nearly {m.mean:.3g} whatever the input: many units are no better than one",
                f"the weights are too small for {act.name}: " + fix, "collapse",
            ))
        if (judge_dead and act.can_die and not f.symmetric and s.dead_frac is not None
                and s.dead_frac > t["dead"]):
            out.append(Diagnostic(
                l, "dead", s.dead_frac, t["dead"],
                f"{s.dead_frac:.0%} of the units are 0 for every example: they get no gradient and never recover",
                "--act leaky_relu, or --batchnorm", "dead",
            ))
        if not vanished and m.rms > 0 and mean_abs / m.rms > t["not_centered"]:
            out.append(Diagnostic(
                l, "not_centered", mean_abs / m.rms, t["not_centered"],
                f"{act.name} outputs are not zero-centred (informational): the next layer's weight"
                " gradients share a sign per unit, so updates zig-zag",
                "a zero-centred activation (--act tanh)", "not_centered",
            ))
    return out


def diagnose_gradients(grads: Sequence[Any], act: Activation, thresholds: dict[str, float] | None = None,
                       ) -> list[Diagnostic]:
    """Backward-pass warnings; ``grads[i]`` is layer i+1's ``backward.GradStats``."""
    t = default_thresholds() | (thresholds or {})
    out: list[Diagnostic] = []
    fix = _fix(act)
    for l, g in enumerate(grads, start=1):
        finite = all(math.isfinite(v) for v in (g.rms, g.pre_rms, g.weight_norm))
        r = g.norm_ratio_to_last
        if not finite:
            out.append(Diagnostic(
                l, "exploding_gradient", math.inf, t["exploding_gradient"],
                "the backward pass overflowed: gradients at this layer are inf or NaN",
                "lower the weight scale: " + fix, "exploding_gradient",
            ))
        elif r is not None and r > t["exploding_gradient"]:
            out.append(Diagnostic(
                l, "exploding_gradient", r, t["exploding_gradient"],
                f"the gradient reaching this layer is {r:.3g}x the last layer's: it grows on the way back",
                "lower the weight scale: " + fix, "exploding_gradient",
            ))
        elif r is not None and r < t["vanishing_gradient"]:
            out.append(Diagnostic(
                l, "vanishing_gradient", r, t["vanishing_gradient"],
                f"the gradient reaching this layer is {r:.3g}x the last layer's: early layers will barely learn",
                fix + (" (sigmoid's derivative is at most 0.25: prefer tanh or relu)" if act.name == "sigmoid"
                       else ""), "vanishing_gradient",
            ))
        if g.zigzag is not None and g.zigzag > t["zigzag"]:
            out.append(Diagnostic(
                l, "zigzag", g.zigzag, t["zigzag"],
                f"{g.zigzag:.0%} of the units get a weight gradient of one sign per example (informational):"
                " the layer's inputs are all positive, so updates zig-zag",
                "zero-centred inputs: --preprocess center/standardize for layer 1, tanh or --batchnorm after",
                "zigzag",
            ))
    return out
