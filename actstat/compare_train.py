"""Compare training runs: the cartesian product of option values (optimiser, init, learning rate,
weight decay, dropout, batch norm, ...), each trained on the same data split with the same seed,
summarised one row per run, with every run's loss curve kept for the overlaid picture. Pure numpy.

The data set is loaded once, here, and shared with every run (so every run sees the same split and the
same mini-batches' examples when its batch size is the same). With jobs > 1 the runs go to
``executor.run_tasks``; every run is a pure function of its configuration and the data, so the
document equals a serial run's, in the same order.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from ._version import __version__

# options that may take several values, in the order the product varies them (last fastest)
GRID_KEYS = ("optimizer", "act", "init", "layers", "width", "lr", "weight_decay", "batchnorm", "dropout")
SHORT = {"weight_decay": "wd", "dropout": "dropout", "lr": "lr", "layers": "layers", "width": "width"}


def expand(base: Any, grid: dict[str, Sequence[Any]]) -> list[Any]:
    """Every combination of the values in ``grid`` (keys from GRID_KEYS) applied to the TrainConfig
    ``base``; ``layers`` and ``width`` rebuild ``widths``."""
    keys = [k for k in GRID_KEYS if grid.get(k)]
    configs = []
    for values in itertools.product(*(grid[k] for k in keys)):
        d = dict(zip(keys, values))
        if "layers" in d or "width" in d:
            d["widths"] = (d.pop("width", base.widths[0]),) * d.pop("layers", len(base.widths))
        configs.append(replace(base, **d))
    return configs


def _value(cfg: Any, key: str) -> Any:
    if key == "layers":
        return len(cfg.widths)
    if key == "width":
        return cfg.widths[0] if len(set(cfg.widths)) == 1 else ",".join(map(str, cfg.widths))
    return getattr(cfg, key)


def labels(configs: Sequence[Any]) -> list[str]:
    """Short names from the options that differ between the runs (the optimiser when none does)."""
    varying = [k for k in GRID_KEYS if len({str(_value(c, k)) for c in configs}) > 1] or ["optimizer"]
    out = []
    for c in configs:
        parts = []
        for k in varying:
            v = _value(c, k)
            if k == "batchnorm":
                parts.append("bn" if v else "no-bn")
            elif k in ("optimizer", "act", "init"):
                parts.append(str(v))
            else:
                parts.append(f"{SHORT[k]}={v:g}" if isinstance(v, float) else f"{SHORT[k]}={v}")
        out.append(" ".join(parts))
    return out


def summarize(doc: dict[str, Any], label: str) -> dict[str, Any]:
    """One row: the run's options and the figures that tell runs apart."""
    c = doc["config"]
    cps = doc["checkpoints"]
    losses = [cp["loss"] for cp in cps if cp["loss"] is not None and math.isfinite(cp["loss"])]
    vals = [cp["val_acc"] for cp in cps if cp["val_acc"] is not None]
    final = doc["final"]
    stop = doc.get("stopped_early")
    return {
        "type": "run", "config": label, "optimizer": c["optimizer"], "act": c["act"], "init": c["init"],
        "layers": len(c["widths"]), "width": c["widths"][0] if len(set(c["widths"])) == 1
        else ",".join(map(str, c["widths"])),
        "lr": c["lr"], "weight_decay": c["weight_decay"], "batchnorm": c["batchnorm"], "dropout": c["dropout"],
        "steps": cps[-1]["step"] if cps else 0,
        "initial_loss": cps[0]["loss"] if cps else None,
        "final_loss": final["loss"], "min_loss": min(losses) if losses else None,
        "final_train_acc": final["train_acc"], "final_val_acc": final["val_acc"],
        "best_val_acc": max(vals) if vals else None,
        "stopped_early": stop["step"] if stop else None,
        "warnings": list(dict.fromkeys(w["kind"] for w in doc["warnings"])),
    }


def _cost(cfg: Any) -> float:
    """A run's work, roughly: steps x batch x the hidden layers' multiply-adds (the data's size is the
    same for every run, so it drops out of the comparison)."""
    per_row = sum(a * b for a, b in itertools.pairwise(cfg.widths)) + cfg.widths[0] + cfg.widths[-1]
    return float(cfg.steps or cfg.epochs or 10) * (cfg.batch_size or 100) * per_row


def _train(cfg: Any, data: Any) -> dict[str, Any]:
    from .training import train

    return train(replace(cfg, overlap=False), data)  # (a sweep runs its runs side by side instead)


def run_compare_train(configs: Sequence[Any], data: Any = None, jobs: int = 1, cluster: str | None = None,
                      on_done: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Train every configuration (on ``data``, or the first configuration's data set loaded once) and
    return the compare-train document: ``configs`` (one row per run), ``curves`` (each run's steps,
    loss, train and validation accuracy) and ``warnings`` (each with its run's ``config`` label)."""
    from .executor import run_tasks
    from .training.loop import load_for, resolve

    if not configs:
        raise ValueError("no configuration to train")
    for c in configs:
        resolve(c)  # every option error before any work
    if data is None:
        data = load_for(configs[0])
    names = labels(configs)
    docs: list[dict[str, Any]] = run_tasks(_train, list(configs), shared=data, jobs=jobs, cluster=cluster,
                                           cost=_cost, on_done=on_done)
    return {
        "actstat_version": __version__,
        "kind": "compare-train",
        "seed": configs[0].seed,
        "data": docs[0]["data"],
        "configs": [summarize(d, n) for d, n in zip(docs, names)],
        "curves": [{"config": n, "steps": [cp["step"] for cp in d["checkpoints"]],
                    "loss": [cp["loss"] for cp in d["checkpoints"]],
                    "train_acc": [cp["train_acc"] for cp in d["checkpoints"]],
                    "val_acc": [cp["val_acc"] for cp in d["checkpoints"]],
                    "stopped_early": d.get("stopped_early")} for d, n in zip(docs, names)],
        "warnings": [{"config": n, **w} for d, n in zip(docs, names) for w in d["warnings"]],
    }
