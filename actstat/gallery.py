"""The canonical experiments (BACKGROUND.md) as data: what `actstat gallery` turns into sample_reports/.

Each case is a name (its directory), a title, the `actstat probe` arguments, and what the lectures
say about it. Adding a case is one line.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    argv: tuple[str, ...]
    lecture: str
    command: str = "probe"  # probe, train, or compare (training: argv starts with --train)


CS231N = ("--layers", "10", "--width", "500", "--batch", "1000")
DLFS = ("--layers", "5", "--width", "100", "--batch", "1000", "--hist-range", "0,1")

CASES: tuple[Case, ...] = (
    Case("cs231n-tanh-small", "CS231n: tanh, W = 0.01 randn", (*CS231N, "--act", "tanh", "--init", "normal:0.01"),
         "All activations become zero: the gradients on W vanish too."),
    Case("cs231n-tanh-unit", "CS231n: tanh, W = 1.0 randn", (*CS231N, "--act", "tanh", "--init", "normal:1"),
         "Almost every unit saturates at -1 or +1: local gradients are zero."),
    Case("cs231n-tanh-xavier", "CS231n: tanh, Xavier", (*CS231N, "--act", "tanh", "--init", "xavier"),
         "Reasonable: the distributions shrink slowly but stay healthy."),
    Case("cs231n-relu-xavier", "CS231n: ReLU, Xavier", (*CS231N, "--act", "relu", "--init", "xavier"),
         "ReLU halves the variance each layer: the deep layers' activations collapse towards zero."),
    Case("cs231n-relu-he", "CS231n: ReLU, He", (*CS231N, "--act", "relu", "--init", "he"),
         "W = randn / sqrt(fan_in / 2): the activations keep their scale through the depth."),
    Case("dlfs-sigmoid-unit", "Deep Learning from Scratch: sigmoid, std 1",
         (*DLFS, "--act", "sigmoid", "--init", "normal:1"),
         "The outputs pile up at 0 and 1, where sigmoid's derivative vanishes."),
    Case("dlfs-sigmoid-small", "Deep Learning from Scratch: sigmoid, std 0.01",
         (*DLFS, "--act", "sigmoid", "--init", "normal:0.01"),
         "Every unit outputs about 0.5: many units are no better than one (limited expressiveness)."),
    Case("dlfs-sigmoid-xavier", "Deep Learning from Scratch: sigmoid, Xavier",
         (*DLFS, "--act", "sigmoid", "--init", "xavier"),
         "A healthy spread in every layer (not zero-centred: informational)."),
    Case("dlfs-relu-small", "Deep Learning from Scratch: ReLU, std 0.01",
         (*DLFS, "--act", "relu", "--init", "normal:0.01"),
         "The activations shrink towards zero layer after layer: learning barely progresses."),
    Case("dlfs-relu-xavier", "Deep Learning from Scratch: ReLU, Xavier", (*DLFS, "--act", "relu", "--init", "xavier"),
         "The activations shrink with depth, slowly at five layers."),
    Case("dlfs-relu-he", "Deep Learning from Scratch: ReLU, He", (*DLFS, "--act", "relu", "--init", "he"),
         "An even spread in every layer."),
    Case("batchnorm-rescue", "Batch norm rescues a bad init: ReLU, std 0.01, batch norm",
         (*CS231N, "--act", "relu", "--init", "normal:0.01", "--batchnorm"),
         "FC -> BN -> ReLU: each layer is renormalised, so even W = 0.01 randn stays healthy."),
    Case("zero-init", "Zero init: symmetry is never broken", (*CS231N, "--act", "tanh", "--init", "zeros"),
         "Every unit computes the same thing and gets the same gradient; here nothing gets through at all."),
    Case("grad-relu-xavier", "Gradient mode: ReLU, Xavier", (*CS231N, "--act", "relu", "--init", "xavier", "--grad"),
         "The backward pass loses the same factor per layer as the forward pass: the first layers' gradients"
         " are an order of magnitude below the last layer's."),
    Case("grad-tanh-small", "Gradient mode: tanh, W = 0.01 randn",
         (*CS231N, "--act", "tanh", "--init", "normal:0.01", "--grad"),
         "What do the gradients look like? Tiny inputs make tiny weight gradients in every layer, and the"
         " back-propagated gradient shrinks by ~0.2 per layer on its way to the first."),
    Case("positive-inputs", "All-positive inputs: tanh, Xavier, inputs in [0, 1)",
         ("--layers", "5", "--width", "100", "--batch", "1000", "--act", "tanh", "--init", "xavier",
          "--input", "positive", "--grad"),
         "With all-positive inputs, the gradients on a unit's incoming weights share one sign per example:"
         " updates zig-zag. Centre the inputs."),
)

# The lectures' training experiments (issue 16): each one `actstat train` or `actstat compare --train`.
DIGITS = ("--data", "digits", "--act", "relu")
NET5 = ("--layers", "5", "--width", "100")

TRAIN_CASES: tuple[Case, ...] = (
    Case("train-optimizers", "The four optimisers on digits (the notes' MNIST figure)",
         ("--train", *DIGITS, *NET5, "--init", "he", "--optimizer", "sgd,momentum,adagrad,adam", "--steps", "500"),
         "SGD (lr 0.01) is the slowest; Momentum, AdaGrad (0.01) and Adam (0.001) bring the loss down much"
         " faster. Each optimiser at the learning rate the notes use.", "compare"),
    Case("train-inits", "ReLU, 5 x 100: std 0.01 against Xavier against He, by loss curve",
         ("--train", *DIGITS, *NET5, "--init", "normal:0.01,xavier,he", "--optimizer", "sgd", "--lr", "0.01",
          "--steps", "500"),
         "With std 0.01 the signal vanishes and the loss does not move; Xavier learns, He learns fastest: the"
         " probe's step-0 verdicts (vanishing, vanishing in the deep layers, healthy) in the order training"
         " confirms.", "compare"),
    Case("train-batchnorm", "Batch norm against none at a poor init (ReLU, std 0.01)",
         ("--train", *DIGITS, *NET5, "--init", "normal:0.01", "--batchnorm-both", "--optimizer", "sgd", "--lr",
          "0.01", "--steps", "500"),
         "Without batch norm nothing is learnt from W = 0.01 randn; with it every layer is renormalised and,"
         " after a few dozen steps, the network learns.", "compare"),
    Case("train-overfit", "Overfitting: 7 x 100 ReLU on 300 training examples, weight decay and dropout",
         ("--train", *DIGITS, "--layers", "7", "--width", "100", "--init", "he", "--train-size", "300",
          "--weight-decay", "0,0.1", "--dropout", "0,0.15", "--optimizer", "sgd", "--lr", "0.01",
          "--epochs", "200"),
         "Alone, the network reaches 100% training accuracy while validation stays lower; weight decay"
         " (lambda 0.1) or dropout (0.15) narrows the gap at the price of a slower fit; both together underfit"
         " in these 600 steps.", "compare"),
    Case("babysit-lr-low", "Babysitting: learning rate 1e-6", (*DIGITS, *NET5, "--init", "he", "--optimizer", "sgd",
                                                              "--lr", "1e-6", "--steps", "300"),
         "Loss barely changing: the learning rate is too low.", "train"),
    Case("babysit-lr-high", "Babysitting: learning rate 1e6", (*DIGITS, *NET5, "--init", "he", "--optimizer", "sgd",
                                                              "--lr", "1e6", "--steps", "300"),
         "Cost NaN or above 3x the original: the learning rate is too high; training stops early.", "train"),
)

# The notes' hyperparameter search and Schoenholz et al.'s trainability map (issue 17): each one
# `actstat search` or `actstat trainability`, written with its picture (PICTURES), ranked table and JSON.
PICTURES = {"search": "search.png", "trainability": "map.png"}

SWEEP_CASES: tuple[Case, ...] = (
    Case("search-digits", "Random search on digits: learning rate and weight decay, coarse to fine",
         ("--data", "digits", "--preprocess", "minmax", "--widths", "64x2", "--lr", "1e-6:1e-2", "--weight-decay",
          "1e-8:1e-4", "--trials", "8", "--stages", "2", "--epochs", "2", "--every", "7", "--top", "5"),
         "lr and weight decay drawn on a log scale; stage 1's best learning rate sits at the top of its range,"
         " so stage 2 widens it upwards, narrows weight decay around the best trials and trains twice as long.",
         "search"),
    Case("trainability-tanh", "The trainability map: tanh, sigma_b^2 0.05, depth against 6 xi_c",
         ("--act", "tanh", "--sigma-w", "1.0:4.0:4", "--layers", "5:35:4", "--steps", "80"),
         "Schoenholz et al. 2017: a network trains only while its depth is below about 6 xi_c, which"
         " diverges at the critical sigma_w; the deep cells train only near it.", "trainability"),
)
