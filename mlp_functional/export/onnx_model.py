"""The network as an ONNX model: Gemm and activation nodes, then Softmax, checked by ``onnx``.

The graph reads one input, ``input`` of shape ``(N, features)``, scaled inside the graph
as the run recorded (see :mod:`.scaling`), and gives ``probabilities`` ``(N, classes)``
(``softmax`` of the logits) and ``label`` ``(N,)`` (the index of the largest logit, as
:func:`mlp_functional.predict` gives it). The weights are initializers; the class names,
the activation, the sizes and what the input holds are in the model's ``metadata_props``.

The opset and IR version are the newest that both the installed ``onnx`` and
``onnxruntime`` know: each candidate from ``onnx``'s release table is offered to
onnxruntime (a one-node model), newest first, so the file loads in the runtime it was
checked with. Needs the ``onnx`` extra (``pip install 'mlp-functional[onnx]'``).

>>> import numpy as np
>>> import onnxruntime as ort
>>> import mlp_functional as mf
>>> params = mf.init(mf.key(0), [784, 16, 10])
>>> model = to_onnx(params, classes=[str(d) for d in range(10)], scaling="pixels")
>>> session = ort.InferenceSession(model.SerializeToString())
>>> pixels = np.random.default_rng(0).integers(0, 256, (3, 784)).astype(np.float32)
>>> probabilities, label = session.run(None, {"input": pixels})
>>> bool(np.allclose(probabilities, mf.predict_proba(params, pixels.astype(np.uint8)), atol=1e-6))
True
>>> metadata(model)["classes"]
'["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]'
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

import mlp_functional as mf

from .errors import ExportError, require
from .network import Node, network_ops
from .scaling import PIXELS, Scaling, describe, recorded_scaling, scaling_ops

if TYPE_CHECKING:
    import onnx

__all__ = [
    "INPUT",
    "LABEL",
    "PROBABILITIES",
    "Versions",
    "metadata",
    "onnx_nodes",
    "run_to_onnx",
    "runtime_versions",
    "to_onnx",
]

INPUT = "input"
PROBABILITIES = "probabilities"
LABEL = "label"


class Versions(NamedTuple):
    """An ONNX IR version and the default domain's opset."""

    ir: int
    opset: int


def _onnx() -> Any:
    require("onnx")
    import onnx

    return onnx


@functools.lru_cache(maxsize=1)
def runtime_versions() -> Versions:
    """The newest IR version and opset that the installed onnx and onnxruntime both accept.

    >>> v = runtime_versions()
    >>> v.opset >= 13 and v.ir >= 7
    True
    """
    onnx = _onnx()
    require("onnxruntime")
    import onnxruntime as ort

    helper = onnx.helper
    newest = onnx.defs.onnx_opset_version()
    tried = []
    for _, ir, opset, *_ in sorted(helper.VERSION_TABLE, key=lambda row: row[1:3], reverse=True):
        if opset > newest or opset < 13 or (ir, opset) in tried:
            continue
        tried.append((ir, opset))
        x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
        y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
        graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "probe", [x], [y])
        probe = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir
        )
        try:
            ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
        except Exception:  # onnxruntime says "too new" with its own exception types
            continue
        return Versions(ir, opset)
    raise ExportError(
        f"onnxruntime {ort.__version__} accepts none of onnx {onnx.__version__}'s opsets "
        "from 13 on; upgrade onnxruntime"
    )


def onnx_nodes(nodes: Sequence[Node]) -> list[Any]:
    """The ``onnx.NodeProto`` of each operation (a dtype attribute becomes ONNX's type code)."""
    onnx = _onnx()

    def value(v: Any) -> Any:
        return onnx.helper.np_dtype_to_tensor_dtype(v) if isinstance(v, np.dtype) else v

    return [
        onnx.helper.make_node(
            n.kind,
            list(n.inputs),
            list(n.outputs),
            name=f"{n.outputs[0]}.{n.kind}",
            **{k: value(v) for k, v in n.attributes.items()},
        )
        for n in nodes
    ]


def to_onnx(
    params: mf.Params,
    *,
    classes: Sequence[str] | None = None,
    scaling: Scaling = None,
    name: str = "mlp_functional",
    extra_metadata: Mapping[str, str] | None = None,
    versions: Versions | None = None,
) -> onnx.ModelProto:
    """The model as an ``onnx.ModelProto``, checked by ``onnx.checker.check_model``.

    Args:
      params: the model; its activation must be one of the engine's.
      classes: the class names, in output order (default ``"0"``, ``"1"``, ...).
      scaling: what the graph does to its input first: ``"pixels"`` (``x / 255``), a
        :class:`~mlp_functional.data.FeatureScaling` (standardisation; the input is then
        float64), or ``None`` (the input is the features).
      name: the graph's name.
      extra_metadata: more ``metadata_props`` (e.g. the data's checksum).
      versions: IR version and opset; by default :func:`runtime_versions`.

    Raises:
      ExportError: a user's own activation, or class names that do not match the outputs.
      ImportError: the ``onnx`` extra is missing (the message says how to install it).
    """
    onnx = _onnx()
    helper = onnx.helper
    numpy_helper = onnx.numpy_helper
    versions = versions or runtime_versions()
    n_classes = params.sizes[-1]
    names = [str(c) for c in classes] if classes is not None else [str(i) for i in range(n_classes)]
    if len(names) != n_classes:
        raise ExportError(
            f"{len(names)} class names for a model with {n_classes} outputs; give one name "
            "per output"
        )
    dtype = params.dtype
    scaled = scaling_ops(scaling, INPUT, dtype)
    layers = network_ops(params, scaled.output, dtype)
    ops = [
        *scaled.nodes,
        *layers.nodes,
        Node("Softmax", (layers.logits,), (PROBABILITIES,), {"axis": 1}),
        Node("ArgMax", (layers.logits,), (LABEL,), {"axis": 1, "keepdims": 0}),
    ]
    constants = {**scaled.initializers, **layers.initializers}
    elem = helper.np_dtype_to_tensor_dtype
    graph = helper.make_graph(
        onnx_nodes(ops),
        name,
        [helper.make_tensor_value_info(INPUT, elem(scaled.input_dtype), ["N", params.sizes[0]])],
        [
            helper.make_tensor_value_info(PROBABILITIES, elem(dtype), ["N", n_classes]),
            helper.make_tensor_value_info(LABEL, onnx.TensorProto.INT64, ["N"]),
        ],
        [numpy_helper.from_array(np.ascontiguousarray(a), k) for k, a in constants.items()],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", versions.opset)],
        ir_version=versions.ir,
        producer_name="mlp_functional",
        producer_version=mf.__version__,
        doc_string=(
            f"A {'-'.join(map(str, params.sizes))} multilayer perceptron "
            f"({params.activation.name}). Input: {describe(scaling)}. Outputs: "
            f"{PROBABILITIES} (softmax of the logits) and {LABEL} (index of the largest "
            "logit; the names are in metadata 'classes')."
        ),
    )
    props = {
        "classes": json.dumps(names),
        "sizes": json.dumps(list(params.sizes)),
        "activation": params.activation.name,
        "input": describe(scaling),
        **(extra_metadata or {}),
    }
    helper.set_model_props(model, props)
    onnx.checker.check_model(model, full_check=True)
    return model


def metadata(model: onnx.ModelProto) -> dict[str, str]:
    """The model's ``metadata_props`` as a dict."""
    return {p.key: p.value for p in model.metadata_props}


def run_to_onnx(run: Any, name: str = "mlp_functional") -> onnx.ModelProto:
    """A run (from :func:`mlp_functional.runs.load_run`) as ONNX: its recorded scaling and
    class names inside, and where its data came from in the metadata."""
    from ..inputs import class_names

    config = run.config
    scaling = recorded_scaling(config)
    data = config.get("data") or {}
    extra = {"dataset": str(data.get("name", ""))}
    source = data.get("source") or {}
    if source.get("sha256"):
        extra["dataset_sha256"] = str(source["sha256"])
    elif data.get("sha256"):
        extra["dataset_sha256"] = json.dumps(data["sha256"], sort_keys=True)
    if scaling == PIXELS and data.get("name") is not None:
        extra["image_shape"] = json.dumps(_image_shape(config, run.params.sizes[0]))
    return to_onnx(
        run.params,
        classes=class_names(config, run.params.sizes[-1]),
        scaling=scaling,
        name=name,
        extra_metadata=extra,
    )


def _image_shape(config: Mapping[str, Any], width: int) -> list[int]:
    """The (height, width[, channels]) of the run's images: from its data's record, else
    a square of ``width`` pixels."""
    shape = ((config.get("data") or {}).get("source") or {}).get("shape")
    if isinstance(shape, list) and len(shape) > 2:
        return [int(s) for s in shape[1:]]
    side = math.isqrt(width)
    return [side, side] if side * side == width else [width]
