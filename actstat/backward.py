"""The backward pass: from a loss on the last layer back to the first layer's weights. Pure numpy.

Per layer l (forward: z = x W + b, u = BN(z) or z, h = act(u), out = h * mask):

    dh = dout * mask                       (the same dropout mask as the forward pass)
    du = act'(u) * dh                      (maxout: to the winning piece only)
    dz = inv_std / N * (N du - sum(du) - xhat sum(du xhat))     with batch norm (gamma 1, beta 0),
         du                                 without
    dW = x^T dz,  db = sum over the batch of dz,  dx = dz W^T   (dx is the previous layer's dout)

The losses that start it (``actstat.losses.LOSSES``):

* softmax  an output layer of ``classes`` units (weights from the same --init, drawn after the
           hidden layers' from the weights stream), softmax and cross-entropy against random labels
           from the loss stream, averaged over the batch: the lectures' SoftmaxWithLoss.
* mse      0.5 * mean over the batch of ||h_L - y||^2 with targets y ~ N(0, 1) from the loss stream
           (on the last hidden layer directly, no output layer).
* random   L = sum(h_L * G) / batch with G ~ N(0, 1) from the loss stream: an upstream gradient that
           depends on nothing but the seed, which isolates the network itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .initializers import sample_weights
from .losses import DEFAULT_CLASSES
from .network import NetworkSpec
from .stats import Histogram, data_histogram, moments

Array = np.ndarray

ZIGZAG_EXAMPLES = 8


@dataclass
class LayerCache:
    """What the backward pass keeps of one layer's forward pass.

    x: the layer's input (the previous layer's ``out``); u: the activation's input
    (z, or x-hat with batch norm), or None when the activation's derivative is taken from its
    output (``Activation.df_out``: no batch norm, no dropout, so the output is the next layer's x);
    mask: dropout's scaled keep mask or None; inv_std: batch norm's 1/sqrt(var + eps) or None.
    """

    x: Array
    W: Array
    u: Array | None
    mask: Array | None
    inv_std: Array | None
    has_bias: bool


@dataclass
class LossHead:
    """The loss value and its gradient with respect to the last layer's output."""

    value: float
    d_out: Array
    W_out: Array | None = None  # softmax's output layer


@dataclass
class LayerGrad:
    index: int
    dh: Array
    dz: Array
    dW: Array
    db: Array | None


def make_loss(
    name: str, out: Array, spec: NetworkSpec, rng_loss: np.random.Generator,
    rng_weights: np.random.Generator, classes: int = DEFAULT_CLASSES,
) -> LossHead:
    """The loss on ``out`` (batch, width_L) and dL/d out, in out's dtype."""
    batch, width = out.shape
    dtype = out.dtype
    with np.errstate(all="ignore"):
        if name == "softmax":
            W_out = sample_weights(spec.init, width, classes, rng_weights, dtype, spec.act, spec.gain,
                                   spec.bias_std)
            labels = rng_loss.integers(0, classes, size=batch)
            scores = out @ W_out
            shifted = scores - scores.max(axis=1, keepdims=True)
            e = np.exp(shifted)
            p = e / e.sum(axis=1, keepdims=True)
            rows = np.arange(batch)
            value = float(-np.mean(np.log(np.maximum(p[rows, labels], np.finfo(dtype).tiny)), dtype=np.float64))
            d_scores = p
            d_scores[rows, labels] -= 1
            d_scores /= dtype.type(batch)
            return LossHead(value, d_scores @ W_out.T, W_out)
        if name == "mse":
            y = rng_loss.standard_normal(out.shape).astype(dtype, copy=False)
            diff = out - y
            value = float(0.5 * np.sum(np.square(diff, dtype=np.float64)) / batch)
            return LossHead(value, diff / dtype.type(batch))
        if name == "random":
            g = (rng_loss.standard_normal(out.shape) / batch).astype(dtype, copy=False)
            value = float(np.sum(out * g, dtype=np.float64))
            return LossHead(value, g)
    raise ValueError(f"unknown loss {name!r}")


def batchnorm_backward(du: Array, xhat: Array, inv_std: Array) -> Array:
    """Training-mode batch norm (gamma 1, beta 0): dL/dz from dL/dx-hat, the full formula."""
    n = du.shape[0]
    s1 = du.sum(axis=0)
    s2 = (du * xhat).sum(axis=0)
    return (inv_std / du.dtype.type(n)) * (du.dtype.type(n) * du - s1 - xhat * s2)


def backward(
    spec: NetworkSpec, caches: list[LayerCache], d_out: Array, out: Array | None = None,
) -> Iterator[tuple[LayerGrad, LayerCache]]:
    """Yield each layer's gradients (with its cache) from the last layer to the first. ``caches`` is
    emptied as it goes, so each layer's forward arrays are freed once the caller drops them.
    out: the last layer's output, needed when the caches hold no u (see LayerCache)."""
    act = spec.act
    h = out  # layer l's output: the last layer's, then each layer's input is the one below's output
    with np.errstate(all="ignore"):
        for l in range(len(caches), 0, -1):
            c = caches.pop()
            dh = d_out if c.mask is None else d_out * c.mask
            if c.u is None:
                assert act.df_out is not None and h is not None
                du = dh * act.df_out(h)
            else:
                du = act.backward(dh, c.u)
            h = c.x
            if c.inv_std is None:
                dz = du
            else:
                assert c.u is not None  # (batch norm's backward needs x-hat: it is always kept)
                dz = batchnorm_backward(du, c.u, c.inv_std)
            dW = c.x.T @ dz
            db = dz.sum(axis=0) if c.has_bias else None
            d_out = dz @ c.W.T if l > 1 else d_out
            yield LayerGrad(l, dh, dz, dW, db), c


# --- statistics -------------------------------------------------------------------------


@dataclass(frozen=True)
class GradStats:
    """One layer's backward-pass figures (float64; non-finite when the pass overflowed)."""

    std: float  # of dL/dh (the layer's output, before dropout)
    rms: float
    mean: float
    pre_std: float  # of dL/dz (pre-activation)
    pre_rms: float
    weight_norm: float  # Frobenius norm of dL/dW
    weight_mean_abs: float
    zero_frac: float  # exactly-zero entries of dL/dW
    update_ratio: float | None  # lr ||dW|| / ||W||; None when ||W|| = 0
    zigzag: float | None  # share of (example, unit) gradients with one sign on all incoming weights
    hist: Histogram | None = None  # of dL/dh, over its own range
    norm_ratio_to_last: float | None = None  # RMS(dh_l) / RMS(dh_L), filled in once every layer is known


def frobenius(a: Array) -> float:
    """||a||_F without overflow or underflow in the squares (from the rescaled RMS)."""
    if a.size == 0:
        return 0.0
    return moments(a).rms * math.sqrt(a.size)


def zigzag_share(x: Array, dz: Array, examples: int = ZIGZAG_EXAMPLES) -> float | None:
    """For the first ``examples`` rows: the share of units with a non-zero gradient whose gradient on
    the incoming weights (x_n * dz_nj) has a single sign, which happens whenever x_n has one sign."""
    xs, ds = x[:examples], dz[:examples]
    with np.errstate(all="ignore"):
        one_sign = np.all(xs >= 0, axis=1) | np.all(xs <= 0, axis=1)
        one_sign &= np.any(xs != 0, axis=1)
        active = np.count_nonzero(ds != 0, axis=1)
    total = int(active.sum())
    if total == 0:
        return None
    return float((active * one_sign).sum() / total)


def grad_stats(g: LayerGrad, c: LayerCache, lr: float, bins: int = 30) -> GradStats:
    dh, dz = moments(g.dh), moments(g.dz)
    wn = frobenius(g.dW)
    w_norm = frobenius(c.W)
    with np.errstate(all="ignore"):
        mean_abs = float(np.mean(np.abs(g.dW), dtype=np.float64)) if g.dW.size else 0.0
        update = lr * wn / w_norm if w_norm > 0 and math.isfinite(w_norm) else None
    return GradStats(
        std=dh.std, rms=dh.rms, mean=dh.mean, hist=data_histogram(g.dh, dh, bins), pre_std=dz.std, pre_rms=dz.rms, weight_norm=wn, weight_mean_abs=mean_abs,
        zero_frac=float(np.count_nonzero(g.dW == 0) / g.dW.size) if g.dW.size else 1.0,
        update_ratio=update, zigzag=zigzag_share(c.x, g.dz),
    )


def with_ratios(stats: list[GradStats]) -> list[GradStats]:
    """Fill norm_ratio_to_last = RMS(dL/dh_l) / RMS(dL/dh_L), the back-propagated gradient relative to
    the last layer (the norm ratio when widths are equal); None when the last one is 0 or not finite."""
    from dataclasses import replace

    last = stats[-1].rms if stats else 0.0
    out = []
    for s in stats:
        ok = last > 0 and math.isfinite(last) and math.isfinite(s.rms)
        out.append(replace(s, norm_ratio_to_last=s.rms / last if ok else None))
    return out
