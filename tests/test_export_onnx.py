"""ONNX export checked against onnxruntime: the probabilities of predict_proba.

The runs are real: one trained on MNIST by the command (the session's shared run), one on
a CSV table whose standardisation the graph must repeat. Every activation of the engine is
exported and run; a user's own activation is refused in one line.

A float32 model is checked against the exact probabilities of its weights (predict_proba
on the same weights in float64, an independent computation): onnxruntime's float32 answers
lie within 1e-6 of them. Against predict_proba's own float32 answers they differ by up to
about twice that on 10,000 digits, because both round: their matrix products sum in
different orders, so the logits differ by a few 1e-6. In float64 the graph and the engine
agree to 1e-12.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _export_util import table_run

import mlp_functional as mf
from mlp_functional.data import load, load_recorded, scale_features, scaling_from_record
from mlp_functional.runs import load_run

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from mlp_functional.export import (  # noqa: E402
    ExportError,
    metadata,
    run_to_onnx,
    runtime_versions,
    to_onnx,
)

#: Probabilities within 1e-6 of the exact ones (float32 models).
TOLERANCE = 1e-6
#: The graph and the engine in float64: the same arithmetic up to summation order.
TOLERANCE_64 = 1e-12


def session(model):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def exact(params: mf.Params) -> mf.Params:
    """The same weights in float64: predict_proba on them is the exact answer to float32
    rounding's scale."""
    return mf.tree_map(lambda a: np.asarray(a, np.float64), params)


def with_biases(params: mf.Params, seed: int) -> mf.Params:
    """``params`` with random biases (a fresh model's are zero, which would hide a swap)."""
    rng = np.random.default_rng(seed)
    return mf.Params(
        tuple(
            mf.Layer(layer.w, (rng.normal(0, 0.5, layer.b.shape)).astype(layer.b.dtype))
            for layer in params.layers
        ),
        params.activation,
    )


def test_an_mnist_run_gives_predict_proba_on_the_test_images(run_dir, mnist_dir):
    run = load_run(run_dir)
    model = run_to_onnx(run)
    onnx.checker.check_model(model, full_check=True)
    test = load("mnist", data_dir=mnist_dir.parent).test
    probabilities, labels = session(model).run(
        None, {"input": test.images.reshape(len(test.images), -1).astype(np.float32)}
    )
    expected = mf.predict_proba(exact(run.params), test.images)
    assert probabilities.shape == expected.shape == (10_000, 10)
    assert np.abs(probabilities - expected).max() <= TOLERANCE
    assert (labels == mf.predict(run.params, test.images)).all()
    meta = metadata(model)
    assert json.loads(meta["classes"]) == [str(d) for d in range(10)]
    assert json.loads(meta["dataset_sha256"]) == run.config["data"]["sha256"]


def test_a_csv_run_standardises_raw_rows_inside_the_graph(tmp_path_factory, env):
    run = load_run(table_run(tmp_path_factory.getbasetemp(), env))
    config = run.config
    raw = load_recorded(config["data"]["source"])  # the table as read, before scaling
    rows = np.concatenate([raw.train.images, raw.test.images]).astype(np.float64)
    scaled = scale_features(rows, scaling_from_record(config["data"]["scaling"]))
    model = run_to_onnx(run)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    probabilities, labels = session(model).run(None, {"input": rows})
    expected = mf.predict_proba(exact(run.params), scaled)
    assert np.abs(probabilities - expected).max() <= TOLERANCE
    assert (labels == mf.predict(run.params, scaled)).all()
    assert json.loads(metadata(model)["classes"]) == ["ant", "bee", "cicada"]
    assert metadata(model)["dataset_sha256"] == config["data"]["source"]["sha256"]
    # Far outside the training range the graph clips as scale_features does.
    extreme = np.array([[1e6, -1e6, 5.0]])
    got, _ = session(model).run(None, {"input": extreme})
    want = mf.predict_proba(
        run.params, scale_features(extreme, scaling_from_record(config["data"]["scaling"]))
    )
    assert np.abs(got - want).max() <= TOLERANCE


@pytest.mark.parametrize("name", sorted(mf.ACTIVATIONS))
def test_every_activation_of_the_engine_maps_to_onnx(name):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (64, 784)).astype(np.uint8)
    for dtype, tolerance in (("float32", TOLERANCE), ("float64", TOLERANCE_64)):
        params = mf.init(mf.key(2), [784, 24, 16, 10], activation=name, dtype=dtype)
        params = with_biases(params, 3)
        model = to_onnx(params, scaling="pixels")
        kinds = [node.op_type for node in model.graph.node]
        assert kinds.count("Gemm") == 3 and kinds[-2:] == ["Softmax", "ArgMax"]
        probabilities, labels = session(model).run(None, {"input": pixels.astype(dtype)})
        assert probabilities.dtype == np.dtype(dtype)
        expected = mf.predict_proba(exact(params), pixels)
        assert np.abs(probabilities - expected).max() <= tolerance
        assert (labels == mf.predict(params, pixels)).all()


def test_a_model_without_hidden_layers_and_float_inputs_exports():
    params = with_biases(mf.init(mf.key(0), [5, 3]), 0)
    x = np.random.default_rng(0).random((7, 5)).astype(np.float32)
    probabilities, _ = session(to_onnx(params)).run(None, {"input": x})
    assert np.abs(probabilities - mf.predict_proba(exact(params), x)).max() <= TOLERANCE


def test_a_users_own_activation_is_refused_in_one_line():
    softplus = mf.Activation("softplus", lambda z: np.logaddexp(0, z), lambda z, a: 1 - np.exp(-a))
    params = mf.init(mf.key(0), [4, 3, 2], activation=softplus)
    with pytest.raises(ExportError) as refused:
        to_onnx(params)
    message = str(refused.value)
    assert "\n" not in message and "'softplus'" in message and "train the model with" in message
    # A look-alike under a built-in name is refused too: its functions are not the engine's.
    fake = mf.Activation("relu", softplus.value, softplus.derivative, init="he")
    with pytest.raises(ExportError, match="'relu' is not one of the engine's"):
        to_onnx(mf.init(mf.key(0), [4, 3, 2], activation=fake))


def test_the_versions_are_ones_onnxruntime_loads_and_the_class_names_must_fit():
    versions = runtime_versions()
    assert 13 <= versions.opset <= onnx.defs.onnx_opset_version()
    model = to_onnx(mf.init(mf.key(0), [4, 3]), classes=["a", "b", "c"])
    assert model.ir_version == versions.ir
    assert [(o.domain, o.version) for o in model.opset_import] == [("", versions.opset)]
    assert session(model).get_inputs()[0].shape == ["N", 4]
    with pytest.raises(ExportError, match="2 class names for a model with 3 outputs"):
        to_onnx(mf.init(mf.key(0), [4, 3]), classes=["a", "b"])


def test_the_weights_are_initializers_equal_to_the_model():
    params = with_biases(mf.init(mf.key(0), [6, 5, 4]), 0)
    stored = {t.name: onnx.numpy_helper.to_array(t) for t in to_onnx(params).graph.initializer}
    for i, layer in enumerate(params.layers):
        assert np.array_equal(stored[f"layer{i}.w"], layer.w)
        assert np.array_equal(stored[f"layer{i}.b"], layer.b)
