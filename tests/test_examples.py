"""The examples run, print what they say, and return what they claim; the walkthrough is whole.

Each example is loaded with ``runpy`` (so nothing is imported as a package) and its
``main()`` is called on the real MNIST; small laws of the user-written pieces are checked
directly. The walkthrough itself runs as a doctest of ``examples/walkthrough.md``; here
only its shape is checked (its sections, and enough REPL lines).
"""

from __future__ import annotations

import doctest
import math
import re
import runpy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mlp_functional as mf

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(
    p.stem for p in EXAMPLES.glob("*.py") if p.name not in ("__init__.py", "conftest.py")
)


def load_example(name: str) -> dict[str, Any]:
    """The example's module namespace, loaded from its file without running ``main``."""
    return runpy.run_path(str(EXAMPLES / f"{name}.py"))


@pytest.fixture(autouse=True)
def one_blas_thread() -> Iterator[None]:
    # On a busy two-core machine OpenBLAS's own threads stall these small products.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def run_main(
    mnist_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[dict[str, Any], dict[str, Any], str]]:
    """``run(name, **kwargs) -> (namespace, result of main(**kwargs), printed text)``."""
    monkeypatch.setenv("MLP_FUNCTIONAL_DATA", str(mnist_dir.parent))

    def run(name: str, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
        namespace = load_example(name)
        capsys.readouterr()
        result = namespace["main"](**kwargs)
        return namespace, result, capsys.readouterr().out

    return run


# ---- every script -------------------------------------------------------------------


def test_the_expected_examples_exist() -> None:
    assert SCRIPTS == [
        "custom_activation",
        "custom_metric",
        "early_stopping",
        "lr_schedule",
        "swap_optimizers",
        "toolz_loop",
    ]


@pytest.mark.parametrize("name", SCRIPTS)
def test_loading_an_example_runs_nothing(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    # pytest imports every examples/*.py to look for doctests: the work must wait for main().
    namespace = load_example(name)
    assert capsys.readouterr().out == ""
    assert callable(namespace["main"])
    assert f"Run: python examples/{name}.py" in namespace["__doc__"]
    source = (EXAMPLES / f"{name}.py").read_text()
    assert source.rstrip().endswith('if __name__ == "__main__":\n    main()')


# ---- custom_activation --------------------------------------------------------------


def test_swish_derivative_matches_central_differences() -> None:
    ns = load_example("custom_activation")
    z = np.linspace(-30, 30, 601)
    h = 1e-6
    numeric = (ns["swish_value"](z + h) - ns["swish_value"](z - h)) / (2 * h)
    assert np.allclose(ns["swish_derivative"](z, ns["swish_value"](z)), numeric, atol=1e-7)
    assert ns["swish"].init == "he"


def test_custom_activation(run_main: Callable[..., Any]) -> None:
    _, result, out = run_main("custom_activation")
    errors = result["check_grad"]
    assert errors["swish"] < 1e-6
    assert errors["swish, wrong derivative"] > 0.1
    assert set(result["test_accuracy"]) == {"swish", "relu"}
    assert all(acc > 0.85 for acc in result["test_accuracy"].values())
    assert "check_grad, swish:" in out
    assert f"swish: test accuracy {result['test_accuracy']['swish']:.3f}" in out


# ---- swap_optimizers ----------------------------------------------------------------


def test_rmsprop_first_step_and_purity() -> None:
    ns = load_example("swap_optimizers")
    opt = ns["rmsprop"](0.01, rho=0.9, eps=0.0)
    params = mf.init(mf.key(0), [3, 2], dtype="float64")
    grads = mf.tree_map(lambda w: np.full_like(w, -2.0), params)
    state = opt.init(params)
    before = mf.ravel(params).copy()
    updates, new_state = opt.update(grads, state, params)
    new = mf.apply_updates(params, updates)
    # s = 0.1 * g**2, so the step is -lr * g / (sqrt(0.1) * |g|) = +lr / sqrt(0.1) here.
    assert np.allclose(mf.ravel(new) - before, 0.01 / math.sqrt(0.1))
    assert new_state.count == 1 and state.count == 0
    assert np.array_equal(mf.ravel(params), before)
    assert not mf.ravel(state.mean_square).any()


def test_swap_optimizers(run_main: Callable[..., Any]) -> None:
    ns, result, out = run_main("swap_optimizers", n_train=5_000, epochs=1)
    runs = result["results"]
    assert list(runs) == list(ns["OPTIMIZERS"])
    assert result["momentum_0_is_sgd"] is True
    assert "momentum(beta=0) took exactly the steps of sgd: True" in out
    assert all(r["test_accuracy"] > 0.75 for r in runs.values())
    assert all(r["steps"] == math.ceil(5_000 / 128) for r in runs.values())
    assert runs["adam 1e-3"]["test_accuracy"] > runs["sgd 0.1"]["test_accuracy"]


# ---- toolz_loop ---------------------------------------------------------------------


def test_toolz_batches_visit_every_row_once() -> None:
    ns = load_example("toolz_loop")
    x = np.arange(10)[:, None] * np.ones((1, 3))
    y = np.arange(10)
    parts = list(ns["batches"](mf.key(0), x, y, 4))
    assert [len(b[1]) for b in parts] == [4, 4, 2]
    seen = np.concatenate([b[1] for b in parts])
    assert sorted(seen.tolist()) == list(range(10))
    assert all(np.array_equal(bx[:, 0], by) for bx, by in parts)


def test_toolz_loop(run_main: Callable[..., Any]) -> None:
    _, result, out = run_main("toolz_loop")
    accuracies = result["test_accuracy"]
    assert len(accuracies) == 4  # before training and after each of 3 epochs
    assert accuracies[0] < 0.3 < 0.8 < accuracies[-1]
    assert accuracies[1] < accuracies[-1]
    assert isinstance(result["params"], mf.Params)
    assert out.splitlines()[-1] == f"after 3 epochs: test accuracy {accuracies[-1]:.3f}"


# ---- custom_metric ------------------------------------------------------------------


def test_metrics_on_known_cases() -> None:
    ns = load_example("custom_metric")
    top_k, ece = ns["top_k_accuracy"], ns["expected_calibration_error"]
    probs = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7]])
    labels = np.array([1, 1, 0])
    assert top_k(probs, labels, 1) == pytest.approx(1 / 3)
    assert top_k(probs, labels, 2) == pytest.approx(2 / 3)
    assert top_k(probs, labels, 3) == 1.0
    # Always right with confidence 1: calibrated. Always wrong with confidence 1: error 1.
    sure = np.eye(3)[[0, 1, 2]]
    assert ece(sure, np.array([0, 1, 2])) == 0.0
    assert ece(sure, np.array([1, 2, 0])) == 1.0
    # Right half the time at confidence 0.5: calibrated again.
    half = np.array([[0.5, 0.5, 0.0]] * 4)
    assert ece(half, np.array([0, 0, 1, 1])) == pytest.approx(0.0)


def test_custom_metric(run_main: Callable[..., Any]) -> None:
    _, result, out = run_main("custom_metric", epochs=2)
    history = result["history"]
    assert [row["epoch"] for row in history] == [1, 2]
    for row in history:
        assert row["top1"] == pytest.approx(row["accuracy"])
        assert row["top1"] <= row["top2"] <= 1.0
        assert 0.0 <= row["ece"] <= 1.0
    assert history[-1]["top1"] > 0.85
    assert f"top-2 {history[-1]['top2']:.3f}" in out


# ---- lr_schedule --------------------------------------------------------------------


def test_warmup_halving_schedule() -> None:
    ns = load_example("lr_schedule")
    s = ns["warmup_halving"](0.1, warmup=10, half_life=20)
    assert s(0) == pytest.approx(0.01)
    assert s(9) == pytest.approx(0.1) and s(10) == pytest.approx(0.1)
    assert s(30) == pytest.approx(0.05)
    assert s(50) == pytest.approx(0.025)


def test_lr_schedule(run_main: Callable[..., Any]) -> None:
    _, result, out = run_main("lr_schedule", epochs=2)
    spe = result["steps_per_epoch"]
    assert spe == math.ceil(10_000 / 128)
    assert set(result["runs"]) == set(result["schedules"])
    for name, run in result["runs"].items():
        lr = result["schedules"][name]
        logged = [log.learning_rate for log in run["logs"]]
        expected = [mf.learning_rate_at(lr, epoch * spe - 1) for epoch in (1, 2)]
        assert logged == pytest.approx(expected), name
        assert run["test_accuracy"] > 0.85
    rates = [log.learning_rate for log in result["runs"]["warm-up, halving"]["logs"]]
    assert rates[1] < rates[0]
    assert len(out.splitlines()) == 3


# ---- early_stopping -----------------------------------------------------------------


def test_early_stopping_rule_on_a_made_up_history() -> None:
    ns = load_example("early_stopping")

    def log(epoch: int, val_loss: float) -> mf.EpochLog:
        return mf.EpochLog(epoch, 0.0, 0.0, val_loss, 0.0, 0.0, 0.0, 1)

    losses = [5.0, 3.0, 4.0, 2.0, 2.5, 2.1, 2.2, 1.0]
    asked: list[int] = []

    def epochs() -> Iterator[tuple[str, mf.EpochLog]]:
        for i, loss in enumerate(losses, start=1):
            asked.append(i)
            yield f"state {i}", log(i, loss)

    best, logs = ns["early_stopping"](epochs(), patience=3)
    assert best == "state 4"
    assert [entry.epoch for entry in logs] == [1, 2, 3, 4, 5, 6, 7]
    assert asked == [1, 2, 3, 4, 5, 6, 7]  # epoch 8 was never trained
    with pytest.raises(ValueError, match="at least one epoch"):
        ns["early_stopping"](iter(()), patience=3)


def test_early_stopping(run_main: Callable[..., Any], mnist_dir: Path) -> None:
    _, result, out = run_main("early_stopping")
    logs, best_epoch, patience = result["logs"], result["best_epoch"], result["patience"]
    val_losses = [log.val_loss for log in logs]
    assert best_epoch == 1 + int(np.argmin(val_losses))
    assert logs[-1].epoch == best_epoch + patience < 50  # it stopped, and early
    assert result["best"].step == best_epoch * math.ceil(1_000 / 50)
    from mlp_functional.data import load

    train = load("mnist", data_dir=mnist_dir).train
    loss, _ = mf.evaluate(result["best"].params, train.images[-2000:], train.labels[-2000:])
    assert loss == pytest.approx(min(val_losses))
    assert out.splitlines()[-1] == (
        f"stopped after epoch {logs[-1].epoch}; best was epoch {best_epoch}"
    )


# ---- the walkthrough ----------------------------------------------------------------

SECTIONS = [
    "## 0. The problem and the imports",
    "## 1. Loading and looking at the data",
    "## 2. The architecture",
    "### 3.1 Forward propagation",
    "### 3.2 Cross-entropy",
    "### 3.3 Back propagation",
    "### 3.4 Gradient descent",
    "### 3.5 Putting it together",
    "### 4.1 Training and timing it",
    "### 4.2 Evaluating",
    "### 4.3 Improvements",
]


def test_walkthrough_follows_the_notebook_and_is_long_enough() -> None:
    text = (EXAMPLES / "walkthrough.md").read_text()
    positions = [text.find(heading) for heading in SECTIONS]
    assert -1 not in positions, [s for s, p in zip(SECTIONS, positions, strict=True) if p == -1]
    assert positions == sorted(positions)
    examples = doctest.DocTestParser().get_examples(text)
    assert len(examples) >= 40
    skipped = [e for e in examples if e.options.get(doctest.SKIP)]
    assert len(skipped) <= 2  # only wall-clock timing may go unchecked
    # Each of those sections runs code of its own, before the next heading.
    starts = [m.start() for m in re.finditer(r"^#{2,3} ", text, flags=re.MULTILINE)]
    for heading, start in zip(SECTIONS, positions, strict=True):
        end = min((s for s in starts if s > start), default=len(text))
        assert ">>> " in text[start:end], heading
