"""The losses that start the backward pass (``--loss``) and the gradient mode's defaults.

A module of its own so that a forward-only probe never imports the backward pass.
The losses themselves are computed in ``actstat.backward.make_loss``.
"""

from __future__ import annotations

LOSSES = {
    "softmax": "an output layer of --classes units (same --init), softmax cross-entropy against random labels",
    "mse": "0.5 * mean over the batch of ||h_L - y||^2, targets y ~ N(0, 1)",
    "random": "upstream gradient dL/dh_L ~ N(0, 1) / batch: isolates the network itself",
}
DEFAULT_LOSS = "softmax"
DEFAULT_CLASSES = 10
DEFAULT_LR = 1e-3
