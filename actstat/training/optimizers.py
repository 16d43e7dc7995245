"""The lectures' optimisers, each beside its formula. Pure numpy.

W is a parameter, dW its gradient, eta the learning rate (``--lr``); every state array (v, h, m, ...)
starts at 0 and has W's shape and dtype. ``step`` updates the parameters in place.

    sgd        W <- W - eta dW
    momentum   v <- alpha v - eta dW;  W <- W + v                                      (alpha 0.9)
    nesterov   v_prev = v;  v <- alpha v - eta dW;  W <- W - alpha v_prev + (1 + alpha) v  (alpha 0.9)
    adagrad    h <- h + dW * dW;  W <- W - eta dW / (sqrt(h) + eps)                     (eps 1e-7)
    rmsprop    h <- rho h + (1 - rho) dW * dW;  W <- W - eta dW / (sqrt(h) + eps)       (rho 0.99, eps 1e-7)
    adadelta   g <- rho g + (1 - rho) dW * dW;  d = sqrt(s + eps) / sqrt(g + eps) * dW;
               s <- rho s + (1 - rho) d * d;  W <- W - eta d                             (rho 0.95, eps 1e-6)
    adam       t <- t + 1;  m <- b1 m + (1 - b1) dW;  v <- b2 v + (1 - b2) dW * dW;
               m_hat = m / (1 - b1^t);  v_hat = v / (1 - b2^t);  W <- W - eta m_hat / (sqrt(v_hat) + eps)
                                                                              (b1 0.9, b2 0.999, eps 1e-8)

Adadelta (Zeiler 2012) needs no learning rate: the running mean s of squared updates scales the
step. It is written here with eta as a plain multiplier on the step, as PyTorch does, and its
default eta is 1, which is Zeiler's method exactly.

The optional ``:PARAM`` of ``--optimizer`` is alpha (momentum, nesterov), rho (rmsprop, adadelta)
or b1 (adam); each must be in [0, 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..names import parse_spec

Array = np.ndarray


@dataclass(frozen=True)
class OptimizerInfo:
    """A registry entry: the formula (for ``actstat list``), the parameter's meaning and defaults."""

    name: str
    formula: str
    param_meaning: str | None
    default_param: float | None
    default_lr: float


OPTIMIZERS: dict[str, OptimizerInfo] = {
    "sgd": OptimizerInfo("sgd", "W <- W - eta dW", None, None, 0.01),
    "momentum": OptimizerInfo("momentum", "v <- alpha v - eta dW; W <- W + v", "alpha", 0.9, 0.01),
    "nesterov": OptimizerInfo(
        "nesterov", "v_prev = v; v <- alpha v - eta dW; W <- W - alpha v_prev + (1 + alpha) v", "alpha", 0.9, 0.01),
    "adagrad": OptimizerInfo("adagrad", "h <- h + dW*dW; W <- W - eta dW / (sqrt(h) + 1e-7)", None, None, 0.01),
    "rmsprop": OptimizerInfo(
        "rmsprop", "h <- rho h + (1 - rho) dW*dW; W <- W - eta dW / (sqrt(h) + 1e-7)", "rho", 0.99, 0.001),
    "adadelta": OptimizerInfo(
        "adadelta", "g <- rho g + (1 - rho) dW*dW; d = sqrt(s + 1e-6) / sqrt(g + 1e-6) * dW;"
        " s <- rho s + (1 - rho) d*d; W <- W - eta d (eta 1: Zeiler's rule, no learning rate)", "rho", 0.95, 1.0),
    "adam": OptimizerInfo(
        "adam", "m <- b1 m + (1 - b1) dW; v <- b2 v + (1 - b2) dW*dW; W <- W - eta m_hat / (sqrt(v_hat) + 1e-8),"
        " m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t), b2 0.999", "b1", 0.9, 0.001),
}
OPTIMIZER_ALIASES = {"nag": "nesterov", "gd": "sgd"}

ADAGRAD_EPS = 1e-7
RMSPROP_EPS = 1e-7
ADADELTA_EPS = 1e-6
ADAM_B2 = 0.999
ADAM_EPS = 1e-8


class Optimizer:
    """Base: ``step(params, grads)`` updates each params[i] in place from grads[i].

    The state is kept per position in the list, so the same parameters must be passed in the same
    order at every step.
    """

    name = "sgd"

    def __init__(self, lr: float, param: float | None = None) -> None:
        self.lr = lr
        self.param = param
        self.state: list[dict[str, Array]] = []
        self.t = 0

    @property
    def formula(self) -> str:
        return OPTIMIZERS[self.name].formula

    @property
    def spec(self) -> str:
        return self.name if self.param is None else f"{self.name}:{self.param:g}"

    def step(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        if not self.state:
            self.state = [{} for _ in params]
        self.t += 1
        with np.errstate(all="ignore"):  # a diverging run overflows: the loop sees it in the loss
            for W, dW, s in zip(params, grads, self.state):
                self._update(W, dW, s)

    def _zeros(self, s: dict[str, Array], key: str, W: Array) -> Array:
        if key not in s:
            s[key] = np.zeros_like(W)
        return s[key]

    def _update(self, W: Array, dW: Array, s: dict[str, Array]) -> None:
        W -= W.dtype.type(self.lr) * dW


class SGD(Optimizer):
    name = "sgd"


class Momentum(Optimizer):
    name = "momentum"

    def _update(self, W: Array, dW: Array, s: dict[str, Array]) -> None:
        v = self._zeros(s, "v", W)
        v *= W.dtype.type(self.param)
        v -= W.dtype.type(self.lr) * dW
        W += v


class Nesterov(Optimizer):
    name = "nesterov"

    def _update(self, W: Array, dW: Array, s: dict[str, Array]) -> None:
        a = W.dtype.type(self.param)
        v = self._zeros(s, "v", W)
        v_prev = v.copy()
        v *= a
        v -= W.dtype.type(self.lr) * dW
        W -= a * v_prev
        W += (1 + a) * v


class AdaGrad(Optimizer):
    name = "adagrad"

    def _update(self, W: Array, dW: Array, s: dict[str, Array]) -> None:
        h = self._zeros(s, "h", W)
        h += dW * dW
        W -= W.dtype.type(self.lr) * dW / (np.sqrt(h) + W.dtype.type(ADAGRAD_EPS))


class RMSProp(Optimizer):
    name = "rmsprop"

    def _update(self, W: Array, dW: Array, s: dict[str, Array]) -> None:
        rho = W.dtype.type(self.param)
        h = self._zeros(s, "h", W)
        h *= rho
        h += (1 - rho) * dW * dW
        W -= W.dtype.type(self.lr) * dW / (np.sqrt(h) + W.dtype.type(RMSPROP_EPS))


class AdaDelta(Optimizer):
    name = "adadelta"

    def _update(self, W: Array, dW: Array, s: dict[str, Array]) -> None:
        rho, eps = W.dtype.type(self.param), W.dtype.type(ADADELTA_EPS)
        g = self._zeros(s, "g", W)
        sq = self._zeros(s, "s", W)
        g *= rho
        g += (1 - rho) * dW * dW
        d = np.sqrt(sq + eps) / np.sqrt(g + eps) * dW
        sq *= rho
        sq += (1 - rho) * d * d
        W -= W.dtype.type(self.lr) * d


class Adam(Optimizer):
    name = "adam"

    def _update(self, W: Array, dW: Array, s: dict[str, Array]) -> None:
        b1, b2 = float(self.param), ADAM_B2  # type: ignore[arg-type]
        t = W.dtype.type
        m = self._zeros(s, "m", W)
        v = self._zeros(s, "v", W)
        m *= t(b1)
        m += t(1 - b1) * dW
        g2 = dW * dW
        g2 *= t(1 - b2)
        v *= t(b2)
        v += g2
        # eta m_hat / (sqrt(v_hat) + eps), with the bias corrections folded into two scalars (in place:
        # no m_hat or v_hat arrays)
        denom = np.sqrt(v, out=g2)
        denom *= t(1 / np.sqrt(1 - b2 ** self.t))
        denom += t(ADAM_EPS)
        step = np.divide(m, denom, out=denom)
        step *= t(self.lr / (1 - b1 ** self.t))
        W -= step


_CLASSES: dict[str, type[Optimizer]] = {
    "sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad, "rmsprop": RMSProp,
    "adadelta": AdaDelta, "adam": Adam,
}


def parse_optimizer(spec: str) -> tuple[str, float | None]:
    """``NAME[:PARAM]`` -> (canonical name, the parameter with its default filled in)."""
    name, value = parse_spec("optimizer", spec, OPTIMIZERS, OPTIMIZER_ALIASES,
                             lambda n: OPTIMIZERS[n].param_meaning is not None)
    info = OPTIMIZERS[name]
    if value is None:
        return name, info.default_param
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"the {info.param_meaning} of optimizer '{name}' must be in [0, 1), got {value:g}")
    return name, value


def get_optimizer(spec: str, lr: float | None = None) -> Optimizer:
    """An optimiser from ``NAME[:PARAM]`` (e.g. ``momentum:0.9``); lr None: the optimiser's default
    (sgd, momentum, nesterov, adagrad 0.01; rmsprop, adam 0.001; adadelta 1)."""
    name, value = parse_optimizer(spec)
    if lr is None:
        lr = OPTIMIZERS[name].default_lr
    if not (np.isfinite(lr) and lr > 0):
        raise ConfigError(f"--lr must be a positive number, got {lr:g}")
    return _CLASSES[name](float(lr), value)
