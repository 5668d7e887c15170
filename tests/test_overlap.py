"""When the update runs beside back propagation: the measured rule and the override."""

from __future__ import annotations

import numpy as np
import pytest

import mlp_functional as mf
from mlp_functional.fast import backend, overlap
from mlp_functional.fast.state import rule_chain, to_fast

REFERENCE = [784, 256, 128, 10]
WIDE = [784, 1024, 1024, 10]


@pytest.mark.parametrize(
    ("sizes", "batch"), [(REFERENCE, 128), (REFERENCE, 512), (WIDE, 128), ([5, 3, 2], 7)]
)
def test_hidden_share_is_the_upper_layers_entries_over_the_last_product(
    sizes: list[int], batch: int
) -> None:
    params = mf.init(mf.key(0), sizes)
    upper = mf.n_params(params) - params.layers[0].w.size - params.layers[0].b.size
    multiply_adds = sizes[0] * batch * sizes[1]  # a.T @ delta: (i, batch) @ (batch, o)
    assert overlap.hidden_share(sizes, batch) == pytest.approx(upper / multiply_adds, rel=1e-12)


def _overlap_at(
    sizes: list[int],
    batch: int,
    monkeypatch: pytest.MonkeyPatch,
    setting: str | None,
    threads: int,
):
    if setting is None:
        monkeypatch.delenv(overlap.OVERLAP_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(overlap.OVERLAP_VARIABLE, setting)
    monkeypatch.setattr(overlap, "blas_threads", lambda: threads)
    state = mf.init_state(mf.key(1), mf.init(mf.key(0), sizes), mf.adam(1e-3))
    fast = to_fast(state)
    slots = [list(slot.values) for slot in fast.slots]
    chosen = overlap.overlap_for(
        rule_chain(state), state.params, fast.p, np.empty_like(fast.p), slots, batch
    )
    if chosen is not None:
        chosen.close()
    return chosen


@pytest.mark.skipif(backend.compiled() is None, reason="the overlap needs the compiled kernels")
@pytest.mark.parametrize(
    ("sizes", "batch", "setting", "threads", "runs"),
    [
        (WIDE, 128, None, 2, True),  # measured faster with either OpenBLAS kernel
        (REFERENCE, 512, None, 2, False),  # measured slower with either
        (REFERENCE, 128, None, 2, False),  # slower with the AVX-512 kernel
        (WIDE, 128, None, 1, False),  # one BLAS thread: measured slower
        (WIDE, 128, "auto", 2, True),
        (REFERENCE, 512, "1", 1, True),  # asked for: always
        (WIDE, 128, "0", 2, False),  # turned off: never
        (WIDE, 128, "00", 2, False),
    ],
)
def test_the_overlap_runs_where_it_was_measured_faster(
    sizes: list[int],
    batch: int,
    setting: str | None,
    threads: int,
    runs: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen = _overlap_at(sizes, batch, monkeypatch, setting, threads)
    assert (chosen is not None) is runs


def test_blas_threads_counts_a_loaded_blas() -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    if not any(i.get("user_api") == "blas" for i in threadpool_info()):
        pytest.skip("no BLAS found by threadpoolctl")
    with threadpool_limits(1):
        assert overlap.blas_threads() == 1


@pytest.mark.skipif(backend.compiled() is None, reason="the overlap needs the compiled kernels")
@pytest.mark.parametrize("setting", ["1", "3"])
def test_max_norm_projects_each_layer_after_its_overlapped_update(
    setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Forced on (and with the first layer's gradient in 3 blocks): each layer's projection
    # runs on the worker after that layer's last update job.
    monkeypatch.setenv(overlap.OVERLAP_VARIABLE, setting)
    rng = np.random.default_rng(0)
    x, y = rng.random((37, 7)), rng.integers(0, 4, 37)
    params = mf.init(mf.key(0), [7, 12, 9, 4], dtype="float64")
    state = mf.init_state(mf.key(1), params, mf.chain(mf.adam(0.05), mf.max_norm(0.5)))
    fast = to_fast(state)
    slots = [list(slot.values) for slot in fast.slots]
    chosen = overlap.overlap_for(rule_chain(state), params, fast.p, np.empty_like(fast.p), slots, 5)
    assert chosen is not None and chosen.fused.radii == (0.5,)
    chosen.close()
    runs = [mf.train_epoch(state, x, y, batch_size=5, engine=e)[0] for e in ("fast", "textbook")]
    a, b = (mf.ravel(run.params) for run in runs)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for layer in runs[0].params.layers:
        assert np.linalg.norm(layer.w, axis=0).max() <= 0.5 * (1 + 1e-12)


@pytest.mark.skipif(backend.compiled() is None, reason="the overlap needs the compiled kernels")
@pytest.mark.parametrize("setting", ["0", "1", "3"])
@pytest.mark.parametrize("images", [True, False], ids=["uint8", "float64"])
def test_input_dropout_trains_as_the_textbook_with_the_overlap_off_and_on(
    setting: str, images: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Off, on, and on with the first layer's gradient in 3 blocks: the update beside back
    # propagation never sees a batch's features, which the next gather overwrites.
    monkeypatch.setenv(overlap.OVERLAP_VARIABLE, setting)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (37, 7), dtype=np.uint8) if images else rng.random((37, 7))
    x.flags.writeable = False  # the caller's rows: a write into them would raise
    y = rng.integers(0, 4, 37)
    params = mf.init(mf.key(0), [7, 12, 9, 4], dtype="float64")
    state = mf.init_state(mf.key(1), params, mf.adam(0.05))
    fast = to_fast(state)
    slots = [list(slot.values) for slot in fast.slots]
    chosen = overlap.overlap_for(rule_chain(state), params, fast.p, np.empty_like(fast.p), slots, 5)
    assert (chosen is not None) is (setting != "0")
    if chosen is not None:
        chosen.close()
    settings = {"batch_size": 5, "input_dropout": 0.2, "dropout": 0.3}
    runs = [mf.train_epoch(state, x, y, engine=e, **settings)[0] for e in ("fast", "textbook")]
    np.testing.assert_allclose(
        mf.ravel(runs[0].params), mf.ravel(runs[1].params), rtol=1e-12, atol=1e-12
    )
    kept = mf.train_epoch(state, x, y, engine="fast", **{**settings, "input_dropout": 0.0})[0]
    assert not np.allclose(mf.ravel(runs[0].params), mf.ravel(kept.params))  # it drops here
