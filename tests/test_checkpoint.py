"""Model and training-state files: round trips, exact continuation, and hostile input."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlp_functional as mf
from mlp_functional.params import Layer
from mlp_functional.runs.checkpoint import (
    METADATA_KEY,
    CheckpointError,
    load_params,
    load_train_state,
    model_spec,
    save_params,
    save_train_state,
)


def _model(sizes=(6, 5, 3), activation="relu", dtype="float32", seed=0) -> mf.Params:
    return mf.init(mf.key(seed), list(sizes), activation=activation, dtype=dtype)


def _same(a: mf.Params, b: mf.Params) -> bool:
    return (
        a.sizes == b.sizes
        and a.activation is b.activation
        and a.dtype == b.dtype
        and all(
            np.array_equal(x, y)
            for la, lb in zip(a.layers, b.layers, strict=True)
            for x, y in zip(la, lb, strict=True)
        )
    )


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 9), min_size=2, max_size=4),
    activation=st.sampled_from(sorted(mf.ACTIVATIONS)),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_params_round_trip_exactly(
    tmp_path_factory: pytest.TempPathFactory, sizes, activation, dtype, seed
) -> None:
    path = tmp_path_factory.mktemp("ckpt") / "model.safetensors"
    params = _model(sizes, activation, dtype, seed)
    save_params(path, params)
    loaded = load_params(path)
    assert _same(params, loaded)
    assert all(not a.flags.writeable for layer in loaded.layers for a in layer)


def test_same_model_gives_the_same_bytes(tmp_path: Path) -> None:
    save_params(tmp_path / "a", _model())
    save_params(tmp_path / "b", _model())
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no temporary files


def test_non_contiguous_arrays_are_saved_in_their_logical_order(tmp_path: Path) -> None:
    p = _model((4, 3))
    w = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(4, 3))
    transposed = mf.Params((Layer(w, p.layers[0].b),), p.activation)
    save_params(tmp_path / "m", transposed)
    assert np.array_equal(load_params(tmp_path / "m").layers[0].w, w)


def test_metadata_is_one_json_string_with_version_and_architecture(tmp_path: Path) -> None:
    from safetensors import safe_open

    save_params(tmp_path / "m", _model((6, 5, 3), "tanh"))
    with safe_open(str(tmp_path / "m"), framework="numpy") as f:
        meta = f.metadata()
        names = sorted(f.keys())
    assert list(meta) == [METADATA_KEY]
    header = json.loads(meta[METADATA_KEY])
    assert header["format_version"] == 1 and header["kind"] == "model"
    assert header["model"] == {"sizes": [6, 5, 3], "activation": "tanh", "dtype": "float32"}
    assert names == ["layers.0.b", "layers.0.w", "layers.1.b", "layers.1.w"]


def test_a_custom_activation_cannot_be_saved() -> None:
    odd = mf.Activation("odd", np.tanh, lambda z, a: 1 - a * a)
    with pytest.raises(ValueError, match="not a built-in one"):
        model_spec(_model()._replace(activation=odd))


@pytest.mark.parametrize("name", ["adam", "momentum", "sgd"])
def test_training_continues_exactly_from_a_saved_state(tmp_path: Path, name: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((64, 6))
    y = rng.integers(0, 3, 64)
    make = {"adam": mf.adam(0.01), "momentum": mf.momentum(0.05), "sgd": mf.sgd(0.1)}
    start = mf.init_state(mf.key(1), _model(), make[name])
    *_, (straight, _) = mf.fit(start, x, y, batch_size=16, epochs=3)
    *_, (middle, _) = mf.fit(start, x, y, batch_size=16, epochs=1)
    save_train_state(tmp_path / "state", middle, {"epoch": 1, "note": "x"})
    restored, progress = load_train_state(tmp_path / "state", make[name])
    assert progress == {"epoch": 1, "note": "x"}
    assert restored.key == middle.key and restored.step == middle.step
    *_, (resumed, _) = mf.fit(restored, x, y, batch_size=16, epochs=2)
    assert _same(straight.params, resumed.params)
    for a, b in zip(straight.opt_state[1:], resumed.opt_state[1:], strict=True):
        assert _same(a, b)
    assert straight.opt_state.step == resumed.opt_state.step


def test_state_tensors_are_named_by_slot(tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    state = mf.init_state(mf.key(1), _model(), mf.adam(0.01))
    save_train_state(tmp_path / "s", state)
    names = set(load_file(str(tmp_path / "s")))
    assert {"params.layers.0.w", "opt.grad_sum.layers.0.w", "opt.square_sum.layers.1.b"} <= names
    assert len(names) == 12


def test_state_refuses_another_optimizer(tmp_path: Path) -> None:
    save_train_state(tmp_path / "s", mf.init_state(mf.key(1), _model(), mf.adam(0.01)))
    with pytest.raises(CheckpointError, match="optimizer whose state is 'AdamState'"):
        load_train_state(tmp_path / "s", mf.sgd(0.1))


def test_state_from_a_version_with_other_slot_names_is_refused(tmp_path: Path) -> None:
    from typing import Any, NamedTuple

    class AdamState(NamedTuple):  # as an earlier version laid it out
        step: int
        mu: Any
        nu: Any

    old = mf.from_rule(mf.adam(0.01).rule._replace(state_type=AdamState))
    save_train_state(tmp_path / "s", mf.init_state(mf.key(1), _model(), old))
    with pytest.raises(CheckpointError, match=r"holds mu, nu, .* keeps grad_sum, square_sum"):
        load_train_state(tmp_path / "s", mf.adam(0.01))


def test_a_model_file_is_not_a_state_file(tmp_path: Path) -> None:
    save_params(tmp_path / "m", _model())
    with pytest.raises(CheckpointError, match="holds a 'model', expected a 'train_state'"):
        load_train_state(tmp_path / "m", mf.sgd(0.1))


def _header_file(path: Path, header: dict, payload: bytes = b"") -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + payload)


def _good(tmp_path: Path) -> Path:
    path = tmp_path / "good.safetensors"
    save_params(path, _model())
    return path


def _rewrite(tmp_path: Path, edit) -> Path:
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    good = _good(tmp_path)
    with safe_open(str(good), framework="numpy") as f:
        meta = dict(f.metadata())
    tensors = load_file(str(good))
    edit(tensors, meta)
    bad = tmp_path / "bad.safetensors"
    save_file(tensors, str(bad), metadata=meta)
    return bad


def _foreign(path: Path) -> None:
    from safetensors.numpy import save_file

    save_file({"fc1.weight": np.zeros((2, 2), np.float32)}, str(path))


def _set_meta(**changes):
    def edit(tensors, meta):
        header = json.loads(meta[METADATA_KEY])
        header.update(changes)
        meta[METADATA_KEY] = json.dumps(header)

    return edit


HOSTILE = {
    "empty": (lambda p: p.write_bytes(b""), "only 0 bytes"),
    "truncated": (
        lambda p: p.write_bytes(_good(p.parent).read_bytes()[:200]),
        "truncated or damaged",
    ),
    "random bytes": (
        lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)),
        "truncated or damaged",
    ),
    "huge header length": (
        lambda p: p.write_bytes(struct.pack("<Q", 2**63 - 1) + b"{}"),
        "header claims",
    ),
    "pickle": (
        lambda p: p.write_bytes(b"\x80\x04\x95\x0b\x00\x00\x00\x00\x00\x00\x00}\x94."),
        "truncated or damaged",
    ),
    "header not json": (
        lambda p: p.write_bytes(struct.pack("<Q", 4) + b"{{{{"),
        "truncated or damaged",
    ),
    "offsets beyond the file": (
        lambda p: _header_file(
            p,
            {"w": {"dtype": "F32", "shape": [100000, 100000], "data_offsets": [0, 4 * 10**10]}},
            b"\0" * 16,
        ),
        "truncated or damaged",
    ),
    "foreign tensors": (_foreign, "not written by mlp_functional"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_are_refused_with_one_line(tmp_path: Path, case: str) -> None:
    make, message = HOSTILE[case]
    path = tmp_path / "x.safetensors"
    make(path)
    with pytest.raises(CheckpointError, match=message) as info:
        load_params(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set_meta(format_version=99), "format version 99"),
        (_set_meta(kind="train_state"), "holds a 'train_state'"),
        (
            _set_meta(model={"sizes": [6, 5], "activation": "relu", "dtype": "float32"}),
            "unexpected",
        ),
        (_set_meta(model={"sizes": [6, 5, 3], "activation": "gelu", "dtype": "float32"}), "gelu"),
        (_set_meta(model={"sizes": [6, 5, 3], "activation": "relu", "dtype": "int8"}), "dtype"),
        (_set_meta(model={"sizes": [6, -5, 3], "activation": "relu", "dtype": "float32"}), "sizes"),
        (_set_meta(model="x"), "missing"),
        (lambda t, m: m.update({METADATA_KEY: "not json"}), "not a JSON object"),
        (lambda t, m: t.pop("layers.1.b"), "missing layers.1.b"),
        (lambda t, m: t.update({"extra": np.zeros(1, np.float32)}), "unexpected extra"),
        (lambda t, m: t.update({"layers.1.b": np.zeros(4, np.float32)}), r"float32\[4\]"),
        (lambda t, m: t.update({"layers.1.b": np.zeros(3, np.float16)}), r"float16\[3\]"),
        (lambda t, m: t.update({"layers.0.w": np.full((6, 5), np.nan, np.float32)}), "NaN"),
        (lambda t, m: t.update({"layers.0.b": np.full(5, np.inf, np.float32)}), "infinity"),
    ],
)
def test_files_that_disagree_with_their_metadata_are_refused(
    tmp_path: Path, edit, message: str
) -> None:
    with pytest.raises(CheckpointError, match=message) as info:
        load_params(_rewrite(tmp_path, edit))
    assert "\n" not in str(info.value)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such file"):
        load_params(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="is a folder"):
        load_params(tmp_path)


def test_a_failed_write_leaves_the_previous_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "m"
    save_params(path, _model(seed=0))
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", broken)
    with pytest.raises(OSError, match="disk full"):
        save_params(path, _model(seed=1))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
