"""The input scaling a run recorded, as graph operations, so an exported model reads raw inputs.

A run on images (uint8 pixels) feeds the network ``x / 255``; a run on a table of its own
standardises each column with the training rows' mean and standard deviation, clipped to
+-:data:`~mlp_functional.data.scaling.LIMIT` (:mod:`mlp_functional.data.scaling`); other
float data are read as they are. The exported graph repeats the same arithmetic, in the
same precision, so a caller hands it what ``predict`` reads: pixel values 0-255, or the
table's feature columns as numbers.

>>> from mlp_functional.data import FeatureScaling
>>> recorded_scaling({"data": {"name": "mnist", "dtype": "uint8"}})
'pixels'
>>> recorded_scaling({"data": {"scaling": {"mean": [1.0], "std": [2.0]}}})
FeatureScaling(mean=(1.0,), std=(2.0,))
>>> ops = scaling_ops(FeatureScaling((1.0,), (2.0,)), "input", "float32")
>>> [n.kind for n in ops.nodes], ops.output, ops.input_dtype
(['Sub', 'Div', 'Clip', 'Cast'], 'features', dtype('float64'))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from ..data import FeatureScaling, scaling_from_record
from ..data.scaling import LIMIT
from .errors import ExportError
from .network import Node

__all__ = ["PIXELS", "Scaling", "ScalingOps", "describe", "recorded_scaling", "scaling_ops"]

#: uint8 images: the network reads ``pixels / 255``.
PIXELS = "pixels"
#: What an exported graph does to its input before the first layer.
Scaling = Literal["pixels"] | FeatureScaling | None
#: 255, the divisor of :func:`mlp_functional.to_features` for uint8 pixels, as it computes it.
_PIXEL_MAX = 255


class ScalingOps(NamedTuple):
    """The scaling's operations, their constants, the name of the scaled features, and the
    float type the graph's input must have."""

    nodes: tuple[Node, ...]
    initializers: Mapping[str, np.ndarray]
    output: str
    input_dtype: np.dtype[Any]


def recorded_scaling(config: Mapping[str, Any], where: str = "config.json") -> Scaling:
    """The scaling a run's ``config.json`` records: a table's standardisation, ``"pixels"``
    for uint8 images (runs that record no dtype were on MNIST), else ``None``.

    Raises:
      ExportError: the scaling record is damaged.
    """
    data = config.get("data") or {}
    if data.get("scaling") is not None:
        try:
            return scaling_from_record(data["scaling"])
        except ValueError as e:
            raise ExportError(f"{where}: {e}") from None
    return "pixels" if str(data.get("dtype", "uint8")) == "uint8" else None


def describe(scaling: Scaling) -> str:
    """What the exported graph's input holds, for people (and the model's metadata).

    >>> describe("pixels").split(", ")[0]
    'pixel values 0-255 as floats'
    """
    if scaling == PIXELS:
        return (
            "pixel values 0-255 as floats, one image per row (height x width x channels), "
            "divided by 255 in the graph"
        )
    if isinstance(scaling, FeatureScaling):
        return (
            "the table's feature columns as float64 numbers, standardised in the graph "
            f"with the training rows' mean and standard deviation (clipped to +-{LIMIT:g})"
        )
    return "the features as the model was trained on them (no scaling in the graph)"


def scaling_ops(
    scaling: Scaling,
    x: str,
    dtype: npt.DTypeLike,
    name: Callable[[str], str] = lambda n: n,
) -> ScalingOps:
    """Operations from the raw input named ``x`` to features of ``dtype`` (the weights').

    Pixels are divided by 255 in ``dtype``, as :func:`mlp_functional.to_features` does; a
    table is standardised in float64 and then cast, as
    :func:`~mlp_functional.data.scale_features` does, so the graph reads float64 rows.
    """
    dt = np.dtype(dtype)
    if scaling is None:
        return ScalingOps((), {}, x, dt)
    if scaling == PIXELS:
        divisor, out = name("pixel_max"), name("features")
        return ScalingOps(
            (Node("Div", (x, divisor), (out,)),),
            {divisor: np.asarray(_PIXEL_MAX, dt)},
            out,
            dt,
        )
    if not isinstance(scaling, FeatureScaling):
        raise ExportError(
            f"unknown input scaling {scaling!r}; pass 'pixels', a FeatureScaling or None"
        )
    mean, std, low, high = (name(n) for n in ("mean", "std", "clip_low", "clip_high"))
    centred, scaled, clipped, out = (name(n) for n in ("centred", "scaled", "clipped", "features"))
    f64 = np.dtype(np.float64)
    nodes = (
        Node("Sub", (x, mean), (centred,)),
        Node("Div", (centred, std), (scaled,)),
        Node("Clip", (scaled, low, high), (clipped,)),
        Node("Cast", (clipped,), (out,), {"to": dt}),
    )
    constants = {
        mean: np.asarray(scaling.mean, f64),
        std: np.asarray(scaling.std, f64),
        low: np.asarray(-LIMIT, f64),
        high: np.asarray(LIMIT, f64),
    }
    return ScalingOps(nodes, constants, out, f64)
