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
from .backprop import backward, check_grad, grad, loss_and_grad
from .engines import (
    ENGINES,
    accuracy,
    evaluate,
    fit,
    hardest,
    predict,
    predict_proba,
    train_epoch,
)
from .features import to_features
from .forward import Trace, dense, forward, forward_trace
from .loss import cross_entropy, cross_entropy_grad, log_softmax, logsumexp, loss, softmax
from .optimizers import (
    AdamState,
    CountState,
    EmptyState,
    LearningRateState,
    MomentumState,
    Optimizer,
    Spec,
    adam,
    adamw,
    add_decayed_weights,
    add_l2,
    apply_updates,
    chain,
    clip_by_global_norm,
    count_updates,
    identity,
    learning_rate_at,
    momentum,
    scale_by_adam,
    scale_by_learning_rate,
    sgd,
    trace_momentum,
)
from .params import Layer, Params, init, n_params, ravel, tree_map, tree_reduce, unravel
from .predict import Hardest
from .random import Key, generator, key, split
from .regularize import dropout
from .schedules import constant, cosine, one_cycle, step_decay, warmup_cosine
from .train import (
    Batch,
    DivergenceError,
    EpochLog,
    TrainState,
    init_state,
    minibatches,
    train_step,
)
from .validate import NotNormalisedWarning
from .version import __version__

__all__ = [
    "ACTIVATIONS",
    "ENGINES",
    "Activation",
    "AdamState",
    "AffineParams",
    "Batch",
    "CountState",
    "DivergenceError",
    "EmptyState",
    "EpochLog",
    "Hardest",
    "Key",
    "Layer",
    "LearningRateState",
    "MomentumState",
    "NotNormalisedWarning",
    "Optimizer",
    "Params",
    "Spec",
    "Trace",
    "TrainState",
    "__version__",
    "accuracy",
    "adam",
    "adamw",
    "add_decayed_weights",
    "add_l2",
    "affine",
    "apply_updates",
    "augment",
    "backward",
    "chain",
    "check_grad",
    "clip_by_global_norm",
    "constant",
    "cosine",
    "count_updates",
    "cross_entropy",
    "cross_entropy_grad",
    "dense",
    "dropout",
    "elastic",
    "evaluate",
    "fit",
    "forward",
    "forward_trace",
    "generator",
    "get_activation",
    "grad",
    "hardest",
    "identity",
    "init",
    "init_state",
    "key",
    "leaky_relu",
    "learning_rate_at",
    "log_softmax",
    "logsumexp",
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
    "scale_by_adam",
    "scale_by_learning_rate",
    "sgd",
    "sigmoid",
    "softmax",
    "split",
    "step_decay",
    "tanh",
    "to_features",
    "trace_momentum",
    "train_epoch",
    "train_step",
    "tree_map",
    "tree_reduce",
    "unravel",
    "warmup_cosine",
    "warp",
]
