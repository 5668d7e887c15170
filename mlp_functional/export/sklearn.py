"""A skl2onnx converter for :class:`mlp_functional.estimator.MLPClassifier`.

After :func:`register` (called on import of this module), ``skl2onnx.to_onnx`` converts
the classifier alone or at the end of a pipeline, as it converts scikit-learn's own
classifiers: two outputs, ``label`` (the classes, as ``predict`` gives them) and
``probabilities`` (as ``predict_proba``), or a ZipMap of them unless
``options={"zipmap": False}`` (``"nocl": True`` gives class indices as labels).

The converter reads only the fitted estimator's public attributes (``params_``,
``classes_``) and writes the same Gemm/activation/Softmax nodes as
:func:`mlp_functional.export.to_onnx`; it computes in the input's float type, as
skl2onnx's converters do (float32 unless the input is float64). ONNX Runtime's ZipMap
takes float32 only: convert float64 pipelines with ``options={"zipmap": False}``. Needs
the ``skl2onnx`` extra (``pip install 'mlp-functional[skl2onnx]'``).

>>> import warnings
>>> import numpy as np
>>> import onnxruntime as ort
>>> import skl2onnx
>>> from sklearn.datasets import load_iris
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from mlp_functional.estimator import MLPClassifier
>>> from mlp_functional.export import sklearn as _  # registers the converter
>>> x, y = load_iris(return_X_y=True)
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     pipe = make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=50, random_state=0))
...     pipe = pipe.fit(x, y)
>>> model = skl2onnx.to_onnx(pipe, x[:1], options={"zipmap": False})
>>> labels, probabilities = ort.InferenceSession(model.SerializeToString()).run(None, {"X": x})
>>> bool((labels == pipe.predict(x)).all())
True
>>> bool(np.abs(probabilities - pipe.predict_proba(x)).max() < 1e-9)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import SKL2ONNX_HINT, ExportError, require
from .network import Node, network_ops

__all__ = ["ALIAS", "convert", "register"]

#: The name skl2onnx knows the classifier by.
ALIAS = "MlpFunctionalMLPClassifier"

require("skl2onnx", SKL2ONNX_HINT)
require("sklearn", "pip install 'mlp-functional[sklearn]'")

from skl2onnx import update_registered_converter  # noqa: E402
from skl2onnx.common.shape_calculator import (  # noqa: E402
    calculate_linear_classifier_output_shapes,
)

from ..estimator import MLPClassifier  # noqa: E402


def _class_labels(classes: np.ndarray) -> np.ndarray:
    """``classes_`` as ONNX can hold them: int64 for integers (and booleans and whole
    floats, which skl2onnx declares as int64 labels), UTF-8 bytes for strings."""
    if classes.dtype.kind in "iub":
        return classes.astype(np.int64)
    if classes.dtype.kind == "f":
        if not np.array_equal(classes, np.round(classes)):
            raise ExportError(
                f"class labels {classes.tolist()} are fractional floats, which ONNX "
                "classifiers cannot give; use integer or string labels"
            )
        return classes.astype(np.int64)
    return np.array([str(c).encode("utf-8") for c in classes], dtype=object)


def convert(scope: Any, operator: Any, container: Any) -> None:
    """Write the classifier's nodes into skl2onnx's container (skl2onnx calls this)."""
    from skl2onnx.common.data_types import guess_proto_type
    from skl2onnx.proto import onnx_proto

    model = operator.raw_operator
    params = model.params_
    x = operator.inputs[0].full_name
    label_out, proba_out = operator.outputs[0].full_name, operator.outputs[1].full_name
    double = guess_proto_type(operator.inputs[0].type) == onnx_proto.TensorProto.DOUBLE
    dtype = np.dtype(np.float64 if double else np.float32)
    name = scope.get_unique_variable_name
    features = name("features")
    container.add_node(
        "Cast",
        [x],
        [features],
        to=onnx_proto.TensorProto.DOUBLE if double else onnx_proto.TensorProto.FLOAT,
        name=scope.get_unique_operator_name("Cast"),
    )
    layers = network_ops(params, features, dtype, name)
    if scope.get_options(model, {"nocl": False})["nocl"]:  # labels as class indices
        classes = np.arange(len(model.classes_), dtype=np.int64)
    else:
        classes = _class_labels(np.asarray(model.classes_))
    index, picked, classes_name = name("index"), name("picked"), name("classes")
    nodes = [
        *layers.nodes,
        Node("Softmax", (layers.logits,), (proba_out,), {"axis": 1}),
        Node("ArgMax", (proba_out,), (index,), {"axis": 1, "keepdims": 0}),
    ]
    for node in nodes:
        container.add_node(
            node.kind,
            list(node.inputs),
            list(node.outputs),
            name=scope.get_unique_operator_name(node.kind),
            **node.attributes,
        )
    for key, array in layers.initializers.items():
        proto = onnx_proto.TensorProto.DOUBLE if double else onnx_proto.TensorProto.FLOAT
        container.add_initializer(key, proto, list(array.shape), array.ravel())
    kind = (
        onnx_proto.TensorProto.STRING if classes.dtype == object else onnx_proto.TensorProto.INT64
    )
    container.add_initializer(classes_name, kind, [len(classes)], classes.tolist())
    container.add_node(
        "ArrayFeatureExtractor",
        [classes_name, index],
        [picked],
        op_domain="ai.onnx.ml",
        name=scope.get_unique_operator_name("ArrayFeatureExtractor"),
    )
    shape = name("shape")
    container.add_initializer(shape, onnx_proto.TensorProto.INT64, [1], [-1])
    container.add_node(
        "Reshape", [picked, shape], [label_out], name=scope.get_unique_operator_name("Reshape")
    )


def register() -> None:
    """Tell skl2onnx how to convert :class:`~mlp_functional.estimator.MLPClassifier`
    (its converter, and scikit-learn's classifier shape rule); safe to call again."""
    update_registered_converter(
        MLPClassifier,
        ALIAS,
        calculate_linear_classifier_output_shapes,
        convert,
        overwrite=True,
        options={"zipmap": [True, False, "columns"], "nocl": [False, True]},
    )


register()
