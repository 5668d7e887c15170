"""The one path from files, arrays and drawings to the model's answer (`mlp_functional.inputs`)."""

from __future__ import annotations

import numpy as np
import pytest

import mlp_functional as mf
from mlp_functional.inputs import (
    InputError,
    check_model,
    class_names,
    read,
    read_input,
    rows_from_array,
)


def digit() -> np.ndarray:
    d = np.zeros((28, 28), np.uint8)
    d[4:24, 12:16] = 255
    return d


def test_rows_are_fresh_and_read_only():
    for a in (digit(), digit().astype(np.float64) / 255, np.stack([digit()] * 3)):
        rows = rows_from_array("x", a)
        before = [row.copy() for _, row in rows]
        a[...] = 0  # the caller changes its array afterwards
        for (_, row), kept in zip(rows, before, strict=True):
            assert not row.flags.writeable and np.array_equal(row, kept)


def test_read_runs_one_forward_pass_matching_the_engine():
    params = mf.init(mf.key(0), [784, 16, 10])
    rows = [digit().reshape(-1), (digit().reshape(-1) / 255).astype(np.float32)]
    reading = read(params, rows)
    expected = mf.predict_proba(params, np.stack([digit(), digit()]))
    np.testing.assert_allclose(reading.probabilities, expected, rtol=1e-6)
    trace = mf.forward_trace(params, np.stack([digit(), digit()]))  # the same batch
    assert np.array_equal(reading.hidden, trace.hidden[0])
    assert not reading.probabilities.flags.writeable and not reading.hidden.flags.writeable
    assert read(mf.init(mf.key(0), [784, 10]), rows).hidden is None


def test_npy_files_are_read_in_either_memory_order(tmp_path):
    images = np.stack([digit(), digit().T])
    np.save(tmp_path / "c.npy", images)
    np.save(tmp_path / "f.npy", np.asfortranarray(images))
    c, f = read_input(tmp_path / "c.npy"), read_input(tmp_path / "f.npy")
    assert [n for n, _ in c] == [f"{tmp_path / 'c.npy'}[0]", f"{tmp_path / 'c.npy'}[1]"]
    for (_, a), (_, b), image in zip(c, f, images, strict=True):
        assert np.array_equal(a, image.reshape(-1)) and np.array_equal(b, a)


def test_an_npy_header_longer_than_its_data_names_both_sizes(tmp_path):
    path = tmp_path / "cut.npy"
    np.save(path, np.stack([digit()] * 4))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(InputError, match=r"cut\.npy: .*\(4, 28, 28\).*3.1 kB.*3.0 kB"):
        read_input(path)


@pytest.mark.parametrize(
    "config",
    [None, [], {"data": [1]}, {"data": {"classes": "abc"}}, {"data": {"classes": [[1]] * 3}}],
)
def test_class_names_fall_back_to_label_numbers_for_damaged_configs(config):
    assert class_names(config, 3) == ("0", "1", "2")


def test_check_model_refuses_non_finite_weights_naming_the_model():
    p = mf.init(mf.key(0), [4, 3, 2])
    w = np.array(p.layers[1].w)
    w[0, 0] = np.nan
    bad = p._replace(layers=(p.layers[0], mf.Layer(w, p.layers[1].b)))
    with pytest.raises(InputError, match=r"^run/model.safetensors: layer 1 holds NaN"):
        check_model(bad, "run/model.safetensors")
    check_model(p)  # a freshly initialised model passes
