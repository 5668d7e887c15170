"""Take a trained model anywhere: an ONNX file, one self-contained web page, a model card.

- :func:`to_onnx` and :func:`run_to_onnx`: the network as an ONNX model (Gemm, activation,
  Softmax), the run's input scaling inside, checked by ``onnx`` (the ``onnx`` extra);
- :mod:`.sklearn`: a converter that lets skl2onnx convert pipelines ending in
  :class:`mlp_functional.estimator.MLPClassifier` (the ``skl2onnx`` extra);
- :func:`page_html`: the drawing page of ``serve`` as one HTML file that reads digits with
  the model inside it, in plain JavaScript, with no server and no network;
- :func:`model_card`: a README.md in the Hugging Face model-card form.

Importing this package imports none of the optional libraries.

>>> import mlp_functional as mf
>>> from mlp_functional.export import to_onnx
>>> to_onnx(mf.init(mf.key(0), [4, 3, 2])).graph.node[0].op_type
'Gemm'
"""

from .card import model_card
from .errors import ExportError
from .onnx_model import metadata, run_to_onnx, runtime_versions, to_onnx
from .page import page_html

__all__ = [
    "ExportError",
    "metadata",
    "model_card",
    "page_html",
    "run_to_onnx",
    "runtime_versions",
    "to_onnx",
]
