"""Model parameters as immutable trees, and their initialisation.

A layer computes ``x @ w + b`` with ``w`` of shape ``(fan_in, fan_out)``. ``Params``
holds the layers and the activation, so ``forward(params, x)`` needs nothing else.
Every array handed out is read-only: a new model is a new tree (see :func:`tree_map`).

>>> from mlp_functional.random import key
>>> p = init(key(0), [784, 32, 10])
>>> p.sizes, p.dtype, n_params(p)
((784, 32, 10), dtype('float32'), 25450)
>>> p.layers[0].w.flags.writeable
False
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from .activations import Activation, get_activation
from .random import Key, generator, split

__all__ = [
    "Layer",
    "Params",
    "freeze",
    "init",
    "n_params",
    "ravel",
    "tree_map",
    "tree_reduce",
    "unravel",
]

Array = np.ndarray
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Layer(NamedTuple):
    """One dense layer: ``w`` of shape ``(fan_in, fan_out)``, ``b`` of shape ``(fan_out,)``."""

    w: Array
    b: Array


class Params(NamedTuple):
    """A multilayer perceptron: its layers and the activation between them.

    The last layer has no activation: it returns logits.
    """

    layers: tuple[Layer, ...]
    activation: Activation

    @property
    def sizes(self) -> tuple[int, ...]:
        """Widths from input to output, e.g. ``(784, 256, 10)``."""
        return (self.layers[0].w.shape[0], *(layer.w.shape[1] for layer in self.layers))

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.layers[0].w.dtype


def freeze(a: Array) -> Array:
    """Mark a freshly made array read-only and return it.

    >>> freeze(np.zeros(2)).flags.writeable
    False
    """
    a.setflags(write=False)
    return a


def n_params(params: Params) -> int:
    """Number of scalars in the model: ``sum_l (fan_in_l + 1) * fan_out_l``.

    >>> from mlp_functional.random import key
    >>> n_params(init(key(0), [3, 2]))
    8
    """
    return sum(layer.w.size + layer.b.size for layer in params.layers)


def ravel(params: Params, out: Array | None = None) -> Array:
    """All weights and biases in one 1-D array, layer by layer, ``w`` before ``b``.

    Returns a fresh writeable array (or fills ``out``); :func:`unravel` is the inverse.

    >>> from mlp_functional.random import key
    >>> p = init(key(0), [3, 2])
    >>> ravel(p).shape
    (8,)
    """
    arrays = [a for layer in params.layers for a in layer]
    flat = np.empty(sum(a.size for a in arrays), params.dtype) if out is None else out
    offset = 0
    for a in arrays:
        flat[offset : offset + a.size] = a.reshape(-1)
        offset += a.size
    return flat


def unravel(flat: Array, like: Params) -> Params:
    """Params shaped like ``like`` whose arrays are views into ``flat`` (no copy).

    >>> from mlp_functional.random import key
    >>> p = init(key(0), [3, 2])
    >>> q = unravel(ravel(p), p)
    >>> bool((q.layers[0].w == p.layers[0].w).all())
    True
    """
    needed = n_params(like)
    if flat.shape != (needed,):
        raise ValueError(f"flat buffer has shape {flat.shape}, the model needs ({needed},)")
    layers = []
    offset = 0
    for layer in like.layers:
        views = []
        for a in layer:
            views.append(flat[offset : offset + a.size].reshape(a.shape))
            offset += a.size
        layers.append(Layer(*views))
    return Params(tuple(layers), like.activation)


def tree_map(f: Callable[..., Array], tree: Params, *rest: Params) -> Params:
    """Apply ``f`` to every array of ``tree`` (and the matching arrays of ``rest``).

    ``params + grads`` would concatenate tuples; use this instead. Each result is
    handed out read-only, like every array the library returns.

    >>> from mlp_functional.random import key
    >>> p = init(key(0), [3, 2])
    >>> z = tree_map(lambda w, g: w - g, p, p)
    >>> float(ravel(z).sum()), z.layers[0].w.flags.writeable
    (0.0, False)
    """

    def leaf(*arrays: Array) -> Array:
        out = np.array(f(*arrays))  # a copy, so that f may return one of its inputs
        return freeze(out)

    return Params(
        tuple(
            Layer(*(leaf(*arrays) for arrays in zip(*layers, strict=True)))
            for layers in zip(tree.layers, *(t.layers for t in rest), strict=True)
        ),
        tree.activation,
    )


def tree_reduce(f: Callable[[Any, Array], Any], tree: Params, initial: Any) -> Any:
    """Fold ``f`` over the arrays of ``tree``, layer by layer, ``w`` before ``b``.

    >>> from mlp_functional.random import key
    >>> tree_reduce(lambda total, a: total + a.size, init(key(0), [3, 2]), 0)
    8
    """
    return functools.reduce(f, (a for layer in tree.layers for a in layer), initial)


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
    """Random weights and zero biases for a network of the given widths.

    ``w ~ N(0, 2 / fan_in)`` (He et al., 2015) for the ReLU family, and
    ``w ~ U(-sqrt(6 / (fan_in + fan_out)), +...)`` (Glorot & Bengio, 2010) for
    tanh and sigmoid, so that activations keep their scale from layer to layer.

    Args:
      key: random key; the same key gives bit-identical params.
      sizes: widths from input to output, e.g. ``[784, 256, 128, 10]``.
      activation: a name from ``ACTIVATIONS`` or an :class:`Activation`.
      dtype: ``float32`` (default) or ``float64``.

    Returns:
      Read-only :class:`Params`.

    >>> from mlp_functional.random import key
    >>> p = init(key(0), [4, 3, 2], activation="tanh", dtype="float64")
    >>> [layer.w.shape for layer in p.layers], p.activation.name
    ([(4, 3), (3, 2)], 'tanh')
    """
    checked = _check_sizes(sizes)
    act = get_activation(activation)
    dt = np.dtype(dtype)
    if dt not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got dtype={dt}")
    if act.init not in ("he", "glorot"):
        raise ValueError(f"Activation.init must be 'he' or 'glorot', got {act.init!r}")

    def layer(fan_in: int, fan_out: int, k: Key) -> Layer:
        rng = generator(k)
        if act.init == "he":
            w = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
        else:
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            w = rng.uniform(-limit, limit, (fan_in, fan_out))
        return Layer(freeze(w.astype(dt)), freeze(np.zeros(fan_out, dt)))

    shapes = list(itertools.pairwise(checked))
    keys = split(key, len(shapes))
    return Params(tuple(layer(i, o, k) for (i, o), k in zip(shapes, keys, strict=True)), act)
