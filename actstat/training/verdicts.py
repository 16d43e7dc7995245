"""Babysitting the learning process (CS231n): from a training run's checkpoints to named warnings,
each with a value, the threshold it crossed, a message and a hint. Returns data, never prints.

Rules (defaults overridable with thresholds={KIND: VALUE}, ``--threshold KIND=VALUE``):

* initial_loss       the step-0 data loss L0 (training-mode mini-batch, no weight decay) is far from
                     ln(C), the loss of a softmax that has learnt nothing: L0 / ln(C) outside
                     [1 - t, 1 + t], t = ``initial_loss`` (0.5).
* loss_not_decreasing  the evaluation loss fell by less than ``loss_drop`` (1%) of its step-0 value
                     over the run: learning rate too low.
* loss_exploded      training stopped early: a mini-batch loss was NaN/inf or above ``explode`` (3) x
                     its step-0 value (the lecture's early-stop rule): learning rate too high.
* cannot_overfit     with ``overfit`` N: the final training accuracy is below ``overfit_acc`` (0.98).
* overfitting        final training accuracy - validation accuracy > ``overfitting_gap`` (0.15)
                     (both on the whole sets: the document's ``final``).
* update_ratio       per layer, the median over the checkpoints of ||delta W|| / ||W|| is below
                     ``update_ratio_low`` (1e-4) or above ``update_ratio_high`` (1e-2): the lecture
                     wants ~1e-3.
* dying_units        a layer's dead-unit share rose by more than ``dead_rise`` (0.1) from step 0 to
                     the last checkpoint (judged on batches of 16 or more, as the probe does).
* saturation_developing  a layer's saturated share rose by more than ``saturation_rise`` (0.1).
* vanishing_gradient  RMS(dL/dh_1) / RMS(dL/dh_L) at the last checkpoint is below
                     ``vanishing_gradient`` (0.1) while it was not at step 0: the early layers' gradients
                     vanished during training (at step 0 the probe's --grad verdict says so).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from ..errors import ConfigError

TRAIN_THRESHOLDS: dict[str, tuple[float, str]] = {
    "initial_loss": (0.5, "step-0 loss / ln(classes) further than this from 1"),
    "loss_drop": (0.01, "relative fall of the loss over the run below this"),
    "explode": (3.0, "a mini-batch loss above this x its initial value stops training"),
    "overfit_acc": (0.98, "--overfit: final training accuracy below this"),
    "overfitting_gap": (0.15, "final training accuracy - validation accuracy above this"),
    "update_ratio_low": (1e-4, "median ||delta W|| / ||W|| of a layer below this"),
    "update_ratio_high": (1e-2, "median ||delta W|| / ||W|| of a layer above this"),
    "dead_rise": (0.1, "rise of a layer's dead-unit share over the run above this"),
    "saturation_rise": (0.1, "rise of a layer's saturated share over the run above this"),
    "vanishing_gradient": (0.1, "RMS of dL/dh at layer 1 / at the last layer, at the end, below this"),
}
DEAD_MIN_BATCH = 16  # as the probe: on fewer examples a live unit is too often zero for all of them

TRAIN_KINDS = ("initial_loss", "loss_not_decreasing", "loss_exploded", "cannot_overfit", "overfitting",
               "update_ratio", "dying_units", "saturation_developing", "vanishing_gradient")


def default_thresholds() -> dict[str, float]:
    return {k: v for k, (v, _) in TRAIN_THRESHOLDS.items()}


def check_thresholds(given: dict[str, float]) -> None:
    for k, v in given.items():
        if k not in TRAIN_THRESHOLDS:
            from ..errors import UnknownNameError

            raise UnknownNameError("train threshold", k, list(TRAIN_THRESHOLDS))
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise ConfigError(f"threshold {k} must be a non-negative number, got {v}")


def thresholds_for(given: dict[str, float]) -> dict[str, float]:
    check_thresholds(given)
    return default_thresholds() | dict(given)


def _w(kind: str, step: int | None, layer: int | None, value: float | None, threshold: float, message: str,
       hint: str) -> dict[str, Any]:
    return {"kind": kind, "step": step, "layer": layer, "value": value, "threshold": threshold,
            "message": message, "hint": hint}


def babysit(doc: dict[str, Any], act: Any, t: dict[str, float]) -> list[dict[str, Any]]:
    """The warnings of a training run's document (checkpoints, stopped_early, config)."""
    cps = doc["checkpoints"]
    cfg = doc["config"]
    C = doc["data"]["classes"]
    out: list[dict[str, Any]] = []
    first, last = cps[0], cps[-1]
    lnC = math.log(C)
    L0 = first.get("batch_data_loss")
    if L0 is not None:
        ratio = L0 / lnC
        tol = t["initial_loss"]
        if abs(ratio - 1) > tol:
            bound = (1 + tol) * lnC if ratio > 1 else (1 - tol) * lnC
            out.append(_w("initial_loss", 0, None, L0, bound,
                          f"initial loss {L0:.4g} is far from ln({C}) = {lnC:.4g}, the loss of a softmax that"
                          " has learnt nothing",
                          "the output scores are too large (or too uniform) at initialisation: check the init's"
                          " scale, and --preprocess the inputs"))
    stopped = doc.get("stopped_early")
    if stopped is not None:
        s = stopped["step"]
        out.append(_w("loss_exploded", s, None, last.get("batch_loss"), t["explode"] * (first.get("batch_loss") or 0),
                      f"training stopped early at step {s}: {stopped['reason']}",
                      f"learning rate too high: lower --lr (now {cfg['lr']:g}) by 10x"))
    elif len(cps) > 1 and first["loss"] is not None and last["loss"] is not None and first["loss"] > 0:
        drop = (first["loss"] - last["loss"]) / first["loss"]
        if drop < t["loss_drop"]:
            out.append(_w("loss_not_decreasing", last["step"], None, drop, t["loss_drop"],
                          f"the loss went from {first['loss']:.4g} to {last['loss']:.4g} in {last['step']} steps"
                          f" ({100 * drop:+.2f}%, below {100 * t['loss_drop']:g}%)",
                          f"learning rate too low: raise --lr (now {cfg['lr']:g}) by 10x, or train longer"))
    fin = doc.get("final") or last
    if cfg.get("overfit") is not None and fin["train_acc"] is not None and fin["train_acc"] < t["overfit_acc"]:
        out.append(_w("cannot_overfit", last["step"], None, fin["train_acc"], t["overfit_acc"],
                      f"cannot overfit {cfg['overfit']} examples: training accuracy {fin['train_acc']:.3g} after"
                      f" {last['step']} steps",
                      "a network that cannot memorise a tiny subset has a bug or a bad set-up: check the labels,"
                      " remove --weight-decay/--dropout, raise --lr or train longer"))
    if cfg.get("overfit") is None and fin["train_acc"] is not None and fin["val_acc"] is not None:
        gap = fin["train_acc"] - fin["val_acc"]
        if gap > t["overfitting_gap"]:
            out.append(_w("overfitting", last["step"], None, gap, t["overfitting_gap"],
                          f"training accuracy {fin['train_acc']:.3g} and validation accuracy {fin['val_acc']:.3g}"
                          f" part by {gap:.3g}",
                          "the network memorises the training set: more data, --weight-decay, --dropout"
                          " or fewer steps"))
    for i in range(len(first["layers"])):
        out += _layer_warnings(cps, i, act, t, cfg)
    return out


def _layer_warnings(cps: list[dict[str, Any]], i: int, act: Any, t: dict[str, float],
                    cfg: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    first, last = cps[0]["layers"][i], cps[-1]["layers"][i]
    layer = first["layer"]
    step = cps[-1]["step"]
    ratios = [c["layers"][i]["update_ratio"] for c in cps if c["layers"][i]["update_ratio"] is not None]
    if ratios:
        med = statistics.median(ratios)
        if med < t["update_ratio_low"]:
            out.append(_w("update_ratio", step, layer, med, t["update_ratio_low"],
                          f"layer {layer}: updates are {med:.2g} of the weights (median over the checkpoints),"
                          " far below ~1e-3", f"learning rate too low for this layer: raise --lr (now {cfg['lr']:g})"))
        elif med > t["update_ratio_high"]:
            out.append(_w("update_ratio", step, layer, med, t["update_ratio_high"],
                          f"layer {layer}: updates are {med:.2g} of the weights (median over the checkpoints),"
                          " far above ~1e-3", f"learning rate too high for this layer: lower --lr (now {cfg['lr']:g})"))
    if len(cps) > 1:
        if (cfg["batch_size"] >= DEAD_MIN_BATCH and first["dead"] is not None and last["dead"] is not None
                and last["dead"] - first["dead"] > t["dead_rise"]):
            out.append(_w("dying_units", step, layer, last["dead"] - first["dead"], t["dead_rise"],
                          f"layer {layer}: the dead units went from {100 * first['dead']:.3g}% to"
                          f" {100 * last['dead']:.3g}% during training",
                          "units die when a large update pushes them negative for every input: lower --lr,"
                          " or --act leaky_relu"))
        if (first["saturated"] is not None and last["saturated"] is not None
                and last["saturated"] - first["saturated"] > t["saturation_rise"]):
            out.append(_w("saturation_developing", step, layer, last["saturated"] - first["saturated"],
                          t["saturation_rise"],
                          f"layer {layer}: the saturated share went from {100 * first['saturated']:.3g}% to"
                          f" {100 * last['saturated']:.3g}% during training",
                          "the pre-activations grow until the units saturate: lower --lr, --batchnorm,"
                          " or --weight-decay"))
    if i == 0 and len(cps) > 1 and len(cps[0]["layers"]) > 1:
        r0, r1 = _grad_ratio(cps[0]), _grad_ratio(cps[-1])
        thr = t["vanishing_gradient"]
        if r1 is not None and r1 < thr and (r0 is None or r0 >= thr):
            out.append(_w("vanishing_gradient", step, 1, r1, thr,
                          f"layer 1's gradient RMS fell to {r1:.2g} of the last layer's during training"
                          + (f" (it was {r0:.2g} at step 0)" if r0 is not None else ""),
                          "the early layers stop learning: --batchnorm, an init that keeps the variance"
                          f" (--init {'he' if act.can_die else 'xavier'}), or a lower --lr"))
    return out


def _grad_ratio(cp: dict[str, Any]) -> float | None:
    a, b = cp["layers"][0]["grad_rms"], cp["layers"][-1]["grad_rms"]
    if a is None or b is None or b <= 0:
        return None
    return a / b
