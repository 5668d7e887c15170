"""mlp_functional: a multilayer perceptron from first principles, as pure NumPy functions.

One flat namespace for the engine. The data tools live in :mod:`mlp_functional.data`;
the command line in :mod:`mlp_functional.cli`.

>>> import numpy as np
>>> import mlp_functional as mf
>>> params = mf.init(mf.key(0), [784, 32, 10])
>>> mf.predict(params, np.zeros((2, 28, 28), np.uint8)).shape
(2,)
"""

from .activations import ACTIVATIONS, Activation, get_activation, leaky_relu, relu, sigmoid, tanh
from .augment import (
    AffineParams,
    affine,
    augment,
    elastic,
    random_affine,
    random_displacement,
    warp,
)
from .backprop import check_grad, grad, loss_and_grad
from .features import to_features
from .forward import Trace, forward, forward_trace
from .loss import cross_entropy, log_softmax, loss, softmax, softmax_cross_entropy
from .optimizers import (
    AdamState,
    FlatRule,
    MomentumState,
    Optimizer,
    SgdState,
    adam,
    adamw,
    apply_rule,
    from_rule,
    learning_rate_at,
    momentum,
    sgd,
)
from .params import Layer, Params, init, n_params, ravel, tree_map, unravel
from .predict import Hardest, accuracy, evaluate, hardest, predict, predict_proba
from .random import Key, generator, key, split
from .regularize import add_l2, clip_by_global_norm, dropout
from .schedules import constant, cosine, one_cycle, step_decay, warmup_cosine
from .train import (
    DivergenceError,
    EpochLog,
    TrainState,
    fit,
    init_state,
    minibatches,
    train_epoch,
    train_step,
)
from .validate import NotNormalisedWarning

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "AdamState",
    "AffineParams",
    "DivergenceError",
    "EpochLog",
    "FlatRule",
    "Hardest",
    "Key",
    "Layer",
    "MomentumState",
    "NotNormalisedWarning",
    "Optimizer",
    "Params",
    "SgdState",
    "Trace",
    "TrainState",
    "__version__",
    "accuracy",
    "adam",
    "adamw",
    "add_l2",
    "affine",
    "apply_rule",
    "augment",
    "check_grad",
    "clip_by_global_norm",
    "constant",
    "cosine",
    "cross_entropy",
    "dropout",
    "elastic",
    "evaluate",
    "fit",
    "forward",
    "forward_trace",
    "from_rule",
    "generator",
    "get_activation",
    "grad",
    "hardest",
    "init",
    "init_state",
    "key",
    "leaky_relu",
    "learning_rate_at",
    "log_softmax",
    "loss",
    "loss_and_grad",
    "minibatches",
    "momentum",
    "n_params",
    "one_cycle",
    "predict",
    "predict_proba",
    "random_affine",
    "random_displacement",
    "ravel",
    "relu",
    "sgd",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy",
    "split",
    "step_decay",
    "tanh",
    "to_features",
    "train_epoch",
    "train_step",
    "tree_map",
    "unravel",
    "warmup_cosine",
    "warp",
]
