"""The network as a list of ONNX operations, in NumPy only: what every exporter builds from.

Each dense layer ``z = a @ w + b`` is one ``Gemm`` (``w`` is stored ``(fan_in, fan_out)``,
as ONNX's ``B`` without transposition); each hidden layer's activation is one ONNX
operator (leaky ReLU in float64 is ``Max(z, slope * z)``: onnxruntime has no float64
LeakyRelu). :func:`to_onnx <mlp_functional.export.to_onnx>` turns the list into a graph with
the ``onnx`` package's helpers; the skl2onnx converter adds the same operations to
skl2onnx's container, so both export the same network.

>>> import mlp_functional as mf
>>> ops = network_ops(mf.init(mf.key(0), [4, 3, 2], activation="tanh"), "x", "float32")
>>> [op.kind for op in ops.nodes], sorted(ops.initializers), ops.logits
(['Gemm', 'Tanh', 'Gemm'], ['layer0.b', 'layer0.w', 'layer1.b', 'layer1.w'], 'logits')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

import mlp_functional as mf

from .errors import ExportError

__all__ = ["Node", "Ops", "activation_op", "leaky_slope", "network_ops"]


class Node(NamedTuple):
    """One ONNX operation: its type, input and output names and attributes."""

    kind: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: Mapping[str, Any] = MappingProxyType({})


class Ops(NamedTuple):
    """Operations in order, the constant tensors they read, and the name of the logits."""

    nodes: tuple[Node, ...]
    initializers: Mapping[str, np.ndarray]
    logits: str


def leaky_slope() -> float:
    """The slope of the engine's leaky ReLU for ``z < 0``, read from the function itself.

    >>> leaky_slope()
    0.01
    """
    return -float(mf.leaky_relu.value(np.array([-1.0]))[0])


def activation_op(activation: mf.Activation) -> tuple[str, dict[str, Any]]:
    """The ONNX operator (and its attributes) computing one of the engine's activations.

    Raises:
      ExportError: a user's own :class:`~mlp_functional.Activation`, which has no ONNX form.

    >>> activation_op(mf.leaky_relu)
    ('LeakyRelu', {'alpha': 0.01})
    >>> activation_op(mf.Activation("cube", lambda z: z**3, lambda z, a: 3 * z**2))
    Traceback (most recent call last):
    ...
    mlp_functional.export.errors.ExportError: the activation 'cube' is not one of the ...
    """
    ops: dict[str, tuple[str, dict[str, Any]]] = {
        "relu": ("Relu", {}),
        "leaky_relu": ("LeakyRelu", {"alpha": leaky_slope()}),
        "tanh": ("Tanh", {}),
        "sigmoid": ("Sigmoid", {}),
    }
    if mf.ACTIVATIONS.get(activation.name) != activation or activation.name not in ops:
        known = ", ".join(sorted(ops))
        raise ExportError(
            f"the activation {activation.name!r} is not one of the engine's ({known}), so it "
            "has no ONNX or browser form; train the model with one of them"
        )
    return ops[activation.name]


def network_ops(
    params: mf.Params,
    x: str,
    dtype: npt.DTypeLike,
    name: Callable[[str], str] = lambda n: n,
) -> Ops:
    """The layers of ``params`` reading the tensor named ``x``: Gemm, activation, ..., Gemm.

    Args:
      params: the model.
      x: the name of the input features (already scaled as the model expects).
      dtype: the float type of the weights in the graph (the computation's type).
      name: makes each intended name unique in the caller's graph (skl2onnx's scope).

    Raises:
      ExportError: the activation has no ONNX form (see :func:`activation_op`).
    """
    op, attributes = activation_op(params.activation)
    dt = np.dtype(dtype)
    nodes: list[Node] = []
    initializers: dict[str, np.ndarray] = {}
    a = x
    last = len(params.layers) - 1
    for i, layer in enumerate(params.layers):
        w, b = name(f"layer{i}.w"), name(f"layer{i}.b")
        initializers[w] = np.asarray(layer.w, dt)
        initializers[b] = np.asarray(layer.b, dt)
        z = name("logits" if i == last else f"layer{i}.z")
        nodes.append(Node("Gemm", (a, w, b), (z,)))
        if i < last:
            a = name(f"layer{i}.a")
            if op == "LeakyRelu" and dt == np.float64:
                # onnxruntime has no float64 LeakyRelu; for a slope below 1 it is max(z, slope z)
                slope, scaled = name("leaky_slope"), name(f"layer{i}.slope_z")
                initializers[slope] = np.asarray(attributes["alpha"], dt)
                nodes += [Node("Mul", (z, slope), (scaled,)), Node("Max", (z, scaled), (a,))]
            else:
                nodes.append(Node(op, (z,), (a,), attributes))
        else:
            a = z
    return Ops(tuple(nodes), initializers, a)
