"""Every array a public function returns is read-only.

``CALLS`` holds one entry per public function of the package's public namespaces
(``mlp_functional``, ``.data``, ``.metrics``, ``.imaging``, ``.inputs``, ``.augment``),
keyed by where it is defined. Each entry calls the function on small valid inputs and
returns what came out; the test walks that output (tuples, NamedTuples, Params, dicts,
lists) and asserts that every NumPy array in it is read-only. Entries for factories
(optimizers, schedules, activations) also call what the factory returns. A function that
returns no arrays is listed all the same, its comment saying what it returns, so that
the completeness test makes every new public function take a place here.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import io
import threading
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest

import mlp_functional as mf
from mlp_functional import data, imaging, inputs, metrics

NAMESPACES = (
    "mlp_functional",
    "mlp_functional.data",
    "mlp_functional.metrics",
    "mlp_functional.imaging",
    "mlp_functional.inputs",
    "mlp_functional.augment",
)
aug = importlib.import_module("mlp_functional.augment")  # ``mf.augment`` is the function


class World(NamedTuple):
    """Small valid inputs, all writeable, so that a function freezing its caller's array
    in place is caught too (see ``test_callers_arrays_stay_writeable``)."""

    tmp: Path
    url: str  # a local 127.0.0.1 server's folder that holds the tiny dataset's files
    spec: data.DatasetSpec  # the tiny dataset, mirrored by ``url``
    params: mf.Params  # 784 -> 8 -> 3
    x: np.ndarray  # (6, 28, 28) uint8 digits with ink
    y: np.ndarray  # (6,) int64 labels in 0..2
    rows: np.ndarray  # (6, 784) float32 features in [0, 1]
    png: bytes  # a 28x28 grey PNG with a stroke


def _walk(value: Any, path: str = "out") -> Iterator[tuple[str, np.ndarray]]:
    """Every NumPy array inside ``value``, with where it was found."""
    if isinstance(value, np.ndarray):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk(v, f"{path}[{k!r}]")
    elif isinstance(value, (tuple, list)):
        names = getattr(value, "_fields", None)
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}.{names[i]}" if names else f"{path}[{i}]")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _walk(getattr(value, field.name), f"{path}.{field.name}")


def _optimizer(opt: mf.Optimizer, w: World) -> tuple:
    """An optimizer's state after init and one update, its updates, and the new params."""
    state = opt.init(w.params)
    grads = mf.grad(w.params, w.rows, w.y)
    updates, state = opt.update(grads, state, w.params)
    updates, state = opt.update(grads, state, w.params)
    return state, updates, mf.apply_updates(w.params, updates)


def _schedule(schedule: Callable[[int], float]) -> list[float]:
    return [schedule(step) for step in (0, 1, 5)]  # floats, no arrays


def _activation(act: mf.Activation, w: World) -> tuple:
    z = (w.rows[:, :5] - 0.5).astype(np.float32)
    a = act.value(z)
    return a, act.derivative(z, a)


def _state(w: World) -> mf.TrainState:
    return mf.init_state(mf.key(2), w.params, mf.adam(1e-3))


def _batches(w: World, dropout: float = 0.0) -> list:
    from mlp_functional.engine.epochs import Regimen, epoch_keys

    plan = Regimen(4, dropout=dropout)
    return list(mf.minibatches(w.x, w.y, epoch_keys(mf.key(3)), plan, np.float32))


def _csv(w: World) -> Path:
    path = w.tmp / "table.csv"
    lines = "".join(f"{'ab'[i % 2]},{i},{2 * i}\n" for i in range(10))
    path.write_text("target,u,v\n" + lines)
    return path


def _feature_csv(w: World) -> Path:
    """The table's feature columns alone, as ``predict`` reads them."""
    path = w.tmp / "features.csv"
    path.write_text("u,v\n" + "".join(f"{i},{2 * i}\n" for i in range(4)))
    return path


def _table(w: World) -> data.Dataset:
    return data.load_data(_csv(w))


def _npy(w: World) -> Path:
    path = w.tmp / "digits.npy"
    np.save(path, w.x[:2])
    return path


def _png_file(w: World) -> Path:
    path = w.tmp / "digit.png"
    path.write_bytes(w.png)
    return path


def _idx(w: World) -> Path:
    path = w.tmp / "x.idx"
    data.write_idx(path, w.x)
    return path


M = "mlp_functional."
CALLS: dict[str, Callable[[World], Any]] = {
    # --- mlp_functional: the engine
    M + "engine.api.get_activation": lambda w: mf.get_activation("relu"),  # Activation
    M + "relu.value|derivative": lambda w: _activation(mf.relu, w),
    M + "sigmoid.value|derivative": lambda w: _activation(mf.sigmoid, w),
    M + "tanh.value|derivative": lambda w: _activation(mf.tanh, w),
    M + "leaky_relu.value|derivative": lambda w: _activation(mf.leaky_relu, w),
    M + "augment.affine": lambda w: aug.affine(mf.key(0), w.x),
    M + "augment.augment": lambda w: aug.augment(mf.key(0), w.x),
    M + "augment.elastic": lambda w: aug.elastic(mf.key(0), w.x),
    M + "augment.gaussian_matrix": lambda w: aug.gaussian_matrix(7, 1.5),
    M + "augment.random_affine": lambda w: aug.random_affine(mf.key(0), 3),
    M + "augment.random_displacement": lambda w: aug.random_displacement(mf.key(0), 2, (28, 28)),
    M + "augment.smooth": lambda w: aug.smooth(w.rows[:2].reshape(2, 28, 28), 2.0),
    M + "augment.warp": lambda w: (
        aug.warp(w.x),
        aug.warp(w.x, aug.random_affine(mf.key(0), 6)),
        aug.warp(w.x, None, aug.random_displacement(mf.key(1), 6, (28, 28))),
    ),
    M + "textbook.backward.backward": lambda w: mf.backward(
        w.params,
        mf.forward_trace(w.params, w.rows),
        mf.cross_entropy_grad(mf.forward(w.params, w.rows), w.y),
        None,
    ),
    M + "textbook.backward.check_grad": lambda w: mf.check_grad(
        w.params, w.rows[:2], w.y[:2], max_checks=3
    ),
    M + "textbook.backward.grad": lambda w: mf.grad(w.params, w.rows, w.y),
    M + "textbook.backward.loss_and_grad": lambda w: mf.loss_and_grad(w.params, w.rows, w.y),
    M + "engine.table.accuracy": lambda w: mf.accuracy(w.params, w.x, w.y),  # a float
    M + "engine.table.evaluate": lambda w: mf.evaluate(w.params, w.x, w.y),  # two floats
    M + "engine.table.fit": lambda w: list(
        mf.fit(_state(w), w.x, w.y, batch_size=4, epochs=2, validation=(w.x, w.y))
    ),
    M + "engine.table.hardest": lambda w: mf.hardest(w.params, w.x, w.y, k=3),
    M + "engine.table.predict": lambda w: (
        mf.predict(w.params, w.x),
        mf.predict(w.params, w.x, engine="textbook"),
    ),
    M + "engine.table.committee_proba": lambda w: (
        mf.committee_proba([w.params, mf.init(mf.key(2), [784, 8, 3])], w.x),
        mf.committee_proba([w.params], w.rows, engine="textbook"),
    ),
    M + "engine.table.predict_proba": lambda w: (
        mf.predict_proba(w.params, w.x),
        mf.predict_proba(w.params, w.rows, engine="textbook"),
    ),
    M + "engine.table.train_epoch": lambda w: (
        mf.train_epoch(_state(w), w.x, w.y, batch_size=4),
        mf.train_epoch(_state(w), w.x, w.y, batch_size=4, dropout=0.5, engine="textbook"),
    ),
    M + "features.to_features": lambda w: (
        mf.to_features(w.x),
        mf.to_features(w.rows),
        mf.to_features(w.rows, np.float64),
    ),
    M + "textbook.forward.dense": lambda w: mf.dense(w.params.layers[0], w.rows),
    M + "textbook.forward.forward": lambda w: mf.forward(w.params, w.x),
    M + "engine.api.forward_trace": lambda w: mf.forward_trace(w.params, w.rows),
    M + "textbook.loss.cross_entropy": lambda w: mf.cross_entropy(
        mf.forward(w.params, w.x), w.y
    ),  # float
    M + "textbook.loss.cross_entropy_grad": lambda w: mf.cross_entropy_grad(
        mf.forward(w.params, w.x), w.y, 0.1
    ),
    M + "textbook.loss.log_softmax": lambda w: mf.log_softmax(w.rows[:, :4]),
    M + "textbook.loss.logsumexp": lambda w: mf.logsumexp(w.rows[:, :4]),
    M + "textbook.loss.loss": lambda w: mf.loss(w.params, w.x, w.y),  # a float
    M + "textbook.loss.softmax": lambda w: mf.softmax(w.rows[:, :4]),
    M + "textbook.optimizers.adam": lambda w: _optimizer(mf.adam(1e-3), w),
    M + "textbook.optimizers.adamw": lambda w: _optimizer(mf.adamw(1e-3), w),
    M + "textbook.optimizers.add_decayed_weights": lambda w: _optimizer(
        mf.add_decayed_weights(0.1), w
    ),
    M + "textbook.optimizers.add_l2": lambda w: _optimizer(mf.add_l2(0.1), w),
    M + "textbook.optimizers.apply_updates": lambda w: mf.apply_updates(w.params, w.params),
    M + "textbook.optimizers.chain": lambda w: _optimizer(
        mf.chain(mf.clip_by_global_norm(1.0), mf.add_l2(1e-4), mf.adam(1e-3)), w
    ),
    M + "textbook.optimizers.clip_by_global_norm": lambda w: _optimizer(
        mf.clip_by_global_norm(1e-3), w
    ),
    M + "textbook.optimizers.count_updates": lambda w: _optimizer(mf.count_updates(), w),
    M + "textbook.optimizers.identity": lambda w: _optimizer(mf.identity(), w),
    M + "textbook.optimizers.learning_rate_at": lambda w: mf.learning_rate_at(
        mf.constant(0.1), 3
    ),  # float
    M + "textbook.optimizers.max_norm": lambda w: _optimizer(
        mf.chain(mf.sgd(0.1), mf.max_norm(0.5)), w
    ),
    M + "textbook.optimizers.momentum": lambda w: (
        _optimizer(mf.momentum(0.1), w),
        _optimizer(mf.momentum(0.1, nesterov=True), w),
    ),
    M + "textbook.optimizers.scale_by_adam": lambda w: _optimizer(mf.scale_by_adam(), w),
    M + "textbook.optimizers.scale_by_learning_rate": lambda w: _optimizer(
        mf.scale_by_learning_rate(mf.cosine(0.1, total_steps=4)), w
    ),
    M + "textbook.optimizers.sgd": lambda w: _optimizer(mf.sgd(0.1), w),
    M + "textbook.optimizers.trace_momentum": lambda w: _optimizer(mf.trace_momentum(), w),
    M + "engine.api.init": lambda w: mf.init(
        mf.key(0), [4, 3, 2], activation="tanh", dtype="float64"
    ),
    M + "engine.api.n_params": lambda w: mf.n_params(w.params),  # an int
    M + "textbook.params.ravel": lambda w: mf.ravel(w.params),
    M + "textbook.params.tree_map": lambda w: mf.tree_map(lambda a: a, w.params),
    M + "textbook.params.tree_reduce": lambda w: mf.tree_reduce(
        lambda t, a: t + a.size, w.params, 0
    ),  # int
    M + "engine.api.unravel": lambda w: mf.unravel(
        np.zeros(mf.n_params(w.params), np.float32), w.params
    ),
    M + "textbook.random.generator": lambda w: mf.generator(mf.key(0)),  # a NumPy Generator
    M + "engine.api.key": lambda w: mf.key(0),  # a Key of four ints
    M + "engine.api.split": lambda w: mf.split(mf.key(0), 3),  # Keys
    M + "engine.api.dropout": lambda w: (
        mf.dropout(mf.key(0), w.rows, 0.5),
        mf.dropout(mf.key(0), w.rows, 0.0),
    ),
    M + "textbook.schedules.constant": lambda w: _schedule(mf.constant(0.1)),
    M + "textbook.schedules.cosine": lambda w: _schedule(mf.cosine(0.1, total_steps=4)),
    M + "textbook.schedules.one_cycle": lambda w: _schedule(mf.one_cycle(0.1, total_steps=4)),
    M + "textbook.schedules.step_decay": lambda w: _schedule(mf.step_decay(0.1, every=2)),
    M + "textbook.schedules.warmup_cosine": lambda w: _schedule(
        mf.warmup_cosine(0.1, warmup_steps=1, total_steps=4)
    ),
    M + "textbook.train.init_state": lambda w: _state(w),
    M + "engine.epochs.minibatches": _batches,
    M + "engine.epochs.train_step": lambda w: mf.train_step(
        _state(w), _batches(w, 0.5)[0], dropout=0.5
    ),
    # --- mlp_functional.data
    M + "data.datasets.cache_dir": lambda w: data.cache_dir("tiny"),  # a Path
    M + "data.datasets.fetch": lambda w: data.fetch(w.spec._replace(mirrors=(w.url,))),  # a Path
    M + "data.datasets.load": lambda w: data.load(w.spec._replace(mirrors=(w.url,))),
    M + "data.download.download_file": lambda w: data.download_file(
        w.spec.files[1], [w.url], w.tmp
    ),
    M + "data.folders.decode_example": lambda w: data.decode_example(w.png),
    M + "data.idx.read_idx": lambda w: data.read_idx(_idx(w)),
    M + "data.idx.write_idx": lambda w: data.write_idx(
        w.tmp / "y.idx", w.y.astype(np.uint8)
    ),  # None
    M + "data.own.load_data": lambda w: data.load_data(_csv(w)),
    M + "data.own.load_recorded": lambda w: data.load_recorded(
        data.source_record(data.load_data(_csv(w)).source)
    ),
    M + "data.own.parse_image_size": lambda w: data.parse_image_size("28x28"),  # ints
    M + "data.registry.get_spec": lambda w: data.get_spec("mnist"),  # a DatasetSpec of strings
    M + "data.scaling.fit_scaling": lambda w: data.fit_scaling(w.rows),  # tuples of floats
    M + "data.scaling.needs_scaling": lambda w: data.needs_scaling(_table(w)),  # a bool
    M + "data.scaling.scale_dataset": lambda w: data.scale_dataset(
        _table(w), data.fit_scaling(_table(w).train.images)
    ),
    M + "data.scaling.scale_features": lambda w: data.scale_features(
        w.rows, data.fit_scaling(w.rows)
    ),
    M + "data.scaling.scaling_from_record": lambda w: data.scaling_from_record(  # floats
        data.scaling_record(data.fit_scaling(w.rows))
    ),
    M + "data.scaling.scaling_record": lambda w: data.scaling_record(  # lists of floats
        data.fit_scaling(w.rows)
    ),
    M + "data.source.describe_examples": lambda w: data.describe_examples((8, 8)),  # a str
    M + "data.source.mnist_like": lambda w: data.mnist_like((28, 28)),  # a bool
    M + "data.source.source_from_record": lambda w: data.source_from_record(  # a Source
        data.source_record(_table(w).source)
    ),
    M + "data.source.check_same_data": lambda w: data.check_same_data(  # None
        data.source_record(data.load_data(_csv(w)).source), data.load_data(_csv(w)).source
    ),
    M + "data.source.source_record": lambda w: data.source_record(  # JSON-ready dict, no arrays
        data.load_data(_csv(w)).source
    ),
    M + "data.tabular.read_csv": lambda w: data.read_csv(_csv(w)),
    M + "data.transforms.pixel_stats": lambda w: data.pixel_stats(w.x),
    M + "data.transforms.preprocess": lambda w: (
        data.preprocess(w.x),
        data.preprocess(w.x, data.pixel_stats(w.x)),
    ),
    M + "data.transforms.standardize": lambda w: data.standardize(w.rows, data.pixel_stats(w.x)),
    M + "data.transforms.stratified_split": lambda w: data.stratified_split(mf.key(0), w.y, 0.5),
    M + "data.transforms.take": lambda w: data.take(data.Split(w.x, w.y), np.array([0, 2])),
    M + "data.transforms.train_val_split": lambda w: data.train_val_split(mf.key(0), w.x, w.y, 2),
    # --- mlp_functional.metrics
    M + "metrics.confident_mistakes": lambda w: metrics.confident_mistakes(
        mf.predict_proba(w.params, w.x), w.y, 3
    ),
    M + "metrics.confusion_matrix": lambda w: metrics.confusion_matrix(w.y, w.y[::-1], 3),
    M + "metrics.per_class": lambda w: metrics.per_class(
        metrics.confusion_matrix(w.y, w.y[::-1], 3)
    ),
    M + "metrics.percent": lambda w: metrics.percent(0.5),  # a str
    # --- mlp_functional.imaging
    M + "imaging.centre_of_mass": lambda w: imaging.centre_of_mass(w.x[0]),  # two floats
    M + "imaging.decode_image": lambda w: imaging.decode_image(w.png),
    M + "imaging.load_image": lambda w: imaging.load_image(_png_file(w)),
    M + "imaging.no_ink": lambda w: imaging.no_ink(0.0),  # an ImageError
    M + "imaging.open_image": lambda w: imaging.open_image(io.BytesIO(w.png)),  # a PIL image
    M + "imaging.read_regular_file": lambda w: imaging.read_regular_file(_png_file(w)),  # bytes
    M + "imaging.resize_area": lambda w: imaging.resize_area(w.x[0], (14, 14)),
    M + "imaging.to_mnist": lambda w: (imaging.to_mnist(w.x[0]), imaging.to_mnist(255 - w.x[1])),
    # --- mlp_functional.inputs
    M + "inputs.check_model": lambda w: inputs.check_model(w.params),  # None
    M + "inputs.check_pixels": lambda w: (
        inputs.check_pixels("x", w.rows),
        inputs.check_pixels("x", w.x),
    ),
    M + "inputs.class_names": lambda w: inputs.class_names({}, 3),  # a tuple of str
    M + "inputs.picture_row": lambda w: inputs.picture_row("page", 255 - w.x[0]),
    M + "inputs.read": lambda w: inputs.read(w.params, list(w.rows[:2])),
    M + "inputs.read_as_trained": lambda w: (
        inputs.read_as_trained([str(_npy(w)), str(_png_file(w))], inputs.TrainingForm(None, 784)),
        inputs.read_as_trained([str(_feature_csv(w))], inputs.TrainingForm(None, 2, "uint8")),
        inputs.read_as_trained([str(_feature_csv(w))], inputs.TrainingForm(None, 2, "float32")),
    ),
    M + "inputs.training_form": lambda w: inputs.training_form(  # a TrainingForm, no arrays
        {"data": {"dtype": "float32"}}, _table(w).source, 2, "config.json"
    ),
    M + "inputs.read_input": lambda w: (
        inputs.read_input(_npy(w)),
        inputs.read_input(_png_file(w)),
    ),
    M + "inputs.rows_from_array": lambda w: (
        inputs.rows_from_array("a.npy", w.x[:2]),
        inputs.rows_from_array("b.npy", w.rows[:2]),
    ),
}


def _public_callables() -> set[str]:
    """Where each public function of the namespaces is defined, as ``CALLS`` names it.

    An :class:`~mlp_functional.Activation` is a public value whose fields are functions:
    it is listed as ``<module>.<name>.value|derivative``.
    """
    names = set()
    for namespace in NAMESPACES:
        module = importlib.import_module(namespace)
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, mf.Activation):
                names.add(f"{namespace}.{name}.value|derivative")
            elif callable(obj) and not inspect.isclass(obj):
                names.add(f"{obj.__module__}.{obj.__qualname__}")
    return names


def test_every_public_function_is_in_the_table():
    public = _public_callables()
    missing = sorted(public - set(CALLS))
    unknown = sorted(set(CALLS) - public)
    assert not missing, f"add these public functions to CALLS: {missing}"
    assert not unknown, f"CALLS names functions that are not public: {unknown}"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass


@pytest.fixture
def world(tmp_path: Path, make_tiny, data_env, monkeypatch) -> Iterator[World]:
    from PIL import Image

    monkeypatch.chdir(tmp_path)  # functions that read relative paths read from here
    spec, _ = make_tiny(tmp_path / "served")
    handler = partial(_Quiet, directory=str(tmp_path / "served"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    rng = np.random.default_rng(0)
    x = np.zeros((6, 28, 28), np.uint8)
    for i in range(6):
        x[i, 4:24, 6 + 2 * i : 10 + 2 * i] = rng.integers(128, 256, (20, 4), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(255 - x[0]).save(buffer, format="PNG")
    yield World(
        tmp=tmp_path,
        url=f"http://127.0.0.1:{httpd.server_address[1]}/",
        spec=spec,
        params=mf.init(mf.key(1), [784, 8, 3]),
        x=x,
        y=np.array([0, 1, 2, 0, 1, 2]),
        rows=(x.reshape(6, -1) / np.float32(255)).astype(np.float32),
        png=buffer.getvalue(),
    )
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_array_a_public_function_returns_is_read_only(name, world):
    out = CALLS[name](world)
    writeable = [path for path, a in _walk(out) if a.flags.writeable]
    assert not writeable, f"{name} returns writeable arrays: {writeable}"


@pytest.mark.parametrize("name", sorted(CALLS))
def test_callers_arrays_stay_writeable(name, world):
    CALLS[name](world)
    frozen = [field for field in ("x", "y", "rows") if not getattr(world, field).flags.writeable]
    assert not frozen, f"{name} made the caller's {frozen} read-only in place"


def test_the_walk_finds_arrays_everywhere():
    a = np.zeros(2)
    found = list(_walk({"k": [(a,), mf.Layer(a, a)]}))
    assert [path for path, _ in found] == ["out['k'][0][0]", "out['k'][1].w", "out['k'][1].b"]
