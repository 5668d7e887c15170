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

from ..activations import leaky_relu, relu, sigmoid, tanh
from ..optimizers import Optimizer, Spec
from ..params import Params, n_params, ravel, unravel
from ..readonly import freeze
from ..train import TrainState
from .rules import SUPPORTED

__all__ = [
    "FastState",
    "Slot",
    "from_fast",
    "has_activation_kernel",
    "leaves",
    "supports",
    "to_fast",
]

Array = np.ndarray

#: Activations with in-place kernels (compared by identity of the textbook objects).
FAST_ACTIVATIONS = (relu, leaky_relu, tanh, sigmoid)


class Slot(NamedTuple):
    """One transformation's state: its fields, Params flattened to 1-D arrays."""

    kind: type[Any]
    values: tuple[Any, ...]


class FastState(NamedTuple):
    """Flat params and one :class:`Slot` per transformation of the optimizer chain."""

    p: Array
    slots: tuple[Slot, ...]


def leaves(spec: Spec, state: Any) -> list[tuple[Spec, Any]]:
    """The chain's transformations in order, each with its own state."""
    if spec.name == "chain":
        return [pair for s, st in zip(spec.parts, state, strict=True) for pair in leaves(s, st)]
    return [(spec, state)]


def _supported_spec(spec: Spec | None) -> bool:
    if spec is None:
        return False
    if spec.name == "chain":
        return all(_supported_spec(part) for part in spec.parts)
    return spec.name in SUPPORTED


def has_activation_kernel(activation: Any) -> bool:
    """Whether the fast engine has in-place kernels for this activation (a built-in one).

    >>> import mlp_functional as mf
    >>> has_activation_kernel(mf.relu), has_activation_kernel(mf.relu._replace(name="mine"))
    (True, False)
    """
    return any(activation == a for a in FAST_ACTIVATIONS)


def supports(state: TrainState) -> bool:
    """Whether every piece of a training run has a fast kernel: the activation and each
    transformation of the optimizer. (Augmentation is a function on float batches that
    both engines call alike.)

    >>> import mlp_functional as mf
    >>> odd = mf.Activation("cube", lambda z: z**3, lambda z, a: 3 * z**2)
    >>> supports(mf.init_state(mf.key(0), mf.init(mf.key(1), [3, 2], activation=odd), mf.sgd(0.1)))
    False
    """
    return has_activation_kernel(state.params.activation) and _supported_spec(state.optimizer.spec)


def _writeable_flat(params: Params) -> Array:
    return ravel(params, np.empty(n_params(params), params.dtype))


def _flat(value: Any) -> Any:
    return _writeable_flat(value) if isinstance(value, Params) else value


def to_fast(state: TrainState) -> FastState:
    """Copy a textbook state into fresh flat buffers the fast engine may write."""
    opt: Optimizer = state.optimizer
    assert opt.spec is not None, "check supports(state) first"
    slots = tuple(
        Slot(type(st), tuple(_flat(v) for v in st)) for _, st in leaves(opt.spec, state.opt_state)
    )
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
