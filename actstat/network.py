"""The deep MLP: FC -> [batch norm] -> activation -> [dropout], layer after layer.

The forward pass is streamed: each layer's weights are drawn when the layer is
reached and every array is dropped once the layer is summarised, so memory stays
flat with depth. Only when a backward pass will follow (``keep=True``) are the
per-layer caches kept.

Random streams (all from ``numpy.random.SeedSequence(seed)``, so that adding a
backward pass or changing a layer option never changes the input batch):
input, weights, dropout masks, loss targets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .activations import Activation
from .initializers import InitSpec, draws_in_child, sample_weights

Array = np.ndarray

BN_EPS = 1e-5
LSUV_TOL = 0.1
LSUV_MAX_ITER = 10

STREAMS = ("input", "weights", "dropout", "loss")


def make_streams(seed: int) -> dict[str, np.random.Generator]:
    """One independent Generator per purpose, all derived from ``seed``."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.Generator(np.random.PCG64(s)) for name, s in zip(STREAMS, children)}


@dataclass(frozen=True)
class NetworkSpec:
    """A fully resolved network: dims[0] is the input dimension, dims[l] layer l's width."""

    dims: tuple[int, ...]
    act: Activation
    init: InitSpec
    gain: float = 1.0
    bias_std: float = 0.0
    batchnorm: bool = False
    dropout: float = 0.0
    dropout_mode: str = "inverted"  # "inverted": scale kept units by 1/(1-p) now; "classic": no scaling
    dtype: np.dtype = field(default_factory=lambda: np.dtype(np.float64))

    @property
    def depth(self) -> int:
        return len(self.dims) - 1


@dataclass
class BNCache:
    """What batch norm's backward pass needs: x_hat and 1/sqrt(var + eps) per unit."""

    xhat: Array
    inv_std: Array


@dataclass
class LayerTrace:
    """One layer's forward pass.

    x: (batch, fan_in) the layer's input; W: (fan_in, width * pieces); b: (width * pieces,) or None
    z: (batch, width * pieces) x @ W + b; u: the activation's input (z, or batch norm of z)
    h: (batch, width) act(u); out: what the next layer receives (h after dropout)
    mask: dropout's keep mask scaled as applied, or None
    symmetric: every unit has the same incoming weights and bias
    lsuv_iters: passes LSUV took on this layer (0 otherwise)
    """

    index: int
    x: Array
    W: Array
    b: Array | None
    z: Array
    u: Array
    h: Array
    out: Array
    mask: Array | None
    bn: BNCache | None
    symmetric: bool
    lsuv_iters: int = 0


def batchnorm_forward(z: Array) -> tuple[Array, BNCache]:
    """Training-mode batch norm with gamma = 1, beta = 0. z: (batch, units)."""
    mu = z.mean(axis=0)
    d = z - mu
    var = np.mean(d * d, axis=0)
    inv_std = 1.0 / np.sqrt(var + BN_EPS)
    xhat = d * inv_std.astype(z.dtype, copy=False)
    return xhat, BNCache(xhat, inv_std.astype(z.dtype, copy=False))


def _columns_identical(W: Array, b: Array | None) -> bool:
    if W.shape[1] < 2 or W[0, 0] != W[0, 1]:  # (the usual answer, without a pass over W)
        return False
    same = bool(np.all(W == W[:, :1]))
    if same and b is not None:
        same = bool(np.all(b == b[0]))
    return same


def forward(
    spec: NetworkSpec,
    x: Array,
    rng_weights: np.random.Generator,
    rng_dropout: np.random.Generator,
    keep: bool = False,
    prefetch: bool = False,
    meanwhile: Callable[[], None] | None = None,
) -> Iterator[LayerTrace]:
    """Yield each layer's trace in turn. x: (batch, dims[0]) in spec.dtype.

    With keep=False the caller must not hold on to the traces' arrays if it
    wants memory to stay flat; with keep=True it will, for the backward pass.

    prefetch=True draws layer l+1's weights on a helper thread while layer l is
    activated and the caller summarises it (numpy's generators release the GIL while
    they fill an array). The draws keep their order, so the numbers are the same.
    meanwhile: the caller's work to run before the first layer, while (with prefetch) the
    first layer's weights are drawn.
    """
    dtype = spec.dtype
    act = spec.act

    def draw(l: int) -> tuple[Array, Array | None]:
        m = spec.dims[l] * act.pieces
        with np.errstate(over="ignore"):  # scales near the float limits give inf weights: an exploding network
            W = sample_weights(spec.init, spec.dims[l - 1], m, rng_weights, dtype, act, spec.gain, spec.bias_std)
            b = None
            if spec.bias_std > 0:
                b = (rng_weights.standard_normal(m) * spec.bias_std).astype(dtype, copy=False)
        return W, b

    # a draw that forks (a large QR, in a child process that Ctrl-C stops at once: actstat.native) is made
    # on this thread: forking from the helper while this thread is inside BLAS could hang in OpenBLAS
    prefetch = prefetch and not any(draws_in_child(spec.init, spec.dims[l - 1], spec.dims[l] * act.pieces)
                                    for l in range(1, spec.depth + 1))
    pool = _Helper(draw) if prefetch and (spec.depth > 1 or meanwhile is not None) else None
    pending = False
    try:
        if pool is not None:
            pool.submit(1)
            pending = True
        if meanwhile is not None:
            meanwhile()
        for l in range(1, spec.depth + 1):
            W, b = pool.result() if pending else draw(l)  # type: ignore[union-attr]
            pending = False
            with np.errstate(all="ignore"):
                z = _affine(x, W, b)
                iters = 0
                if spec.init.init.data_dependent:
                    z, iters = _lsuv(x, W, b, z)
                if pool is not None and l < spec.depth:
                    pool.submit(l + 1)
                    pending = True
                bn = None
                if spec.batchnorm:
                    u, bn = batchnorm_forward(z)
                else:
                    u = z
                h = act.forward(u)
                out, mask = _dropout(h, spec, rng_dropout)
            yield LayerTrace(l, x, W, b, z, u, h, out, mask, bn, _columns_identical(W, b), iters)
            x = out
    finally:
        if pool is not None:
            pool.close()  # a draw under way finishes; none is left touching rng_weights


class _Helper:
    """One helper thread that runs ``fn(arg)`` for one submitted argument at a time: the probe submits
    one draw per layer and collects it before the next (a one-worker ThreadPoolExecutor without its
    import and bookkeeping; two semaphores hand the argument and the result over)."""

    def __init__(self, fn: Callable[[int], Any]) -> None:
        import threading

        self._fn = fn
        self._arg: int | None = None
        self._out: tuple[bool, Any] = (False, None)
        self._go, self._ready = threading.Semaphore(0), threading.Semaphore(0)
        self._thread = threading.Thread(target=self._run, name="actstat-weights", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._go.acquire()
            arg = self._arg
            if arg is None:
                return
            try:
                self._out = (True, self._fn(arg))
            # handed to the caller and raised there (uncaught, it would leave result() waiting forever)
            except BaseException as e:  # noqa: BLE001
                self._out = (False, e)
            self._ready.release()

    def submit(self, arg: int) -> None:
        """Start fn(arg); the previous result must have been collected."""
        self._arg = arg
        self._go.release()

    def result(self) -> Any:
        self._ready.acquire()
        ok, value = self._out
        self._out = (False, None)
        if not ok:
            raise value
        return value

    def close(self) -> None:
        """Wait for a call under way, then stop the thread."""
        self._arg = None
        self._go.release()
        self._thread.join()


def _affine(x: Array, W: Array, b: Array | None) -> Array:
    z = x @ W
    if b is not None:
        z += b
    return z


def _lsuv(x: Array, W: Array, b: Array | None, z: Array) -> tuple[Array, int]:
    """Rescale W in place until var(x @ W + b) is 1 within LSUV_TOL."""
    for it in range(1, LSUV_MAX_ITER + 1):
        var = float(z.var(dtype=np.float64))
        if not np.isfinite(var) or var == 0.0 or abs(var - 1.0) < LSUV_TOL:
            return z, it - 1
        W *= float(1.0 / np.sqrt(var))
        z = _affine(x, W, b)
    return z, LSUV_MAX_ITER


def _dropout(h: Array, spec: NetworkSpec, rng: np.random.Generator) -> tuple[Array, Array | None]:
    p = spec.dropout
    if p <= 0.0:
        return h, None
    keep = rng.random(h.shape) >= p  # float64 draws: the same mask for every dtype
    scale = 1.0 / (1.0 - p) if spec.dropout_mode == "inverted" else 1.0
    mask = keep.astype(spec.dtype)
    if scale != 1.0:
        mask *= scale
    return h * mask, mask


def dropout_description(p: float, mode: str) -> str:
    if p <= 0:
        return "none"
    if mode == "inverted":
        return f"inverted: keep each unit with probability {1 - p:g}, scale kept units by 1/{1 - p:g} now"
    return f"classic: keep each unit with probability {1 - p:g}, no scaling now (the lecture scales by {1 - p:g} at test time)"



# Peak bytes while one weight matrix is drawn, in float64 matrices of its size (the matrix itself
# included). Every initialiser draws in float64 and casts; truncated normals also hold the redraw mask
# and the redrawn values; orthogonal (and LSUV, which starts from it) factorises a float64 Gaussian
# matrix by QR: the matrix, LAPACK's copy, Q and the sign-corrected, scaled result. Measured with
# ru_maxrss (tests/test_reliability.py): 5.1-5.6 for orthogonal, 2.3 for truncated, <= 1.5 otherwise.
DRAW_PEAK = {"orthogonal": 6.0, "lsuv": 6.0, "truncated_normal": 3.0, "he_truncated": 3.0,
             "lecun_truncated": 3.0, "glorot_truncated": 3.0}


def draw_peak_bytes(init: InitSpec, fan_in: int, fan_out: int) -> int:
    """Peak bytes (a slight over-estimate) while ``init`` draws one (fan_in, fan_out) matrix."""
    return int(DRAW_PEAK.get(init.init.name, 2.0) * 8 * fan_in * fan_out)
