"""A training state as the fast engine holds it: flat, private, writeable buffers.

``to_fast`` copies the params and every parameter-shaped optimizer buffer into flat
1-D arrays, layer by layer, ``w`` before ``b``; ``from_fast`` hands them back as the
textbook's read-only trees. Both are exact: no arithmetic touches a value.

>>> import mlp_functional as mf
>>> s = mf.init_state(mf.key(0), mf.init(mf.key(1), [3, 2]), mf.momentum(0.1))
>>> back = from_fast(to_fast(s), s)
>>> bool((back.params.layers[0].w == s.params.layers[0].w).all()), back.step
(True, 0)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..readonly import freeze
from ..textbook import activations
from ..textbook.optimizers import Optimizer, chain
from ..textbook.params import Layer, Params, ravel, unravel
from ..textbook.train import TrainState
from .kernels import textbook_activation
from .rules import fused_chain, weight_shapes

__all__ = [
    "FastState",
    "Slot",
    "buffer_views",
    "from_fast",
    "has_activation_kernel",
    "leaves",
    "supports",
    "to_fast",
]

Array = np.ndarray


class Slot(NamedTuple):
    """One transformation's state: its fields, Params flattened to 1-D arrays."""

    kind: type[Any]
    values: tuple[Any, ...]


class FastState(NamedTuple):
    """Flat params and one :class:`Slot` per transformation of the optimizer chain."""

    p: Array
    slots: tuple[Slot, ...]


def leaves(optimizer: Optimizer, state: Any) -> list[tuple[Optimizer, Any]]:
    """The chain's transformations in order, each with its own state."""
    if optimizer.rule is chain:
        parts = zip(optimizer.hyper["parts"], state, strict=True)
        return [pair for part, st in parts for pair in leaves(part, st)]
    return [(optimizer, state)]


def rule_chain(state: TrainState) -> list[tuple[Any, Any]]:
    """The optimizer as the fast engine reads it: ``(factory, hyperparameters)`` in order."""
    return [(opt.rule, opt.hyper) for opt, _ in leaves(state.optimizer, state.opt_state)]


def has_activation_kernel(activation: Any) -> bool:
    """Whether the fast engine has kernels for this activation (a built-in one, compared
    with the textbook's own).

    >>> import mlp_functional as mf
    >>> has_activation_kernel(mf.relu), has_activation_kernel(mf.relu._replace(name="mine"))
    (True, False)
    """
    return textbook_activation(activation) in activations.ACTIVATIONS.values()


def supports(state: TrainState) -> bool:
    """Whether every piece of a training run has a fast form: the activation, and the
    optimizer chain (each transformation registered in :data:`~.rules.RULES`, in a shape
    :func:`~.rules.fused_chain` takes). Augmentation is a function on float batches that
    both engines call alike.

    >>> import mlp_functional as mf
    >>> odd = mf.Activation("cube", lambda z: z**3, lambda z, a: 3 * z**2)
    >>> supports(mf.init_state(mf.key(0), mf.init(mf.key(1), [3, 2], activation=odd), mf.sgd(0.1)))
    False
    """
    if not has_activation_kernel(state.params.activation):
        return False
    return fused_chain(rule_chain(state), shapes=weight_shapes(state.params)) is not None


def buffer_views(flat: Array, like: Params) -> Params:
    """Params shaped like ``like`` whose arrays are views into ``flat``, as writeable as
    ``flat`` is: how the engine writes a whole model's gradients into one buffer.

    >>> import mlp_functional as mf
    >>> p = mf.init(mf.key(0), [3, 2])
    >>> flat = np.zeros(8, p.dtype)
    >>> buffer_views(flat, p).layers[0].b[:] = 1.0
    >>> flat.tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    """
    needed = sum(layer.w.size + layer.b.size for layer in like.layers)
    if flat.shape != (needed,):
        raise ValueError(f"flat buffer has shape {flat.shape}, the model needs ({needed},)")
    layers, offset = [], 0
    for layer in like.layers:
        views = []
        for a in layer:
            views.append(flat[offset : offset + a.size].reshape(a.shape))
            offset += a.size
        layers.append(Layer(*views))
    return Params(tuple(layers), like.activation)


def _writeable_flat(params: Params) -> Array:
    return ravel(params)  # a fresh array


def _flat(value: Any) -> Any:
    return _writeable_flat(value) if isinstance(value, Params) else value


def to_fast(state: TrainState) -> FastState:
    """Copy a textbook state into fresh flat buffers the fast engine may write."""
    pairs = leaves(state.optimizer, state.opt_state)
    slots = tuple(Slot(type(st), tuple(_flat(v) for v in st)) for _, st in pairs)
    return FastState(_writeable_flat(state.params), slots)


def _tree(value: Any, like: Params) -> Any:
    return unravel(freeze(value), like) if isinstance(value, np.ndarray) else value


def _rebuild(template: Any, new_leaves: list[Any]) -> Any:
    if type(template) is tuple:  # a chain's states
        return tuple(_rebuild(part, new_leaves) for part in template)
    return new_leaves.pop(0)


def from_fast(fast: FastState, like: TrainState) -> TrainState:
    """The textbook state holding ``fast``'s buffers (now read-only: hand them over)."""
    params = like.params
    states = [slot.kind(*(_tree(v, params) for v in slot.values)) for slot in fast.slots]
    opt_state = _rebuild(like.opt_state, states)
    return like._replace(params=unravel(freeze(fast.p), params), opt_state=opt_state)
