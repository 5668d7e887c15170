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
from mlp_functional import Layer
from mlp_functional.runs.checkpoint import (
    METADATA_KEY,
    STATE_FORMAT,
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


OPTIMIZERS = {
    "adam": lambda: mf.adam(0.01),
    "adamw": lambda: mf.adamw(0.01, weight_decay=0.1),
    "momentum": lambda: mf.momentum(0.05, nesterov=True),
    "sgd": lambda: mf.sgd(0.1),
    "clip+l2+adam": lambda: mf.chain(
        mf.clip_by_global_norm(1.0), mf.add_l2(1e-3), mf.adam(mf.cosine(0.01, total_steps=12))
    ),
}


def _state_arrays(state) -> list[np.ndarray]:
    if isinstance(state, mf.Params):
        return [a for layer in state.layers for a in layer]
    if isinstance(state, tuple):
        return [a for part in state for a in _state_arrays(part)]
    return []


def _same_opt_state(a, b) -> bool:
    """Same structure, same state types and counts, same bits in every array."""
    if isinstance(a, mf.Params) or isinstance(b, mf.Params):
        return isinstance(a, mf.Params) and isinstance(b, mf.Params) and _same(a, b)
    if isinstance(a, tuple):
        return (
            type(a) is type(b)
            and len(a) == len(b)
            and all(_same_opt_state(x, y) for x, y in zip(a, b, strict=True))
        )
    return type(a) is type(b) and a == b


def _data():
    rng = np.random.default_rng(0)
    return rng.random((64, 6)), rng.integers(0, 3, 64)


@pytest.mark.parametrize("engine", ["fast", "textbook"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_training_continues_exactly_from_a_saved_state(tmp_path: Path, name: str, engine) -> None:
    x, y = _data()
    start = mf.init_state(mf.key(1), _model(), OPTIMIZERS[name]())
    *_, (straight, _) = mf.fit(start, x, y, batch_size=16, epochs=3, engine=engine)
    *_, (middle, _) = mf.fit(start, x, y, batch_size=16, epochs=1, engine=engine)
    save_train_state(tmp_path / "state", middle, {"epoch": 1, "note": "x"})
    restored, progress = load_train_state(tmp_path / "state", OPTIMIZERS[name]())
    assert progress == {"epoch": 1, "note": "x"}
    assert restored.key == middle.key and restored.step == middle.step == 4
    assert _same(restored.params, middle.params)
    assert _same_opt_state(restored.opt_state, middle.opt_state)
    *_, (resumed, _) = mf.fit(restored, x, y, batch_size=16, epochs=2, engine=engine)
    assert _same(straight.params, resumed.params)
    assert _same_opt_state(straight.opt_state, resumed.opt_state)
    assert straight.step == resumed.step == 12


def test_a_state_file_means_the_same_whichever_engine_wrote_it(tmp_path: Path) -> None:
    x, y = _data()
    dtype = "float64"
    start = mf.init_state(mf.key(1), _model(dtype=dtype), OPTIMIZERS["clip+l2+adam"]())
    for engine in ("fast", "textbook"):
        after, _ = mf.train_epoch(start, x, y, batch_size=16, engine=engine)
        save_train_state(tmp_path / engine, after)
    by_fast, _ = load_train_state(tmp_path / "fast", OPTIMIZERS["clip+l2+adam"]())
    by_textbook, _ = load_train_state(tmp_path / "textbook", OPTIMIZERS["clip+l2+adam"]())
    assert by_fast.step == by_textbook.step == 4 and by_fast.key == by_textbook.key
    for a, b in zip(
        _state_arrays((by_fast.params, by_fast.opt_state)),
        _state_arrays((by_textbook.params, by_textbook.opt_state)),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_train_state_is_params_opt_state_key_optimizer_with_the_step_from_the_count() -> None:
    assert mf.TrainState._fields[:4] == ("params", "opt_state", "key", "optimizer")
    state = mf.init_state(mf.key(1), _model(), mf.adam(0.01))
    assert state.step == 0
    adam_state, lr_state = state.opt_state
    moved = state._replace(opt_state=(adam_state._replace(count=7), lr_state._replace(count=7)))
    assert moved.step == 7


def _meta(path: Path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        return json.loads(f.metadata()[METADATA_KEY])


def test_state_tensors_carry_the_papers_names_and_counts_are_in_the_metadata(
    tmp_path: Path,
) -> None:
    from safetensors.numpy import load_file

    state = mf.init_state(mf.key(1), _model(), mf.adam(0.01))
    x, y = _data()
    state, _ = mf.train_epoch(state, x, y, batch_size=16)
    save_train_state(tmp_path / "s", state)
    tensors = load_file(str(tmp_path / "s"))
    assert {"params.layers.0.w", "opt.0.mu.layers.0.w", "opt.0.nu.layers.1.b"} <= set(tensors)
    assert len(tensors) == 12  # params, mu and nu: two layers of w and b each
    np.testing.assert_array_equal(tensors["opt.0.nu.layers.1.b"], state.opt_state[0].nu.layers[1].b)
    meta = _meta(tmp_path / "s")
    assert meta["optimizer"] == {
        "format": STATE_FORMAT,
        "states": [
            {"path": "0", "state": "AdamState", "counts": {"count": 4}},
            {"path": "1", "state": "LearningRateState", "counts": {"count": 4}},
        ],
    }
    assert STATE_FORMAT == 2


def test_a_nested_chain_is_saved_under_the_path_of_each_transformation(tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    save_train_state(
        tmp_path / "s", mf.init_state(mf.key(1), _model(), OPTIMIZERS["clip+l2+adam"]())
    )
    names = set(load_file(str(tmp_path / "s")))
    assert {"opt.2.0.mu.layers.0.w", "opt.2.0.nu.layers.1.b"} <= names
    paths = [(d["path"], d["state"]) for d in _meta(tmp_path / "s")["optimizer"]["states"]]
    assert paths == [
        ("0", "EmptyState"),
        ("1", "EmptyState"),
        ("2.0", "AdamState"),
        ("2.1", "LearningRateState"),
    ]


def test_state_refuses_another_optimizer(tmp_path: Path) -> None:
    save_train_state(tmp_path / "s", mf.init_state(mf.key(1), _model(), mf.adam(0.01)))
    with pytest.raises(
        CheckpointError,
        match=r"states are \(AdamState, LearningRateState\), but training would continue with "
        r"one whose states are \(LearningRateState\); resume with the optimizer",
    ) as info:
        load_train_state(tmp_path / "s", mf.sgd(0.1))
    assert "\n" not in str(info.value) and str(tmp_path / "s") in str(info.value)


def _rewrite_state(tmp_path: Path, edit) -> Path:
    from safetensors.numpy import load_file, save_file

    good = tmp_path / "state.safetensors"
    save_train_state(good, mf.init_state(mf.key(1), _model(), mf.adam(0.01)))
    meta = _meta(good)
    tensors = load_file(str(good))
    edit(tensors, meta)
    bad = tmp_path / "bad.safetensors"
    save_file(tensors, str(bad), metadata={METADATA_KEY: json.dumps(meta)})
    return bad


def _previous_format(tensors, meta) -> None:
    """The layout before STATE_FORMAT 2: Adam's decayed sums as slots, one step count."""
    for name in list(tensors):
        if name.startswith("opt."):
            del tensors[name]
    for slot in ("grad_sum", "square_sum"):
        for i in range(2):
            for field in ("w", "b"):
                tensors[f"opt.{slot}.layers.{i}.{field}"] = tensors[f"params.layers.{i}.{field}"]
    meta["optimizer"] = {"state": "AdamState", "slots": ["grad_sum", "square_sum"], "step": 3}
    meta["step"] = 3


def test_a_state_file_in_the_previous_format_is_refused_in_one_line(tmp_path: Path) -> None:
    old = _rewrite_state(tmp_path, _previous_format)
    with pytest.raises(
        CheckpointError,
        match=r"written by an earlier version of mlp_functional, whose optimizer state "
        r"\(AdamState: grad_sum, square_sum\) this version does not continue; .*start a new run",
    ) as info:
        load_train_state(old, mf.adam(0.01))
    assert "\n" not in str(info.value) and str(old) in str(info.value)


def _rename_moments(tensors, meta) -> None:
    """An AdamState whose fields carry other names than the papers' mu and nu."""
    for name in list(tensors):
        if name.startswith("opt.0."):
            renamed = name.replace(".mu.", ".m.").replace(".nu.", ".v.")
            tensors[renamed] = tensors.pop(name)


def _set_state_meta(**changes):
    def edit(tensors, meta):
        meta["optimizer"] = {**meta["optimizer"], **changes}

    return edit


def _set_count(value):
    def edit(tensors, meta):
        meta["optimizer"]["states"][0]["counts"]["count"] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_rename_moments, r"missing opt\.0\.mu\.layers\.0\.b.*unexpected opt\.0\.m\.layers"),
        (_set_state_meta(format=3), "the optimizer description in its metadata is invalid"),
        (_set_state_meta(states="x"), "the optimizer description in its metadata is invalid"),
        (_set_count(-1), "the optimizer count in its metadata is invalid: -1"),
        (_set_count("4"), "the optimizer count in its metadata is invalid: '4'"),
        (
            lambda t, m: m.update({"key": [1, 2, 3]}),
            r"the random key in its metadata is invalid: \[1, 2, 3\]",
        ),
        (lambda t, m: m.update({"progress": []}), "the progress record in its metadata is invalid"),
        (
            lambda t, m: t.update({"opt.0.nu.layers.0.w": np.full((6, 5), np.nan, np.float32)}),
            "tensor opt.0.nu.layers.0.w holds NaN",
        ),
    ],
)
def test_state_files_that_disagree_with_their_metadata_are_refused(
    tmp_path: Path, edit, message: str
) -> None:
    with pytest.raises(CheckpointError, match=message) as info:
        load_train_state(_rewrite_state(tmp_path, edit), mf.adam(0.01))
    assert "\n" not in str(info.value)


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
