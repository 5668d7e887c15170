"""mlp_functional: a multilayer perceptron from first principles, as pure NumPy functions.

One flat namespace for the engine. The data tools live in :mod:`mlp_functional.data`;
the command line in :mod:`mlp_functional.cli`.

>>> import numpy as np
>>> import mlp_functional as mf
>>> params = mf.init(mf.key(0), [784, 32, 10])
>>> mf.predict(params, np.zeros((2, 28, 28), np.uint8)).shape
(2,)
"""

from .augment import (
    AffineParams,
    affine,
    augment,
    elastic,
    random_affine,
    random_displacement,
    warp,
)
from .engine.api import (
    ACTIVATIONS,
    adam,
    adamw,
    add_decayed_weights,
    add_l2,
    apply_updates,
    backward,
    chain,
    check_grad,
    clip_by_global_norm,
    constant,
    cosine,
    count_updates,
    cross_entropy,
    cross_entropy_grad,
    dense,
    dropout,
    forward,
    forward_trace,
    get_activation,
    grad,
    identity,
    init,
    key,
    leaky_relu,
    learning_rate_at,
    log_softmax,
    logsumexp,
    loss,
    loss_and_grad,
    momentum,
    n_params,
    one_cycle,
    ravel,
    relu,
    scale_by_adam,
    scale_by_learning_rate,
    sgd,
    sigmoid,
    softmax,
    split,
    step_decay,
    tanh,
    trace_momentum,
    tree_map,
    tree_reduce,
    unravel,
    warmup_cosine,
)
from .engine.boundary import public as _public
from .engine.checks import NotNormalisedWarning
from .engine.epochs import DivergenceError, EpochLog, minibatches, train_step
from .engine.inference import Hardest
from .engine.table import (
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
from .textbook import train as _train
from .textbook.activations import Activation
from .textbook.forward import Trace
from .textbook.optimizers import (
    AdamState,
    CountState,
    EmptyState,
    LearningRateState,
    MomentumState,
    Optimizer,
)
from .textbook.params import Layer, Params
from .textbook.random import Key, generator
from .textbook.train import Batch, TrainState

init_state = _public(_train.init_state)

__version__ = "0.1.0"

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
