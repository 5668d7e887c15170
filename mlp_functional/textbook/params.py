"""The model as an immutable tree: layers of ``(w, b)`` and the activation between them.

A layer computes ``z = a @ w + b`` with ``w`` of shape ``(fan_in, fan_out)``. A new model
is a new tree (:func:`tree_map`); ``params + grads`` would concatenate tuples.

>>> from mlp_functional.textbook.activations import relu
>>> from mlp_functional.textbook.random import key
>>> p = init(key(0), [784, 32, 10], activation=relu)
>>> p.sizes, p.dtype
((784, 32, 10), dtype('float32'))
"""

import functools
import itertools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .activations import Activation
from .random import Key, generator, split


class Layer(NamedTuple):
    """One dense layer: ``w`` of shape ``(fan_in, fan_out)``, ``b`` of shape ``(fan_out,)``."""

    w: np.ndarray
    b: np.ndarray


class Params(NamedTuple):
    """A multilayer perceptron: its layers and the activation of the hidden ones."""

    layers: tuple[Layer, ...]
    activation: Activation

    @property
    def sizes(self) -> tuple[int, ...]:
        """Widths from input to output, e.g. ``(784, 256, 10)``."""
        return (self.layers[0].w.shape[0], *(layer.w.shape[1] for layer in self.layers))

    @property
    def dtype(self) -> np.dtype:
        return self.layers[0].w.dtype


def tree_map(f: Callable[..., np.ndarray], tree: Params, *rest: Params) -> Params:
    """``f`` applied to every array of ``tree`` and the matching arrays of ``rest``.

    >>> import numpy as np
    >>> from mlp_functional.textbook.activations import relu
    >>> p = Params((Layer(np.ones((2, 2)), np.ones(2)),), relu)
    >>> tree_map(lambda w, g: w - g, p, p).layers[0].b.tolist()
    [0.0, 0.0]
    """
    pairs = zip(tree.layers, *(t.layers for t in rest), strict=True)
    layers = (Layer(*(f(*a) for a in zip(*ls, strict=True))) for ls in pairs)
    return Params(tuple(layers), tree.activation)


def tree_reduce(f: Callable[[Any, np.ndarray], Any], tree: Params, initial: Any) -> Any:
    """Fold ``f`` over the arrays of ``tree``, layer by layer, ``w`` before ``b``.

    >>> from mlp_functional.textbook.activations import relu
    >>> from mlp_functional.textbook.random import key
    >>> tree_reduce(lambda total, a: total + a.size, init(key(0), [3, 2], relu), 0)
    8
    """
    return functools.reduce(f, (a for layer in tree.layers for a in layer), initial)


def ravel(params: Params) -> np.ndarray:
    """Every weight and bias in one 1-D array, layer by layer, ``w`` before ``b``.

    >>> from mlp_functional.textbook.activations import relu
    >>> from mlp_functional.textbook.random import key
    >>> ravel(init(key(0), [3, 2], relu)).shape
    (8,)
    """
    return np.concatenate([a.reshape(-1) for layer in params.layers for a in layer])


def unravel(flat: np.ndarray, like: Params) -> Params:
    """The inverse of :func:`ravel`: arrays shaped like ``like``'s, viewing ``flat``.

    >>> from mlp_functional.textbook.activations import relu
    >>> from mlp_functional.textbook.random import key
    >>> p = init(key(0), [3, 2], relu)
    >>> bool((unravel(ravel(p), p).layers[0].w == p.layers[0].w).all())
    True
    """
    ends = list(itertools.accumulate(a.size for layer in like.layers for a in layer))
    pieces = iter(np.split(flat, ends[:-1]))
    return tree_map(lambda a: next(pieces).reshape(a.shape), like)


def init(key: Key, sizes: Sequence[int], activation: Activation, dtype: Any = np.float32) -> Params:
    """Random weights, zero biases: ``w ~ N(0, 2 / fan_in)`` for the ReLU family (He et
    al., 2015), ``w ~ U(+-sqrt(6 / (fan_in + fan_out)))`` otherwise (Glorot & Bengio, 2010),
    so that activations keep their scale from layer to layer.

    >>> from mlp_functional.textbook.activations import relu
    >>> from mlp_functional.textbook.random import key
    >>> p = init(key(0), [4, 3, 2], relu, np.float64)
    >>> [layer.w.shape for layer in p.layers], p.layers[1].b.tolist()
    ([(4, 3), (3, 2)], [0.0, 0.0])
    """

    def layer(fan_in: int, fan_out: int, k: Key) -> Layer:
        rng = generator(k)
        if activation.init == "he":
            w = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
        else:
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            w = rng.uniform(-limit, limit, (fan_in, fan_out))
        return Layer(w.astype(dtype), np.zeros(fan_out, dtype))

    layers = map(layer, sizes[:-1], sizes[1:], split(key, len(sizes) - 1))
    return Params(tuple(layers), activation)
