"""Forward and back propagation in place, through buffers reused from batch to batch.

The same chain rule as :mod:`mlp_functional.backprop`, with every intermediate written
into a :class:`Workspace` and the gradients into a caller's flat buffer; the loss and
its gradient share one pass over the logits (:func:`softmax_cross_entropy`).

>>> import numpy as np
>>> import mlp_functional as mf
>>> p = mf.init(mf.key(0), [4, 5, 3], dtype="float64")
>>> x, y = np.random.default_rng(0).random((8, 4)), np.arange(8) % 3
>>> g = np.empty(mf.n_params(p))
>>> from mlp_functional.fast.state import buffer_views
>>> loss, _ = backprop(p, x, y, buffer_views(g, p), workspace(p, 8))
>>> bool(np.allclose(g, mf.ravel(mf.grad(p, x, y))))
True
"""

from __future__ import annotations

import functools
import inspect
import itertools
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType, ModuleType
from typing import NamedTuple

import numpy as np

from ..textbook import activations as tb_activations
from ..textbook.activations import Activation
from ..textbook.params import Params
from . import backend

__all__ = [
    "IN_PLACE",
    "InPlaceActivation",
    "Workspace",
    "backprop",
    "in_place_form",
    "propagate",
    "softmax_cross_entropy",
    "textbook_activation",
    "workspace",
]

Array = np.ndarray
#: ``ready(layer)`` or ``ready(layer, (first_row, stop_row))``: those gradients are written.
Ready = Callable[..., None]


class Workspace(NamedTuple):
    """Scratch buffers for batches of up to ``batch`` examples.

    ``z[l]`` has shape ``(batch, sizes[l+1])``, and ``delta[l]`` and ``hidden[l]`` (the
    activations ``f(z[l])``, written by the compiled kernels or an activation's
    :data:`IN_PLACE` form) the same shape for the hidden layers; ``predicted`` holds the
    batch's argmax; ``ones`` is a row of ones, which the NumPy kernels sum a batch's
    gradients with (one matrix-vector product: half the time of ``np.sum`` along axis 0).
    """

    z: tuple[Array, ...]
    delta: tuple[Array, ...]
    hidden: tuple[Array, ...]
    predicted: Array
    ones: Array


def workspace(params: Params, batch: int) -> Workspace:
    """Allocate the scratch buffers for batches of up to ``batch`` examples."""
    widths = params.sizes[1:]
    return Workspace(
        tuple(np.empty((batch, w), params.dtype) for w in widths),
        tuple(np.empty((batch, w), params.dtype) for w in widths[:-1]),
        tuple(np.empty((batch, w), params.dtype) for w in widths[:-1]),
        np.empty(batch, np.int64),
        np.ones(batch, params.dtype),
    )


def activation_code(params: Params) -> int:
    """The compiled kernels' code for ``params``' activation (one of the fast ones)."""
    return _code(params.activation.name)


@functools.cache
def _code(name: str) -> int:
    kernels = backend.compiled()
    assert kernels is not None
    return dict(kernels.ACTIVATION_CODES)[name]


def zero_subnormals(a: Array) -> None:
    """Set the subnormal entries of ``a`` (nonzero, below the dtype's smallest normal
    number) to 0, in place: the NumPy form of the compiled kernels' flush.

    The mask leaves the zeros out: half of a ReLU layer's gradient is exactly 0, and a
    masked copy that wrote those too branched on every other entry: the NumPy kernels'
    epoch took 2.69x its products' floor with it, 2.37x without (BENCHMARKS.md).

    >>> a = np.array([1e-40, 0.0, -1e-39, 1.0], np.float32)
    >>> zero_subnormals(a)
    >>> a.tolist()
    [0.0, 0.0, 0.0, 1.0]
    """
    size = np.abs(a)
    np.copyto(a, 0, where=(size < np.finfo(a.dtype).tiny) & (size > 0))


def textbook_activation(activation: Activation) -> Activation:
    """The activation with the textbook's own functions (the public ones wrap them to hand
    out read-only arrays): what the fast engine's tables are keyed by.

    >>> import mlp_functional as mf
    >>> textbook_activation(mf.relu) == tb_activations.relu
    True
    """
    return activation._replace(
        value=inspect.unwrap(activation.value), derivative=inspect.unwrap(activation.derivative)
    )


class InPlaceActivation(NamedTuple):
    """An activation's NumPy form that writes into the workspace instead of allocating.

    ``value(z, out)`` writes ``f(z)`` into ``out``; ``times_derivative(delta, z, a)`` sets
    ``delta *= f'(z)`` (``a = f(z)``) and zeroes its subnormal entries, as
    :func:`zero_subnormals` does after the textbook's derivative.
    """

    value: Callable[[Array, Array], object]
    times_derivative: Callable[[Array, Array, Array], None]


def _relu_times_derivative(delta: Array, z: Array, a: Array) -> None:
    # relu' is 0 or 1, so the product and the flush are one mask: keep delta where the
    # unit was active and delta is normal. One multiply by it replaces the textbook's
    # derivative array, its product and the flush's masked copy.
    keep = np.abs(delta) >= np.finfo(delta.dtype).tiny
    keep &= a > 0
    delta *= keep


#: The activations with an in-place NumPy form, keyed by the textbook's own activation
#: (look one up through :func:`in_place_form`).
#: Any other activation runs its textbook ``value`` and ``derivative`` (allocating).
IN_PLACE: Mapping[Activation, InPlaceActivation] = MappingProxyType(
    {
        tb_activations.relu: InPlaceActivation(
            lambda z, out: np.maximum(z, 0, out=out), _relu_times_derivative
        ),
    }
)


@functools.cache
def in_place_form(activation: Activation) -> InPlaceActivation | None:
    """``activation``'s :data:`IN_PLACE` form, or None: looked up once per activation,
    since the forward and backward passes of every step ask.

    >>> import mlp_functional as mf
    >>> in_place_form(mf.relu) is IN_PLACE[tb_activations.relu], in_place_form(mf.tanh)
    (True, None)
    """
    return IN_PLACE.get(textbook_activation(activation))


class Trace(NamedTuple):
    inputs: tuple[Array, ...]  # a_0 .. a_{L-1}, what each layer read (masked)
    pre: tuple[Array, ...]  # z_1 .. z_{L-1}
    hidden: tuple[Array, ...]  # f(z_1) .. f(z_{L-1}), unmasked
    logits: Array


def propagate(
    params: Params,
    x: Array,
    buffers: Sequence[Array],
    masks: Sequence[Array] | None = None,
    activations: Sequence[Array] | None = None,
) -> Trace:
    """The forward pass with each ``z_l`` written into ``buffers[l]`` (and, with
    ``activations`` given, each ``f(z_l)`` into ``activations[l]`` by the compiled kernels
    or the activation's :data:`IN_PLACE` form; without either, ``f(z_l)`` is allocated)."""
    act = params.activation
    kernels = backend.compiled() if activations is not None else None
    code = activation_code(params) if kernels is not None else 0
    in_place = in_place_form(act) if activations is not None else None
    a = x
    inputs, pre, hidden = [x], list[Array](), list[Array]()
    last = len(params.layers) - 1
    for i, layer in enumerate(params.layers):
        z = np.matmul(a, layer.w, out=buffers[i][: len(a)])
        if i == last:
            z += layer.b
            return Trace(tuple(inputs), tuple(pre), tuple(hidden), z)
        if kernels is not None and activations is not None:
            a = activations[i][: len(z)]
            kernels.bias_activation(z, layer.b, code, a)
        elif in_place is not None and activations is not None:
            z += layer.b
            a = activations[i][: len(z)]
            in_place.value(z, a)
        else:
            z += layer.b
            a = act.value(z)
        pre.append(z)
        hidden.append(a)
        if masks is not None:
            a = a * masks[i]
        inputs.append(a)
    raise AssertionError("params has no layers")


def softmax_cross_entropy(
    logits: Array, labels: Array, smoothing: float = 0.0, weights: Array | None = None
) -> float:
    """The (weighted) mean loss; ``logits`` is overwritten with
    ``dL/dz = w (softmax(z) - q) / sum(w)`` (``w`` all 1 without ``weights``).

    The gradient reuses the exponentials the loss needed, so the logits are read once.
    Gradient entries smaller in magnitude than the dtype's smallest normal number (about
    1.2e-38 in float32) are set to 0. A confident network's probabilities reach that range
    for its wrong classes, and the matrix products of back-propagation slow down on such
    subnormal operands (12 times, for the last layer's weight gradient at the end of
    ``best-noaug``; BENCHMARKS.md); no entry moves by more than that smallest number.

    >>> z = np.array([[0.0, 0.0]])
    >>> round(softmax_cross_entropy(z, np.array([1])), 4), z.tolist()
    (0.6931, [[0.5, -0.5]])
    >>> z = np.array([[0.0, 0.0], [0.0, 5.0]])
    >>> round(softmax_cross_entropy(z, np.array([1, 1]), 0.0, np.array([1.0, 0.0])), 4)
    0.6931
    """
    n, classes = logits.shape
    rows = np.arange(n)
    e = logits
    e -= logits.max(axis=1, keepdims=True)
    target = e[rows, labels]
    if smoothing:
        target = (1 - smoothing) * target + smoothing * e.sum(axis=1) / classes
    np.exp(e, out=e)
    sums = e.sum(axis=1, keepdims=True)
    losses = np.log(sums[:, 0]) - target
    e /= sums
    e[rows, labels] -= 1 - smoothing
    if smoothing:
        e -= e.dtype.type(smoothing / classes)
    if weights is None:
        e *= e.dtype.type(1.0 / n)
        loss = float(losses.sum()) / n
    else:
        total = float(weights.sum()) or 1.0
        e *= (weights * e.dtype.type(1.0 / total))[:, None]
        loss = float((weights * losses).sum()) / total
    zero_subnormals(e)
    return loss


def backprop(
    params: Params,
    x: Array,
    y: Array,
    grads: Params,
    space: Workspace,
    masks: Sequence[Array] | None = None,
    smoothing: float = 0.0,
    ready: Ready | None = None,
    first_blocks: int = 1,
    weights: Array | None = None,
) -> tuple[float, Array]:
    """Loss on a batch of float features; gradients written into the arrays of ``grads``.

    Returns the mean loss (weighted by ``weights``, one per example, when given) and the
    logits' argmax (for the running accuracy).
    ``ready(l)``, when given, is called as soon as layer ``l``'s gradients are written
    and its weights are no longer needed (from the last layer down). With the compiled
    kernels and ``first_blocks > 1``, the first layer's weight gradient is computed in
    that many blocks of rows, each announced as ``ready(0, (start, stop))`` (the bias
    with the last), so that its update can start before the whole product is done.
    """
    kernels = backend.compiled()
    if kernels is not None:
        return _compiled_backprop(
            kernels, params, x, y, grads, space, masks, smoothing, ready, first_blocks, weights
        )
    trace = propagate(params, x, space.z, masks, space.hidden)
    predicted = trace.logits.argmax(axis=1)
    mean_loss = softmax_cross_entropy(trace.logits, y, smoothing, weights)
    in_place = in_place_form(params.activation)
    derivative = params.activation.derivative

    ones = space.ones[: len(x)]

    def bias_gradient(i: int, delta: Array) -> None:
        np.matmul(ones, delta, out=grads.layers[i].b)

    def times_derivative(i: int, delta: Array) -> None:
        if in_place is not None:
            in_place.times_derivative(delta, trace.pre[i], trace.hidden[i])
            return
        delta *= derivative(trace.pre[i], trace.hidden[i])
        zero_subnormals(delta)  # as the logits'

    _backward(params, trace, grads, space, masks, ready, 1, bias_gradient, times_derivative)
    return mean_loss, predicted


def _backward(
    params: Params,
    trace: Trace,
    grads: Params,
    space: Workspace,
    masks: Sequence[Array] | None,
    ready: Ready | None,
    first_blocks: int,
    bias_gradient: Callable[[int, Array], None],
    times_derivative: Callable[[int, Array], None],
) -> None:
    """The chain rule from the logits' gradient (in ``trace.logits``) down: weight
    gradients, ``delta @ w.T``, the masks; ``bias_gradient(l, delta)`` and
    ``times_derivative(l, delta)`` do the elementwise work each way of computing has."""
    n = len(trace.logits)
    delta = trace.logits
    for i in range(len(params.layers) - 1, -1, -1):
        bias_gradient(i, delta)
        if i == 0 and ready is not None and first_blocks > 1:
            rows = len(params.layers[0].w)
            edges = [rows * k // first_blocks for k in range(first_blocks + 1)]
            for start, stop in itertools.pairwise(edges):
                inputs = trace.inputs[0][:, start:stop]
                np.matmul(inputs.T, delta, out=grads.layers[0].w[start:stop])
                ready(0, (start, stop))
            break
        np.matmul(trace.inputs[i].T, delta, out=grads.layers[i].w)
        if i == 0:
            if ready is not None:
                ready(i)
            break
        delta = np.matmul(delta, params.layers[i].w.T, out=space.delta[i - 1][:n])
        if ready is not None:
            ready(i)
        if masks is not None:
            delta *= masks[i - 1]
        times_derivative(i - 1, delta)


def _compiled_backprop(
    kernels: ModuleType,
    params: Params,
    x: Array,
    y: Array,
    grads: Params,
    space: Workspace,
    masks: Sequence[Array] | None,
    smoothing: float,
    ready: Ready | None,
    first_blocks: int,
    weights: Array | None,
) -> tuple[float, Array]:
    """:func:`backprop` with the elementwise work in compiled kernels: bias and
    activation in one pass, softmax-cross-entropy with argmax and the last bias
    gradient in one, the activation's derivative with the bias gradient in one."""
    n = len(x)
    code = activation_code(params)
    trace = propagate(params, x, space.z, masks, space.hidden)
    predicted = space.predicted[:n]
    last = len(params.layers) - 1
    row_weights = np.zeros(0, x.dtype) if weights is None else weights
    loss_sum = kernels.softmax_cross_entropy(
        trace.logits, y, float(smoothing), predicted, grads.layers[last].b, row_weights
    )

    def times_derivative(i: int, delta: Array) -> None:  # the bias gradient comes with it
        kernels.activation_backward(delta, trace.pre[i], trace.hidden[i], code, grads.layers[i].b)

    _backward(
        params,
        trace,
        grads,
        space,
        masks,
        ready,
        first_blocks,
        lambda i, delta: None,
        times_derivative,
    )
    if weights is None:
        return loss_sum / n, predicted
    return loss_sum / (float(weights.sum()) or 1.0), predicted
