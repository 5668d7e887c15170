"""A committee of networks: the mean of their class probabilities, as a function and as
``mlp-functional evaluate RUN_DIR RUN_DIR ...``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from _cli_util import QUICK, cli

import mlp_functional as mf
from mlp_functional.data import load
from mlp_functional.runs import load_run


def members(k, sizes=(6, 5, 3)):
    return [mf.init(mf.key(i), list(sizes)) for i in range(k)]


@pytest.mark.parametrize("engine", ["fast", "textbook"])
def test_a_committee_is_the_mean_of_its_members_softmax(engine):
    x = np.random.default_rng(0).standard_normal((7, 6)).astype(np.float32)
    group = members(3)
    by_hand = np.mean([mf.softmax(mf.forward(p, x)) for p in group], axis=0)
    got = mf.committee_proba(group, x, engine=engine)
    np.testing.assert_allclose(got, by_hand, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5)
    assert not got.flags.writeable


def test_a_committee_of_one_is_that_network():
    x = np.random.default_rng(1).standard_normal((4, 6))
    (one,) = members(1)
    assert np.array_equal(mf.committee_proba([one], x), mf.predict_proba(one, x))


@pytest.mark.parametrize(
    ("group", "message"),
    [
        ([], "at least one member"),
        ([*members(1), *members(1, (6, 5, 4))], r"same classes, got .*\(6, 3\), \(6, 4\)"),
        ([*members(1), *members(1, (7, 5, 3))], r"same inputs.*\(6, 3\), \(7, 3\)"),
    ],
)
def test_a_committee_refuses_members_that_do_not_agree(group, message):
    with pytest.raises(ValueError, match=message):
        mf.committee_proba(group, np.zeros((1, 6)))


def test_evaluate_of_several_runs_reports_each_and_their_committee(
    run_dir: Path, mnist_dir: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    other = tmp_path / "other"
    trained = cli(
        "train", *QUICK, "--epochs", "1", "--seed", "7", "--out", str(other), cwd=tmp_path, env=env
    )
    assert trained.returncode == 0, trained.stderr
    result = cli("evaluate", str(run_dir), str(other), "--top", "3", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    alone = [int(c) for c in re.findall(r"^  alone: \d+\.\d\d% \((\d+)/10000\)$", out, re.M)]
    expected = [
        round(json.loads((folder / "metrics.json").read_text())["test_accuracy"] * 10000)
        for folder in (run_dir, other)
    ]
    assert alone == expected
    assert "Committee of 2 (the mean of their class probabilities)" in out
    committee = int(re.search(r"^Test accuracy: \d+\.\d\d% \((\d+)/10000\)$", out, re.M).group(1))
    test = load("mnist", data_dir=mnist_dir).test
    probs = [mf.predict_proba(load_run(f).params, test.images) for f in (run_dir, other)]
    assert committee == int((np.mean(probs, axis=0).argmax(axis=1) == test.labels).sum())
