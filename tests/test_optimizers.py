"""Each optimiser against an independent, scalar implementation of the lecture's formula on the
notes' test function f(x, y) = x^2/20 + y^2 from (-7, 2)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from actstat.errors import ConfigError, UnknownNameError
from actstat.training.optimizers import OPTIMIZERS, get_optimizer

START = (-7.0, 2.0)


def grad(x: float, y: float) -> tuple[float, float]:
    return x / 10.0, 2.0 * y


def reference(name: str, lr: float, param: float | None, steps: int) -> list[tuple[float, float]]:
    """The formulas as BACKGROUND.md writes them, one coordinate at a time in plain floats."""
    p = list(START)
    st = {k: [0.0, 0.0] for k in ("v", "h", "m", "s")}
    out = [tuple(p)]
    for t in range(1, steps + 1):
        g = grad(*p)
        for i in range(2):
            dw = g[i]
            if name == "sgd":
                p[i] -= lr * dw
            elif name == "momentum":
                st["v"][i] = param * st["v"][i] - lr * dw
                p[i] += st["v"][i]
            elif name == "nesterov":
                v_prev = st["v"][i]
                st["v"][i] = param * st["v"][i] - lr * dw
                p[i] += -param * v_prev + (1 + param) * st["v"][i]
            elif name == "adagrad":
                st["h"][i] += dw * dw
                p[i] -= lr * dw / (math.sqrt(st["h"][i]) + 1e-7)
            elif name == "rmsprop":
                st["h"][i] = param * st["h"][i] + (1 - param) * dw * dw
                p[i] -= lr * dw / (math.sqrt(st["h"][i]) + 1e-7)
            elif name == "adadelta":
                st["h"][i] = param * st["h"][i] + (1 - param) * dw * dw
                d = math.sqrt(st["s"][i] + 1e-6) / math.sqrt(st["h"][i] + 1e-6) * dw
                st["s"][i] = param * st["s"][i] + (1 - param) * d * d
                p[i] -= lr * d
            elif name == "adam":
                st["m"][i] = param * st["m"][i] + (1 - param) * dw
                st["v"][i] = 0.999 * st["v"][i] + 0.001 * dw * dw
                m_hat = st["m"][i] / (1 - param ** t)
                v_hat = st["v"][i] / (1 - 0.999 ** t)
                p[i] -= lr * m_hat / (math.sqrt(v_hat) + 1e-8)
        out.append(tuple(p))
    return out


def actstat_trajectory(spec: str, lr: float, steps: int) -> list[tuple[float, float]]:
    opt = get_optimizer(spec, lr)
    # two parameters of different shapes, as a network's W and b
    x = np.array([[START[0]]])
    y = np.array([START[1]])
    out = [(float(x[0, 0]), float(y[0]))]
    for _ in range(steps):
        gx, gy = grad(float(x[0, 0]), float(y[0]))
        opt.step([x, y], [np.array([[gx]]), np.array([gy])])
        out.append((float(x[0, 0]), float(y[0])))
    return out


# the learning rates of "Deep Learning from Scratch"'s optimizer_compare_naive, where it gives one
CASES = [("sgd", 0.95, None), ("momentum", 0.1, 0.9), ("nesterov", 0.1, 0.9), ("adagrad", 1.5, None),
         ("rmsprop", 0.1, 0.99), ("adadelta", 1.0, 0.95), ("adam", 0.3, 0.9)]


@pytest.mark.parametrize("name,lr,param", CASES)
def test_trajectory_matches_the_formula(name, lr, param) -> None:
    spec = name if param is None else f"{name}:{param}"
    ours = actstat_trajectory(spec, lr, 30)
    ref = reference(name, lr, param, 30)
    np.testing.assert_allclose(np.array(ours), np.array(ref), rtol=1e-12, atol=1e-12)
    assert ours[1] != ours[0]  # it moved


def test_every_optimizer_is_covered() -> None:
    assert {c[0] for c in CASES} == set(OPTIMIZERS)


def test_the_notes_pictures() -> None:
    """SGD zig-zags along y; AdaGrad's steps shrink; Adam ends nearer the minimum than SGD."""
    sgd = np.array(reference("sgd", 0.95, None, 30))
    assert np.all(np.sign(sgd[1:11, 1]) == -np.sign(sgd[:10, 1]))  # y flips sign every step
    ada = np.array(actstat_trajectory("adagrad", 1.5, 30))
    step = np.linalg.norm(np.diff(ada, axis=0), axis=1)
    assert step[-1] < step[5] < step[0]
    adam = np.array(actstat_trajectory("adam", 0.3, 30))
    assert np.linalg.norm(adam[-1]) < np.linalg.norm(sgd[-1])


def test_default_parameters_and_lr() -> None:
    assert get_optimizer("momentum").param == 0.9
    assert get_optimizer("adam").lr == 0.001
    assert get_optimizer("adadelta").lr == 1.0
    assert get_optimizer("NAG:0.5").name == "nesterov"
    assert get_optimizer("rmsprop:0.9").spec == "rmsprop:0.9"


def test_bad_optimizer_specs() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'momentum'"):
        get_optimizer("momentun")
    with pytest.raises(ConfigError, match=r"in \[0, 1\)"):
        get_optimizer("momentum:1.5")
    with pytest.raises(ConfigError, match="takes no parameter"):
        get_optimizer("sgd:0.1")
    with pytest.raises(ConfigError, match="--lr must be a positive"):
        get_optimizer("sgd", 0.0)
    with pytest.raises(ConfigError, match="--lr must be a positive"):
        get_optimizer("adam", float("nan"))


def test_float32_state_stays_float32() -> None:
    opt = get_optimizer("adam", 0.1)
    W = np.ones((3, 2), dtype=np.float32)
    opt.step([W], [np.full((3, 2), 0.5, dtype=np.float32)])
    assert W.dtype == np.float32 and opt.state[0]["m"].dtype == np.float32
    np.testing.assert_allclose(W, 1 - 0.1 * 0.5 / (0.5 + 1e-8 * 1), rtol=1e-6)
