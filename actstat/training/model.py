"""The trainable MLP: the probe's network (FC -> [batch norm] -> activation -> [dropout], layer after
layer) plus an output layer of C classes with softmax cross-entropy. Pure numpy.

Per hidden layer l (x its input, batch N):

    z = x W + b                    (no b with batch norm: beta takes its place)
    u = gamma x_hat + beta,  x_hat = (z - mu) / sqrt(var + eps)    with batch norm, else u = z
        training mode: mu, var over the batch (var biased, as np.var), and the running averages
        run_mean <- 0.9 run_mean + 0.1 mu, run_var <- 0.9 run_var + 0.1 var (from 0 and 1);
        evaluation: mu, var = run_mean, run_var
    h = act(u)
    out = h * mask                  training: mask = keep / (1 - p) (inverted) or keep (classic),
                                    keep ~ Bernoulli(1 - p); evaluation: out = h (inverted) or
                                    (1 - p) h (classic, the lecture's test-time scaling)

Output: scores = x_L W_out + b_out; loss = mean over the batch of -log softmax(scores)[y]
+ 0.5 * lambda * sum of ||W||^2 over every weight matrix (W_out included; biases, gamma, beta not).

Backward (the same formulas as actstat.backward, with gamma and beta trainable):

    d scores = (softmax - onehot(y)) / N;  dW_out = x_L^T d scores + lambda W_out;  db_out = sum d scores
    dh = d out * mask;  du = act'(u) dh;  dgamma = sum(du x_hat);  dbeta = sum(du)
    dz = batchnorm_backward(gamma du, x_hat, 1 / sqrt(var + eps))  (or du);  dW = x^T dz + lambda W;
    db = sum dz;  d x = dz W^T

Weights are drawn as the probe draws them (``actstat.network``'s weights stream, layer by layer,
then the output layer with the same --init), so step 0 is the network ``actstat probe`` sees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..activations import _drelu, _relu
from ..backward import batchnorm_backward
from ..initializers import sample_weights
from ..network import BN_EPS, NetworkSpec

Array = np.ndarray

BN_MOMENTUM = 0.9


@dataclass
class Layer:
    W: Array
    b: Array | None
    gamma: Array | None = None
    beta: Array | None = None
    run_mean: Array | None = None
    run_var: Array | None = None


@dataclass
class LayerPass:
    """One hidden layer in a training pass: what the statistics and the backward pass need."""

    x: Array
    u: Array  # the activation's input
    h: Array  # act(u), before dropout
    mask: Array | None
    xhat: Array | None = None
    inv_std: Array | None = None
    dh: Array | None = None  # dL/dh, filled in by the backward pass


@dataclass
class Pass:
    """A training-mode forward and backward pass on one batch."""

    loss: float  # data loss + 0.5 lambda sum ||W||^2
    data_loss: float
    correct: int
    layers: list[LayerPass]
    grads: list[Array] = field(default_factory=list)  # in the order of MLP.params()


class MLP:
    def __init__(self, spec: NetworkSpec, classes: int, rng_weights: np.random.Generator,
                 lsuv_x: Array | None = None) -> None:
        """lsuv_x: the batch data-dependent inits (LSUV) rescale each layer on."""
        from ..network import _lsuv

        self.spec = spec
        self.classes = classes
        dt = spec.dtype
        act = spec.act
        self.layers: list[Layer] = []
        x = lsuv_x
        for l in range(1, spec.depth + 1):
            m = spec.dims[l] * act.pieces
            W = sample_weights(spec.init, spec.dims[l - 1], m, rng_weights, dt, act, spec.gain, spec.bias_std)
            b = None
            if spec.bias_std > 0:
                with np.errstate(over="ignore"):  # (a bias std near the float limits: inf biases)
                    b = (rng_weights.standard_normal(m) * spec.bias_std).astype(dt, copy=False)
            if spec.batchnorm:
                b = None  # (cancelled by the batch mean; beta is the layer's shift)
            elif b is None:
                b = np.zeros(m, dtype=dt)
            layer = Layer(W, b)
            if spec.batchnorm:
                layer.gamma, layer.beta = np.ones(m, dtype=dt), np.zeros(m, dtype=dt)
                layer.run_mean, layer.run_var = np.zeros(m, dtype=dt), np.ones(m, dtype=dt)
            if spec.init.init.data_dependent and x is not None:
                with np.errstate(all="ignore"):
                    z = x @ W + (b if b is not None else 0)
                    _lsuv(x, W, b, z)
                    x = self._layer_eval(layer, x)
            self.layers.append(layer)
        self.W_out = sample_weights(spec.init, spec.dims[-1], classes, rng_weights, dt, act, spec.gain,
                                    spec.bias_std)
        self.b_out = np.zeros(classes, dtype=dt)
        self._flatten()

    def _flatten(self) -> None:
        """Lay every parameter out in one buffer, ``self.flat`` (each at a 64-byte boundary, zeros between),
        and point the layers at views of it: an optimiser then updates the whole network with a dozen
        numpy calls instead of a dozen per array (``train_pass(..., grads_into=)`` writes the gradients
        in the same layout). The same numbers: the update is element-wise."""
        slots = self.state_slots()[:len(self.params())]
        dt = self.spec.dtype
        align = max(1, 64 // dt.itemsize)
        offsets, off = [], 0
        for obj, name in slots:
            offsets.append(off)
            off += -(-getattr(obj, name).size // align) * align
        self.flat = np.zeros(off, dtype=dt)
        self._views: list[tuple[int, tuple[int, ...]]] = []
        for (obj, name), o in zip(slots, offsets):
            a = getattr(obj, name)
            v = self.flat[o:o + a.size].reshape(a.shape)
            v[...] = a
            setattr(obj, name, v)
            self._views.append((o, a.shape))

    def _grad_views_of(self, buf: Array) -> list[Array]:
        """Views of ``buf`` (shaped as ``flat``) in params()'s order and shapes (kept for the last buffer)."""
        cached = self.__dict__.get("_grad_views")
        if cached is None or cached[0] is not buf:
            if buf.shape != self.flat.shape or buf.dtype != self.flat.dtype:
                raise ValueError("grads_into must have the shape and dtype of MLP.flat")
            cached = self._grad_views = (buf, [buf[o:o + math.prod(sh)].reshape(sh) for o, sh in self._views])
        return cached[1]

    # --- parameters --------------------------------------------------------------------

    def params(self) -> list[Array]:
        """Every trainable array, in a fixed order: per layer W, [b], [gamma, beta]; then W_out, b_out."""
        out: list[Array] = []
        for L in self.layers:
            out.append(L.W)
            if L.b is not None:
                out.append(L.b)
            if L.gamma is not None:
                out += [L.gamma, L.beta]  # type: ignore[list-item]
        return out + [self.W_out, self.b_out]

    def state_slots(self) -> list[tuple[object, str]]:
        """Where every array evaluation reads lives, as (object, attribute): the parameters in params()'s
        order, then batch norm's running averages (so a copy can be pointed at other memory)."""
        slots: list[tuple[object, str]] = []
        for L in self.layers:
            slots.append((L, "W"))
            if L.b is not None:
                slots.append((L, "b"))
            if L.gamma is not None:
                slots += [(L, "gamma"), (L, "beta")]
        slots += [(self, "W_out"), (self, "b_out")]
        return slots + [(L, n) for L in self.layers for n in ("run_mean", "run_var") if getattr(L, n) is not None]

    def state(self) -> list[Array]:
        """The arrays of state_slots()."""
        return [getattr(o, n) for o, n in self.state_slots()]

    def weights(self) -> list[Array]:
        """The decayed weight matrices: W of each hidden layer, then W_out."""
        return [L.W for L in self.layers] + [self.W_out]

    def reg_loss(self, weight_decay: float) -> float:
        if weight_decay == 0:
            return 0.0
        with np.errstate(all="ignore"):
            return 0.5 * weight_decay * float(sum(np.sum(np.square(W, dtype=np.float64)) for W in self.weights()))

    # --- evaluation ----------------------------------------------------------------------

    def _layer_eval(self, L: Layer, x: Array) -> Array:
        spec = self.spec
        z = x @ L.W
        if L.b is not None:
            z += L.b
        if L.gamma is not None:
            t = z.dtype.type
            u = (z - L.run_mean) / np.sqrt(L.run_var + t(BN_EPS)) * L.gamma + L.beta
        else:
            u = z
        h = spec.act.forward(u)
        if spec.dropout > 0 and spec.dropout_mode == "classic":
            h = h * h.dtype.type(1.0 - spec.dropout)
        return h

    def scores(self, x: Array) -> Array:
        """Evaluation mode (running averages, no dropout): (N, classes) scores."""
        with np.errstate(all="ignore"):
            for L in self.layers:
                x = self._layer_eval(L, x)
            return x @ self.W_out + self.b_out

    def evaluate(self, x: Array, y: Array, weight_decay: float = 0.0) -> tuple[float, float]:
        """(loss with the weight decay term, accuracy) in evaluation mode."""
        if x.shape[0] == 0:
            return float("nan"), float("nan")
        s = self.scores(x)
        data_loss, correct, _ = softmax_loss(s, y, grad=False)
        return data_loss + self.reg_loss(weight_decay), correct / x.shape[0]

    def evaluate_many(self, sets: list[tuple[Array, Array]], weight_decay: float = 0.0) -> list[tuple[float, float]]:
        """evaluate(x, y, weight_decay) for each (x, y), bit for bit, with less work around the products:
        the weight decay term once, each layer's result in a buffer reused from call to call (the
        checkpoints evaluate the same samples every time), the element-wise steps in place, and only
        the loss's and the accuracy's share of the softmax."""
        reg = self.reg_loss(weight_decay)
        out = []
        for x, y in sets:
            if x.shape[0] == 0:
                out.append((float("nan"), float("nan")))
                continue
            data_loss, correct = eval_loss(self._scores_buffered(x), y)
            out.append((data_loss + reg, correct / x.shape[0]))
        return out

    def _scores_buffered(self, x: Array) -> Array:
        """scores(x), the same numbers, into buffers kept for x's shape."""
        spec = self.spec
        act = spec.act
        bufs = self.__dict__.setdefault("_eval_buffers", {})
        relu = act.f is _relu and act.pieces == 1  # in place: np.maximum as _relu
        classic = spec.dropout > 0 and spec.dropout_mode == "classic"
        with np.errstate(all="ignore"):
            for i, L in enumerate(self.layers):
                key = (i, x.shape[0], x.dtype.str)
                z = bufs.get(key)
                if z is None or z.shape[1] != L.W.shape[1] or z.dtype != np.result_type(x, L.W):
                    z = bufs[key] = np.empty((x.shape[0], L.W.shape[1]), dtype=np.result_type(x, L.W))
                np.matmul(x, L.W, out=z)
                if L.b is not None:
                    z += L.b
                if L.gamma is not None:
                    t = z.dtype.type
                    z -= L.run_mean
                    z /= np.sqrt(L.run_var + t(BN_EPS))
                    z *= L.gamma
                    z += L.beta
                if relu:
                    h = np.maximum(z, z.dtype.type(0.0), out=z)
                else:
                    h = act.forward(z)
                if classic:
                    h = h * h.dtype.type(1.0 - spec.dropout)
                x = h
            s = x @ self.W_out
            s += self.b_out
        return s

    # --- training ------------------------------------------------------------------------

    def train_pass(self, x: Array, y: Array, rng_dropout: np.random.Generator, weight_decay: float = 0.0,
                   masks: list[Array | None] | None = None, update_running: bool = True,
                   keep: bool = True, grads_into: Array | None = None) -> Pass:
        """Forward and backward in training mode on the batch (x, y). masks: fixed dropout masks
        (scaled as applied) instead of drawing them (for gradient checks). keep: return every layer's
        arrays in ``Pass.layers`` (for statistics); keep=False frees each layer's arrays as soon as the
        backward pass is through with it and keeps no activation input u where act'(u) can be taken from
        h: fewer live arrays, so fewer fresh pages for the allocator to fault in at every step (a third
        of a small network's step time, measured). grads_into: a buffer shaped as ``flat`` the gradients
        are written into (``Pass.grads`` are then its views; zeros stay where no parameter is), so that
        the optimiser can take the whole network at once; None: fresh arrays."""
        spec = self.spec
        act = spec.act
        from_h = act.df_out is not None  # act'(u) from h (bit for bit the same numbers)
        relu = act.df_out is _drelu and act.pieces == 1
        lps: list[LayerPass] = []
        with np.errstate(all="ignore"):
            for i, L in enumerate(self.layers):
                z = x @ L.W
                if L.b is not None:
                    z += L.b
                xhat = inv_std = None
                if L.gamma is not None:
                    mu = z.mean(axis=0)
                    d = z - mu
                    var = np.mean(d * d, axis=0)
                    inv_std = 1.0 / np.sqrt(var + z.dtype.type(BN_EPS))
                    xhat = d * inv_std
                    u = xhat * L.gamma + L.beta
                    if update_running:
                        t = z.dtype.type
                        L.run_mean *= t(BN_MOMENTUM)
                        L.run_mean += t(1 - BN_MOMENTUM) * mu
                        L.run_var *= t(BN_MOMENTUM)
                        L.run_var += t(1 - BN_MOMENTUM) * var
                else:
                    u = z
                h = act.forward(u)
                if from_h and not keep:
                    del u, z
                    u = None
                mask = None
                if masks is not None:
                    mask = masks[i]
                elif spec.dropout > 0:
                    kept = rng_dropout.random(h.shape) >= spec.dropout  # float64 draws: one mask for every dtype
                    mask = kept.astype(h.dtype)
                    if spec.dropout_mode == "inverted":
                        mask *= h.dtype.type(1.0 / (1.0 - spec.dropout))
                out = h if mask is None else h * mask
                lps.append(LayerPass(x, u, h, mask, xhat, inv_std))  # type: ignore[arg-type]
                x = out
            s = x @ self.W_out + self.b_out
            data_loss, correct, ds = softmax_loss(s, y, grad=True)
            lam = x.dtype.type(weight_decay)
            outs = None if grads_into is None else reversed(self._grad_views_of(grads_into))

            def out() -> Array | None:  # where the next gradient (in reverse params() order) goes
                return None if outs is None else next(outs)

            grads_rev: list[Array] = [ds.sum(axis=0, out=out())]
            dW_out = np.matmul(x.T, ds, out=out())
            if weight_decay:
                dW_out += lam * self.W_out
            grads_rev.append(dW_out)
            dout = ds @ self.W_out.T
            del x, s
            for i in range(len(self.layers) - 1, -1, -1):
                L = self.layers[i]
                lp = lps[i] if keep else lps.pop()
                lp.dh = dout if lp.mask is None else dout * lp.mask
                if relu:  # act'(u) dh as (h > 0) dh: one pass, the same numbers (signed zeros too)
                    du = np.multiply(lp.dh, np.greater(lp.h, 0))
                elif from_h:
                    du = act.df_out(lp.h)  # type: ignore[misc]
                    du *= lp.dh
                else:
                    du = act.backward(lp.dh, lp.u)
                if L.gamma is not None:
                    grads_rev.append(du.sum(axis=0, out=out()))  # dbeta
                    grads_rev.append((du * lp.xhat).sum(axis=0, out=out()))  # dgamma
                    dz = batchnorm_backward(du * L.gamma, lp.xhat, lp.inv_std)  # type: ignore[arg-type]
                else:
                    dz = du
                if L.b is not None:
                    grads_rev.append(dz.sum(axis=0, out=out()))
                dW = np.matmul(lp.x.T, dz, out=out())
                if weight_decay:
                    dW += lam * L.W
                grads_rev.append(dW)
                if i:
                    dout = dz @ L.W.T
                if not keep:
                    del lp, du, dz
        p = Pass(data_loss + self.reg_loss(weight_decay), data_loss, correct, lps)
        p.grads = grads_rev[::-1]
        return p


def eval_loss(s: Array, y: Array) -> tuple[float, int]:
    """softmax_loss(s, y, grad=False)'s (value, correct), the same numbers, without the probabilities."""
    n = s.shape[0]
    with np.errstate(all="ignore"):
        shifted = s - s.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        logp = shifted[np.arange(n), y] - np.log(e.sum(axis=1))
        value = float(-np.mean(logp, dtype=np.float64))
        correct = int(np.count_nonzero(np.argmax(s, axis=1) == y))
    return value, correct


def softmax_loss(s: Array, y: Array, grad: bool) -> tuple[float, int, Array | None]:
    """Mean cross-entropy of softmax(s) against labels y (float64 value), the number of correct
    argmaxes, and d loss / d s = (softmax - onehot) / N when grad."""
    n = s.shape[0]
    with np.errstate(all="ignore"):
        shifted = s - s.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        p = e / e.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        # log-softmax directly (not log of p): exact for confident predictions
        logp = shifted[rows, y] - np.log(e.sum(axis=1))
        value = float(-np.mean(logp, dtype=np.float64))
        correct = int(np.count_nonzero(np.argmax(s, axis=1) == y))
        if not grad:
            return value, correct, None
        p[rows, y] -= 1
        p /= s.dtype.type(n)
    return value, correct, p
