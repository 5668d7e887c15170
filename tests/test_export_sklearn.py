"""skl2onnx converts pipelines ending in the estimator; onnxruntime gives its answers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
skl2onnx = pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

from sklearn.datasets import load_breast_cancer, load_wine  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import mlp_functional.export.sklearn  # noqa: E402, F401 - registers the converter
from mlp_functional.estimator import MLPClassifier  # noqa: E402

#: float64 pipelines: the graph and the estimator do the same float64 arithmetic.
TOLERANCE_64 = 1e-9


def fitted(x, y, **settings) -> Pipeline:
    net = MLPClassifier((16, 8), max_iter=60, random_state=0, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return Pipeline([("scale", StandardScaler()), ("net", net)]).fit(x, y)


def run(model, x):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "logistic"])
def test_a_scaled_pipeline_converts_and_matches_predict_proba(activation):
    x, y = load_wine(return_X_y=True)
    pipe = fitted(x, y, activation=activation)
    model = skl2onnx.to_onnx(pipe, x[:1], options={"zipmap": False})
    labels, probabilities = run(model, x)
    assert (labels == pipe.predict(x)).all()
    assert np.abs(probabilities - pipe.predict_proba(x)).max() <= TOLERANCE_64


def test_string_labels_of_two_classes_and_the_default_zipmap():
    x, y = load_breast_cancer(return_X_y=True)
    names = np.array(["benign", "malignant"])[1 - y]
    pipe = fitted(x, names)
    model = skl2onnx.to_onnx(pipe, x[:1], options={"zipmap": False})
    labels, probabilities = run(model, x)
    assert labels.tolist() == pipe.predict(x).tolist()
    assert np.abs(probabilities - pipe.predict_proba(x)).max() <= TOLERANCE_64
    # float32, as most ONNX consumers feed it, with scikit-learn's usual ZipMap output. The
    # float32 graph rounds the float64 weights and the scaled features (1 part in 1e7),
    # so its probabilities differ from the float64 estimator's by at most about 1e-6.
    x32 = x.astype(np.float32)
    labels, zipped = run(skl2onnx.to_onnx(pipe, x32[:1]), x32)
    expected = pipe.predict_proba(x)
    got = np.array([[row[c] for c in pipe.classes_] for row in zipped])
    assert np.abs(got - expected).max() <= 1e-5
    top2 = np.sort(expected, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-5  # a closer tie may round the other way
    assert clear.mean() > 0.9
    assert (np.array(labels)[clear] == pipe.predict(x)[clear]).all()


def test_integer_labels_stay_the_estimators_labels():
    x, y = load_wine(return_X_y=True)
    pipe = fitted(x, y + 10)
    labels, _ = run(skl2onnx.to_onnx(pipe, x[:1], options={"zipmap": False}), x)
    assert labels.dtype == np.int64 and set(labels) <= {10, 11, 12}
    assert (labels == pipe.predict(x)).all()
    indices, _ = run(skl2onnx.to_onnx(pipe, x[:1], options={"zipmap": False, "nocl": True}), x)
    assert (indices == pipe.predict(x) - 10).all()
