"""The textbook's functions as the public API: each behind :func:`~.boundary.public`
(arguments checked, results read-only), plus the builders that check what the textbook
leaves to its caller (sizes, dtypes, names, seeds).

>>> import numpy as np
>>> import mlp_functional as mf
>>> p = mf.init(mf.key(0), [784, 16, 10])
>>> mf.forward(p, np.zeros((2, 28, 28), np.uint8)).shape, mf.n_params(p)
((2, 10), 12730)
"""

from __future__ import annotations

import copyreg
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from ..textbook import activations, params, random
from ..textbook import backward as tb_backward
from ..textbook import forward as tb_forward
from ..textbook import loss as tb_loss
from ..textbook import optimizers as tb_optimizers
from ..textbook import schedules as tb_schedules
from ..textbook import train as tb_train
from ..textbook.activations import Activation
from ..textbook.params import Params
from ..textbook.random import Key
from .boundary import inputs_of, public, read_only
from .checks import check_rate

__all__ = [
    "ACTIVATIONS",
    "FLOAT_DTYPES",
    "adam",
    "adamw",
    "add_decayed_weights",
    "add_l2",
    "apply_updates",
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
    "forward",
    "forward_trace",
    "get_activation",
    "grad",
    "identity",
    "init",
    "key",
    "leaky_relu",
    "learning_rate_at",
    "log_softmax",
    "logsumexp",
    "loss",
    "loss_and_grad",
    "max_norm",
    "momentum",
    "n_params",
    "one_cycle",
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
    "targets",
    "trace_momentum",
    "tree_map",
    "tree_reduce",
    "unravel",
    "warmup_cosine",
]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

#: The built-in activations, their functions returning read-only arrays.
ACTIVATIONS: Mapping[str, Activation] = MappingProxyType(
    {name: read_only(a) for name, a in activations.ACTIVATIONS.items()}
)
relu, leaky_relu, tanh, sigmoid = (
    ACTIVATIONS[n] for n in ("relu", "leaky_relu", "tanh", "sigmoid")
)


def get_activation(activation: str | Activation) -> Activation:
    """A built-in activation by name, or a user's :class:`Activation` as it is.

    >>> get_activation("tanh").name
    'tanh'
    """
    if isinstance(activation, Activation):
        return activation
    try:
        return ACTIVATIONS[activation]
    except (KeyError, TypeError):
        known = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(
            f"unknown activation {activation!r}: choose one of {known}, "
            "or pass an Activation(name, value, derivative)"
        ) from None


def _reduce_activation(activation: Activation) -> tuple[Any, tuple[Any, ...]]:
    """Pickle a built-in activation as its name (its functions are wrapped closures), so
    that params and estimators pickle as they did; a user's own as its fields."""
    if activation == ACTIVATIONS.get(activation.name):
        return get_activation, (activation.name,)
    return Activation, tuple(activation)


copyreg.pickle(Activation, _reduce_activation)


def key(seed: int) -> Key:
    """A random key from a non-negative integer seed.

    >>> key(42) == key(42)
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got seed={seed!r}")
    return random.key(int(seed))


def split(k: Key, n: int = 2) -> tuple[Key, ...]:
    """``n`` independent keys derived from ``k``.

    >>> len(split(key(1), 3))
    3
    """
    if n < 1:
        raise ValueError(f"split needs n >= 1, got n={n}")
    return random.split(k, n)


def _check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    try:
        checked = tuple(int(s) for s in sizes)
    except (TypeError, ValueError):
        raise ValueError(f"sizes must be a sequence of integers, got {sizes!r}") from None
    if len(checked) < 2 or any(s < 1 for s in checked) or checked != tuple(sizes):
        raise ValueError(
            f"sizes must list at least two positive integers (inputs ... classes), "
            f"got {list(sizes)!r}; for example [784, 256, 10]"
        )
    return checked


def init(
    key: Key,
    sizes: Sequence[int],
    *,
    activation: str | Activation = "relu",
    dtype: npt.DTypeLike = np.float32,
) -> Params:
    """Random weights and zero biases (:func:`mlp_functional.textbook.params.init`).

    Args:
      key: random key; the same key gives bit-identical params.
      sizes: widths from input to output, e.g. ``[784, 256, 128, 10]``.
      activation: a name from ``ACTIVATIONS`` or an :class:`Activation`.
      dtype: ``float32`` (default) or ``float64``.

    >>> p = init(key(0), [4, 3, 2], activation="tanh", dtype="float64")
    >>> [layer.w.shape for layer in p.layers], p.activation.name, p.layers[0].w.flags.writeable
    ([(4, 3), (3, 2)], 'tanh', False)
    """
    checked = _check_sizes(sizes)
    act = get_activation(activation)
    dt = np.dtype(dtype)
    if dt not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got dtype={dt}")
    if act.init not in ("he", "glorot"):
        raise ValueError(f"Activation.init must be 'he' or 'glorot', got {act.init!r}")
    return read_only(params.init(key, checked, act, dt))


def n_params(p: Params) -> int:
    """``sum_l (fan_in_l + 1) * fan_out_l``, the model's number of scalars.

    >>> n_params(init(key(0), [3, 2]))
    8
    """
    return sum(layer.w.size + layer.b.size for layer in p.layers)


def dropout(key: Key, a: Any, rate: float) -> np.ndarray:
    """``a * mask`` with an inverted-dropout mask drawn from ``key`` (a copy at rate 0).

    >>> x = np.ones((1000, 100), np.float32)
    >>> round(float(dropout(key(1), x, 0.3).mean()), 2)
    1.0
    """
    rate = check_rate(rate)
    a = np.asarray(a)
    if rate == 0:
        return read_only(a.copy())
    flat = a.reshape(-1, a.shape[-1]) if a.ndim else a.reshape(1, 1)
    (mask,) = tb_train.dropout_masks(key, len(flat), [flat.shape[1]], rate, a.dtype)
    return read_only((flat * mask).reshape(a.shape))


def forward_trace(p: Params, x: Any) -> tb_forward.Trace:
    """:func:`~mlp_functional.textbook.forward.propagate` on raw inputs.

    >>> t = forward_trace(init(key(0), [4, 3, 2]), np.ones((1, 4)))
    >>> len(t.hidden), t.logits.flags.writeable
    (1, False)
    """
    return read_only(tb_forward.propagate(p, inputs_of(p, x)))


def unravel(flat: Any, like: Params) -> Params:
    """Params shaped like ``like`` whose arrays are read-only views into ``flat`` (no copy);
    the inverse of :func:`ravel`.

    >>> p = init(key(0), [3, 2])
    >>> q = unravel(ravel(p), p)
    >>> bool((q.layers[0].w == p.layers[0].w).all()), q.layers[0].w.flags.writeable
    (True, False)
    """
    flat = np.asarray(flat)
    needed = n_params(like)
    if flat.shape != (needed,):
        raise ValueError(f"flat buffer has shape {flat.shape}, the model needs ({needed},)")
    return read_only(params.unravel(flat, like))


# The textbook's functions behind the boundary, under the names the API gives them.
dense = public(tb_forward.dense)
forward = public(tb_forward.forward)
logsumexp = public(tb_loss.logsumexp)
log_softmax = public(tb_loss.log_softmax)
softmax = public(tb_loss.softmax)
targets = public(tb_loss.targets)
cross_entropy = public(tb_loss.cross_entropy)
cross_entropy_grad = public(tb_loss.cross_entropy_grad)
loss = public(tb_loss.loss)
backward = public(tb_backward.backward)
loss_and_grad = public(tb_backward.loss_and_grad)
grad = public(tb_backward.grad)
check_grad = public(tb_backward.check_grad)
tree_map = public(params.tree_map)
tree_reduce = params.tree_reduce
ravel = public(params.ravel)
apply_updates = public(tb_optimizers.apply_updates)
learning_rate_at = tb_optimizers.learning_rate_at
identity = public(tb_optimizers.identity)
chain = public(tb_optimizers.chain)
scale_by_learning_rate = public(tb_optimizers.scale_by_learning_rate)
trace_momentum = public(tb_optimizers.trace_momentum)
scale_by_adam = public(tb_optimizers.scale_by_adam)
add_l2 = public(tb_optimizers.add_l2)
add_decayed_weights = public(tb_optimizers.add_decayed_weights)
clip_by_global_norm = public(tb_optimizers.clip_by_global_norm)
max_norm = public(tb_optimizers.max_norm)
sgd = public(tb_optimizers.sgd)
momentum = public(tb_optimizers.momentum)
adam = public(tb_optimizers.adam)
adamw = public(tb_optimizers.adamw)
count_updates = public(tb_optimizers.count_updates)
constant = public(tb_schedules.constant, schedule=True)
step_decay = public(tb_schedules.step_decay, schedule=True)
cosine = public(tb_schedules.cosine, schedule=True)
warmup_cosine = public(tb_schedules.warmup_cosine, schedule=True)
one_cycle = public(tb_schedules.one_cycle, schedule=True)
