"""Hyperparameter search as the lecture notes describe it: random search (Bergstra and Bengio 2012) over
ranges, learning rate and weight decay drawn on a log scale, coarse to fine in stages. Pure numpy.

A search space is a list of ``Dim`` (one per searched option of ``actstat train``):

- ``log``: v = 10 ** uniform(log10 LO, log10 HI)        (``--lr 1e-6:1e-2``, ``--weight-decay 1e-8:1e-4``)
- ``linear``: v = uniform(LO, HI)                        (``--dropout 0:0.5``; ``log:LO:HI`` forces a log scale)
- ``int`` / ``logint``: the same, rounded to an integer  (``--batch-size 16:256``, ``--width``, ``--layers``)
- ``choice``: one of the listed values, equally likely   (``--optimizer sgd,momentum,adam``, ``--dropout 0,0.5``)

Stage 1 draws ``trials`` configurations and trains each for the base budget. Each next stage draws
``trials`` more from narrowed ranges and trains twice as long (``STAGE_GROWTH``): a range shrinks to the
span of its best trials (the best quarter, at least two) plus a margin of a tenth of its width; when the
single best value lies in the outer tenth of the range, that side is instead pushed out by half the
width (the best may lie beyond), within the option's own limits; a list keeps the values of its best
trials. Every trial trains with the same ``--seed`` (same data split, same initial weights when the
network does not change), so trials differ only by their hyperparameters; runs whose loss explodes
(above 3x its initial value, or not finite) stop early (actstat.training's rule) and rank last.

Trials are drawn from ``SeedSequence([seed, stage])``, and every trial is a pure function of its
configuration: the same command gives the same trials and the same results whatever runs them
(``jobs``, ``cluster``: actstat.executor).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from .errors import ConfigError
from .executor import run_tasks
from .training import TrainConfig, train
from .training.datasets import Dataset
from .training.loop import DEFAULT_EPOCHS, load_for, resolve

STAGE_GROWTH = 2  # each stage trains this many times longer than the one before
TOP_FRACTION = 0.25  # a stage narrows its ranges around this share of its trials (at least two)
EDGE = 0.1  # "at the edge": within this share of the range's width from an end
MARGIN = 0.1  # narrowed ranges keep this share of the old width beyond their best trials

# searchable options: kind of a LO:HI range, and the option's own limits (closed; None: unbounded)
NUMERIC = {
    "lr": ("log", 0.0, None), "weight_decay": ("log", 0.0, None),
    "dropout": ("linear", 0.0, 0.99), "gain": ("linear", 0.0, None), "bias_std": ("linear", 0.0, None),
    "batch_size": ("int", 1, None), "width": ("int", 1, 100_000), "layers": ("int", 1, 1000),
}
CHOICE = ("optimizer", "act", "init")
SEARCHABLE = (*NUMERIC, *CHOICE)
LABELS = {"lr": "lr", "weight_decay": "weight decay", "batch_size": "batch size", "bias_std": "bias std"}


def label(name: str) -> str:
    """The notes' name of an option: "weight decay"."""
    return LABELS.get(name, name.replace("_", " "))


@dataclass(frozen=True)
class Dim:
    """One searched option: kind in log, linear, int, logint (lo..hi) or choice (values)."""

    name: str
    kind: str
    lo: float = 0.0
    hi: float = 0.0
    values: tuple[Any, ...] = ()

    @property
    def log(self) -> bool:
        return self.kind in ("log", "logint")

    @property
    def integer(self) -> bool:
        return self.kind in ("int", "logint")

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "choice":
            return {"name": self.name, "kind": self.kind, "values": list(self.values)}
        lo, hi = (int(self.lo), int(self.hi)) if self.integer else (self.lo, self.hi)
        return {"name": self.name, "kind": self.kind, "lo": lo, "hi": hi}

    def describe(self) -> str:
        if self.kind == "choice":
            return f"{label(self.name)}:{','.join(map(str, self.values))}"
        lo, hi = (int(self.lo), int(self.hi)) if self.integer else (self.lo, self.hi)
        return f"{label(self.name)}:{lo:.3g}..{hi:.3g}{' (log)' if self.log else ''}"

    def sample(self, rng: np.random.Generator) -> Any:
        if self.kind == "choice":
            return self.values[int(rng.integers(len(self.values)))]
        t = float(rng.uniform(*self._t(self.lo, self.hi)))
        v = 10.0 ** t if self.log else t
        if self.integer:
            return int(min(max(round(v), self.lo), self.hi))
        return float(min(max(v, self.lo), self.hi))

    def _t(self, *vs: float) -> tuple[float, ...]:
        return tuple(math.log10(v) for v in vs) if self.log else vs


def _number(text: str, name: str, integer: bool) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ConfigError(f"--{name.replace('_', '-')}: {text!r} is not a number") from None
    if not math.isfinite(v):
        raise ConfigError(f"--{name.replace('_', '-')}: {text!r} is not a finite number")
    if integer and v != int(v):
        raise ConfigError(f"--{name.replace('_', '-')}: {text!r} is not a whole number")
    return v


def parse_dim(name: str, text: str) -> Dim | None:
    """``--NAME TEXT`` as a searched option: LO:HI, log:LO:HI, lin:LO:HI, or a comma list; None for a
    single value (then it is an ordinary train option). ConfigError when malformed or out of limits."""
    if name not in SEARCHABLE:
        raise ConfigError(f"--{name.replace('_', '-')} cannot be searched (searchable: "
                          f"{', '.join('--' + s.replace('_', '-') for s in SEARCHABLE)})")
    opt = f"--{name.replace('_', '-')}"
    text = text.strip()
    if name in CHOICE:
        values = tuple(v.strip() for v in text.split(",") if v.strip())
        if ":" in text and name != "optimizer" and name != "init":
            raise ConfigError(f"{opt} takes a list of names, not a range")
        if not values:
            raise ConfigError(f"{opt}: give one or more comma-separated values")
        return Dim(name, "choice", values=values) if len(values) > 1 else None
    kind, lo_, hi_ = NUMERIC[name]
    integer = kind == "int"
    if "," in text:
        vals = [_number(v, name, integer) for v in text.split(",")]
        for v in vals:
            _check_limits(opt, v, lo_, hi_, positive=kind == "log")
        vals_t = tuple(int(v) if integer else v for v in vals)
        return Dim(name, "choice", values=vals_t)
    parts = text.split(":")
    if len(parts) == 1:
        return None
    if len(parts) == 3 and parts[0] in ("log", "lin"):
        kind = ("logint" if integer else "log") if parts[0] == "log" else ("int" if integer else "linear")
        parts = parts[1:]
    if len(parts) != 2:
        raise ConfigError(f"{opt} {text!r}: give LO:HI, log:LO:HI, lin:LO:HI or a comma-separated list")
    lo, hi = (_number(p, name, integer) for p in parts)
    if not lo < hi:
        raise ConfigError(f"{opt} {text!r}: LO must be below HI")
    log = kind in ("log", "logint")
    _check_limits(opt, lo, lo_, hi_, positive=log)
    _check_limits(opt, hi, lo_, hi_, positive=log)
    return Dim(name, kind, lo, hi)


def _check_limits(opt: str, v: float, lo: float | None, hi: float | None, positive: bool) -> None:
    if positive and v <= 0:
        raise ConfigError(f"{opt}: a log-scale range needs values above 0, got {v:g}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ConfigError(f"{opt}: {v:g} is outside [{lo:g}, {'inf' if hi is None else format(hi, 'g')}]")


def narrow(dim: Dim, best: Sequence[Any]) -> Dim:
    """The dimension for the next stage, from its values in the best trials (``best[0]`` the best)."""
    if not best:
        return dim
    if dim.kind == "choice":
        keep = tuple(v for v in dim.values if v in set(best))
        return replace(dim, values=keep) if len(keep) > 1 else replace(dim, values=keep or dim.values)
    lo, hi = dim._t(dim.lo, dim.hi)
    ts = [dim._t(float(v))[0] for v in best]
    w = hi - lo
    new_lo, new_hi = max(lo, min(ts) - MARGIN * w), min(hi, max(ts) + MARGIN * w)
    if ts[0] <= lo + EDGE * w:
        new_lo = lo - 0.5 * w
    if ts[0] >= hi - EDGE * w:
        new_hi = hi + 0.5 * w
    if new_hi - new_lo < 0.02 * w:  # every best trial at one value: keep some room around it
        new_lo, new_hi = new_lo - 0.01 * w, new_hi + 0.01 * w
    v_lo, v_hi = (10.0 ** new_lo, 10.0 ** new_hi) if dim.log else (new_lo, new_hi)
    _, limit_lo, limit_hi = NUMERIC[dim.name]
    if limit_lo is not None:
        v_lo = max(v_lo, limit_lo)
        if dim.log and v_lo <= 0:
            v_lo = dim.lo
    if limit_hi is not None:
        v_hi = min(v_hi, limit_hi)
    if dim.integer:
        v_lo, v_hi = math.floor(v_lo), math.ceil(v_hi)
        if v_lo == v_hi:
            v_hi = v_lo + 1
    if not v_lo < v_hi:
        return dim
    return replace(dim, lo=float(v_lo), hi=float(v_hi))


def apply(base: TrainConfig, params: dict[str, Any]) -> TrainConfig:
    """``base`` with a trial's values (width and layers rebuild the widths)."""
    p = dict(params)
    widths = base.widths
    if "width" in p or "layers" in p:
        widths = (int(p.pop("width", base.widths[0])),) * int(p.pop("layers", len(base.widths)))
    return replace(base, widths=widths, **p)


def stage_budget(base: TrainConfig, stage: int) -> TrainConfig:
    """``base`` trained ``STAGE_GROWTH ** (stage - 1)`` times longer (steps or epochs, as given)."""
    f = STAGE_GROWTH ** (stage - 1)
    if base.steps is not None:
        return replace(base, steps=base.steps * f)
    return replace(base, epochs=(base.epochs or DEFAULT_EPOCHS) * f)


def draw(space: Sequence[Dim], trials: int, seed: int, stage: int) -> list[dict[str, Any]]:
    """``trials`` parameter sets, the same for the same (space, seed, stage)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, stage]))
    return [{d.name: d.sample(rng) for d in space} for _ in range(trials)]


def _f(x: Any) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def run_trial(task: tuple[int, int, dict[str, Any], TrainConfig], data: Dataset) -> dict[str, Any]:
    """One trial: train, and keep what the ranking, the table and the pictures need."""
    trial, stage, params, cfg = task
    doc = train(replace(cfg, overlap=False), data)  # (a sweep runs its tasks side by side instead)
    cps = doc["checkpoints"]
    return {
        "type": "trial", "trial": trial, "stage": stage, "params": params,
        "steps": doc["config"]["steps"], "epochs": doc["config"]["epochs"], "lr": doc["config"]["lr"],
        "val_acc": _f(doc["final"]["val_acc"]), "train_acc": _f(doc["final"]["train_acc"]),
        "loss": _f(doc["final"]["loss"]), "stopped_early": doc["stopped_early"],
        "curve": {"step": [c["step"] for c in cps], "loss": [c["loss"] for c in cps],
                  "train_acc": [c["train_acc"] for c in cps], "val_acc": [c["val_acc"] for c in cps]},
    }


def _trial_cost(task: tuple[int, int, dict[str, Any], TrainConfig]) -> float:
    cfg = task[3]
    return float((cfg.steps or 1) * (cfg.epochs or 1) * sum(w * w for w in cfg.widths) * (cfg.batch_size or 100))


def rank_key(rec: dict[str, Any]) -> tuple[bool, float, int]:
    """Best first: finished runs before exploded ones, then validation accuracy, then trial number."""
    v = rec["val_acc"]
    return (rec["stopped_early"] is not None, -(v if v is not None else -1.0), rec["trial"])


def run_search(
    base: TrainConfig, space: Sequence[Dim], trials: int = 16, stages: int = 1, jobs: int = 1,
    cluster: str | None = None, on_trial: Callable[[dict[str, Any]], None] | None = None,
    on_done: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the search; returns its document. on_trial(record): each trial's record in trial order, as
    soon as it and the ones before it have finished (ndjson streaming). on_done(k, n): progress over
    all ``trials * stages`` trials."""
    from ._version import __version__

    if not space:
        raise ConfigError("nothing to search: give a range (LO:HI) or a list (A,B) for at least one option, "
                          "e.g. --lr 1e-6:1e-2")
    if not 1 <= trials <= 100_000:
        raise ConfigError(f"--trials must be from 1 to 100000, got {trials}")
    if not 1 <= stages <= 10:
        raise ConfigError(f"--stages must be from 1 to 10, got {stages}")
    if not base.val_fraction > 0:
        raise ConfigError("search ranks trials by validation accuracy: --val-fraction must be above 0")
    names = [d.name for d in space]
    if len(set(names)) != len(names):
        raise ConfigError("an option is searched twice")
    # every error before any work: the base and each range's ends
    resolve(base)
    for d in space:
        for v in (d.values if d.kind == "choice" else (d.lo, d.hi)):
            resolve(apply(base, {d.name: int(v) if d.integer else v}))
    data = load_for(base)
    if data.X_val.shape[0] == 0:
        raise ConfigError("search ranks trials by validation accuracy: the validation split is empty")
    records: list[dict[str, Any]] = []
    stage_docs = []
    total = trials * stages
    current = list(space)
    for stage in range(1, stages + 1):
        budget = stage_budget(base, stage)
        params = draw(current, trials, base.seed, stage)
        first = len(records) + 1
        tasks = [(first + k, stage, p, apply(budget, p)) for k, p in enumerate(params)]
        offset = len(records)

        def progress(k: int, n: int, offset: int = offset) -> None:
            if on_done:
                on_done(offset + k, total)

        def stream(i: int, rec: dict[str, Any]) -> None:
            if on_trial:
                on_trial(rec)

        got = run_tasks(run_trial, tasks, shared=data, jobs=jobs, cluster=cluster, cost=_trial_cost,
                        on_done=progress, on_result=stream)
        records.extend(got)
        stage_docs.append({"stage": stage, "trials": trials, "steps": got[0]["steps"], "epochs": got[0]["epochs"],
                           "space": [d.to_dict() for d in current]})
        if stage < stages:
            ranked = sorted(got, key=rank_key)
            ok = [r for r in ranked if r["stopped_early"] is None and r["val_acc"] is not None]
            top = ok[:max(2, math.ceil(TOP_FRACTION * len(got)))]
            current = [narrow(d, [r["params"][d.name] for r in top]) for d in current]
    ranked = sorted(records, key=rank_key)
    cfg = asdict(base)
    cfg.pop("force", None)
    cfg["widths"] = list(base.widths)
    cfg["thresholds"] = dict(base.thresholds)
    return {
        "actstat_version": __version__, "kind": "search", "config": cfg,
        "data": {"name": data.name, "train": int(data.X_train.shape[0]), "val": int(data.X_val.shape[0]),
                 "features": data.features, "classes": data.classes},
        "searched": names, "stages": stage_docs, "trials": records,
        "ranking": [{"rank": k + 1, "trial": r["trial"], "val_acc": r["val_acc"],
                     "stopped_early": r["stopped_early"] is not None, "params": r["params"]}
                    for k, r in enumerate(ranked)],
        "best": ranked[0],
    }


def fmt_value(v: Any) -> str:
    """A value as the notes print it: 0.0092, 3.86e-07, 64, adam."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return str(v)
    return f"{v:.3g}"


def ranked_lines(doc: dict[str, Any], top: int | None = None) -> list[str]:
    """"Best-1 (val acc:0.83) | lr:0.0092, weight decay:3.86e-07", best first."""
    by_id = {r["trial"]: r for r in doc["trials"]}
    out = []
    for entry in doc["ranking"][:top]:
        r = by_id[entry["trial"]]
        acc = "n/a" if r["val_acc"] is None else f"{r['val_acc']:.2f}"
        params = ", ".join(f"{label(k)}:{fmt_value(v)}" for k, v in r["params"].items())
        line = f"Best-{entry['rank']} (val acc:{acc}) | {params}"
        if r["stopped_early"] is not None:
            line += f"  [stopped at step {r['stopped_early']['step']}: loss exploded]"
        out.append(line)
    return out
