"""Training: the lectures' optimisers, data sets, and a training loop that watches the per-layer
statistics over time (``actstat train``). Pure numpy.

    >>> from actstat.training import TrainConfig, train
    >>> doc = train(TrainConfig(widths=(20, 20), data="blobs", steps=20, optimizer="momentum", lr=0.05))
    >>> doc["final"]["train_acc"] > 0.8
    True

The document ``train`` returns (``actstat train --format json``; numbers are null where not finite):

    actstat_version, kind: "train"
    config         every TrainConfig field, resolved (lr, batch_size, steps, epochs, the optimiser's
                   spec), plus the formulas in use (optimizer_formula, init_formula, act_formula,
                   loss_formula, preprocess_formula, dropout_scaling, batchnorm_formula)
    data           {name, train, val, features, classes}
    checkpoints    [{step, epoch, loss, train_acc, val_acc, val_loss, batch_loss, batch_data_loss,
                     layers: [{layer, width, mean, std, saturated, zero, dead, grad_rms, weight_rms,
                               update_ratio, hist, hist_outside}]}]
                   loss/train_acc: evaluation mode on up to eval_size training examples (loss includes
                   the 0.5 * lambda * ||W||^2 term); val_acc/val_loss: the same on the validation set
                   (null when it is empty); batch_loss/batch_data_loss: the training-mode mini-batch loss
                   with/without the weight-decay term; per layer: activation statistics (fractions 0..1)
                   and RMS of dL/dh from the training-mode pass at that step, weight_rms of W, and
                   update_ratio = ||W_s - W_{s-1}|| / ||W_{s-1}|| (null at step 0); hist: counts over
                   hist_edges[layer - 1], hist_outside: entries outside them
    hist_edges     per layer, the histogram edges, fixed for the whole run
    thresholds     the babysitting thresholds in use (actstat.training.verdicts)
    warnings       [{kind, step, layer, value, threshold, message, hint}]
    stopped_early  null or {step, reason}
    final          {step, loss, train_acc, val_acc, val_loss} at the last step, in evaluation mode on the
                   whole training and validation sets
    probe          {batch, warnings: [{layer, kind, value, threshold, message, hint}]}: actstat probe's
                   verdict on the step-0 network (the same weights) with the evaluated training examples
"""

from __future__ import annotations

from .datasets import Dataset, load_dataset
from .loop import TrainConfig, checkpoint_steps, train
from .optimizers import OPTIMIZERS, Optimizer, get_optimizer
from .verdicts import TRAIN_THRESHOLDS

__all__ = ["OPTIMIZERS", "TRAIN_THRESHOLDS", "Dataset", "Optimizer", "TrainConfig", "checkpoint_steps",
           "get_optimizer", "load_dataset", "train"]
