"""One schema of training settings: records written before its newer fields still load
and resume exactly, its fields are flags, and the estimator's names reach the optimizer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _runs_util import TOY_SETTINGS, toy_dataset

import mlp_functional as mf
from mlp_functional.cli.train import build_parser_for_tests, resolve
from mlp_functional.estimator import MLPClassifier
from mlp_functional.estimator.settings import check_settings
from mlp_functional.runs import lifecycle
from mlp_functional.runs.migrate import migrate
from mlp_functional.runs.recipes import build
from mlp_functional.runs.settings import Settings, SettingsError, check, from_record

#: The fields the optimizers' constants, max-norm and input dropout brought; earlier
#: config.json records lack them.
NEWER = ("nesterov", "b1", "b2", "eps", "max_norm", "input_dropout")


def first_updates(optimizer, steps=3):
    params = mf.init(mf.key(0), [3, 2], dtype="float64")
    state, out = optimizer.init(params), []
    for i in range(steps):
        grads = mf.init(mf.key(10 + i), [3, 2], dtype="float64")
        update, state = optimizer.update(grads, state, params)
        params = mf.apply_updates(params, update)
        out.append(mf.ravel(update))
    return np.stack(out)


def test_a_record_from_before_the_optimizers_constants_loads_with_their_old_values():
    record = {k: v for k, v in Settings()._asdict().items() if k not in NEWER}
    loaded = from_record({**record, "hidden": list(record["hidden"])})
    assert (loaded.nesterov, loaded.b1, loaded.b2, loaded.eps) == (False, 0.9, 0.999, 1e-8)
    assert loaded.max_norm is None and loaded.input_dropout == 0.0
    np.testing.assert_array_equal(
        first_updates(build(loaded, steps_per_epoch=4).optimizer), first_updates(mf.adam(1e-3))
    )


def test_a_run_folder_from_before_them_resumes_bit_identically(tmp_path: Path) -> None:
    settings = TOY_SETTINGS._replace(epochs=3)
    with lifecycle.start(settings, tmp_path / "straight", dataset=toy_dataset()) as run:
        straight, _ = lifecycle.train(run)
    epochs: list[int] = []
    events = lifecycle.Events(
        epoch=lambda run, log: epochs.append(1), stop=lambda: len(epochs) >= 1
    )
    old = tmp_path / "old"
    with lifecycle.start(settings, old, events=events, dataset=toy_dataset()) as run:
        lifecycle.train(run)
    config = json.loads((old / "config.json").read_text())
    config["settings"] = {k: v for k, v in config["settings"].items() if k not in NEWER}
    (old / "config.json").write_text(json.dumps(config))
    (old / "manifest.json").unlink()  # as a version before both left its folders
    assert migrate(old) is not None  # a folder without a manifest is adopted deliberately
    with lifecycle.resume(old, dataset=toy_dataset()) as run:
        resumed, outcome = lifecycle.train(run)
    assert outcome == "finished" and resumed.progress.epoch == 3
    np.testing.assert_array_equal(mf.ravel(resumed.state.params), mf.ravel(straight.state.params))


def test_the_constants_are_flags_and_reach_the_optimizer():
    args = ["--optimizer", "momentum", "--momentum", "0.5", "--nesterov", "--lr", "0.1"]
    s = resolve(build_parser_for_tests().parse_args(args))
    assert s.nesterov is True
    np.testing.assert_array_equal(
        first_updates(build(s, steps_per_epoch=1).optimizer),
        first_updates(mf.momentum(0.1, 0.5, nesterov=True)),
    )
    s = resolve(
        build_parser_for_tests().parse_args(["--b1", "0.8", "--b2", "0.99", "--eps", "1e-4"])
    )
    np.testing.assert_array_equal(
        first_updates(build(s, steps_per_epoch=1).optimizer),
        first_updates(mf.adam(1e-3, 0.8, 0.99, 1e-4)),
    )


def test_max_norm_is_a_flag_that_ends_the_optimizer_and_must_be_positive():
    args = ["--optimizer", "sgd", "--max-norm", "0.4"]
    s = resolve(build_parser_for_tests().parse_args(args))
    assert s.max_norm == 0.4
    np.testing.assert_array_equal(
        first_updates(build(s, steps_per_epoch=1).optimizer),
        first_updates(mf.chain(mf.sgd(0.1), mf.max_norm(0.4))),
    )
    with pytest.raises(SettingsError, match=r"`max_norm` must be a finite number > 0, got 0\.0"):
        check(Settings(max_norm=0.0))


def _stopped_after_one_epoch(settings: Settings, folder: Path) -> None:
    epochs: list[int] = []
    events = lifecycle.Events(
        epoch=lambda run, log: epochs.append(1), stop=lambda: len(epochs) >= 1
    )
    with lifecycle.start(settings, folder, events=events, dataset=toy_dataset()) as run:
        lifecycle.train(run)


def test_input_dropout_is_a_flag_recorded_by_the_run_and_kept_when_it_resumes(
    tmp_path: Path,
) -> None:
    s = resolve(build_parser_for_tests().parse_args(["--input-dropout", "0.2"]))
    assert s.input_dropout == 0.2 and build(s, steps_per_epoch=1).regimen.input_dropout == 0.2
    with pytest.raises(SettingsError, match=r"`input_dropout` must be a number in \[0, 1\)"):
        check(Settings(input_dropout=1.0))
    settings = TOY_SETTINGS._replace(input_dropout=0.2)
    trained = {}
    for name, s in (("straight", settings), ("without", settings._replace(input_dropout=0.0))):
        with lifecycle.start(s, tmp_path / name, dataset=toy_dataset()) as run:
            trained[name] = mf.ravel(lifecycle.train(run)[0].state.params)
    assert not np.allclose(trained["straight"], trained["without"])  # it drops here
    _stopped_after_one_epoch(settings, tmp_path / "stopped")
    config = json.loads((tmp_path / "stopped" / "config.json").read_text())
    assert config["settings"]["input_dropout"] == 0.2
    with lifecycle.resume(tmp_path / "stopped", dataset=toy_dataset()) as run:
        assert run.settings.input_dropout == 0.2
        resumed, outcome = lifecycle.train(run)
    assert outcome == "finished" and resumed.progress.epoch == settings.epochs
    np.testing.assert_array_equal(mf.ravel(resumed.state.params), trained["straight"])


@pytest.mark.parametrize(
    ("hyper", "direct"),
    [
        (
            dict(solver="adam", beta_1=0.8, beta_2=0.99, epsilon=1e-4, alpha=0.1),
            mf.chain(mf.add_l2(0.1), mf.adam(0.01, 0.8, 0.99, 1e-4)),
        ),
        (
            dict(solver="adamw", beta_1=0.5, weight_decay=0.2),
            mf.adamw(0.01, 0.5, 0.999, 1e-8, weight_decay=0.2),
        ),
        (
            dict(solver="momentum", momentum=0.7, nesterovs_momentum=True),
            mf.momentum(0.01, 0.7, nesterov=True),
        ),
        (dict(solver="sgd", alpha=0.5), mf.chain(mf.add_l2(0.5), mf.sgd(0.01))),
        (
            dict(solver="sgd", alpha=0.5, max_norm=0.3),
            mf.chain(mf.add_l2(0.5), mf.sgd(0.01), mf.max_norm(0.3)),
        ),
    ],
)
def test_the_estimators_names_reach_the_same_build(hyper, direct):
    checked = check_settings(MLPClassifier(learning_rate_init=0.01, **hyper).get_params(), 50)
    optimizer, regimen = build(checked.training, steps_per_epoch=1)
    np.testing.assert_array_equal(first_updates(optimizer), first_updates(direct))
    assert regimen.batch_size == 50 and regimen.augment is None


def test_the_estimators_dropout_rates_reach_the_regimen():
    estimator = MLPClassifier(dropout=0.5, input_dropout=0.2, label_smoothing=0.1)
    _, regimen = build(check_settings(estimator.get_params(), 50).training, steps_per_epoch=1)
    assert (regimen.dropout, regimen.input_dropout, regimen.label_smoothing) == (0.5, 0.2, 0.1)


def test_the_estimators_warmup_is_the_runs_rule_over_its_own_epochs():
    """5% of max_iter epochs, turned into steps as a run's warmup_epochs are."""
    estimator = MLPClassifier(
        solver="sgd", learning_rate="warmup_cosine", learning_rate_init=1e-3, max_iter=30
    )
    checked = check_settings(estimator.get_params(), 10).training._replace(batch_size=2)
    as_run = Settings(
        optimizer="sgd", lr=1e-3, epochs=30, batch_size=2, schedule="warmup_cosine"
    )._replace(warmup_epochs=1.5)
    np.testing.assert_array_equal(
        first_updates(build(checked, steps_per_epoch=5).optimizer, steps=12),
        first_updates(build(as_run, steps_per_epoch=5).optimizer, steps=12),
    )
