"""``scripts/run_recipes.py``: the script that writes the README's results table.

It trains the ``seed`` recipe (one sigmoid layer, a few seconds a seed) on real MNIST
with the real command, into a temporary copy of the repository's layout, and checks the
table it writes against figures computed here from the saved models: each seed's test
accuracy, their mean and spread, and the committee's accuracy from the members' own
probabilities. A second run must read the finished seeds instead of training them again.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import pytest

import mlp_functional as mf
from mlp_functional.data import load
from mlp_functional.runs import load_run

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "run_recipes.py"
ONE_IMAGE = 1 / 10_000 + 1e-12
README = "# Results\n\n<!-- recipes:start -->\nold table\n<!-- recipes:end -->\n\nAfter.\n"


@pytest.fixture
def script(tmp_path, mnist_dir, monkeypatch):
    """The script as a module whose repository root is ``tmp_path``."""
    spec = importlib.util.spec_from_file_location("run_recipes_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setenv("MLP_FUNCTIONAL_DATA", str(mnist_dir.parent))
    # the script's training processes: two BLAS threads on a machine whose other core is
    # busy wait for each other (a seed took 42 s instead of 3 s beside another job)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(README)
    return module


def _main(script, monkeypatch, *argv):
    monkeypatch.setattr(sys, "argv", ["run_recipes.py", *argv])
    script.main()
    return json.loads((script.ROOT / "docs" / "recipes.json").read_text())


def _test_accuracy(params, test):
    predicted = mf.predict_proba(params, test.images, engine="textbook").argmax(axis=1)
    return float(np.mean(predicted == test.labels))


def test_the_table_holds_each_seed_their_mean_and_the_committee(script, monkeypatch):
    results = _main(script, monkeypatch, "seed", "--seeds", "2", "--committee")
    test = load("mnist").test
    folders = [script.ROOT / "runs" / "recipes" / "seed" / f"seed-{s}" for s in (0, 1)]
    members = [load_run(folder).params for folder in folders]
    by_hand = [_test_accuracy(p, test) for p in members]
    assert by_hand[0] != by_hand[1]  # two seeds, two networks: the mean is not trivial

    row = results["seed"]
    assert [s["seed"] for s in row["seeds"]] == [0, 1]
    recorded = [s["test_accuracy"] for s in row["seeds"]]
    # the run scored with the fast engine, this with the textbook's: one image of 10,000
    # may fall the other way where two classes' probabilities tie to float32's precision
    np.testing.assert_allclose(recorded, by_hand, atol=ONE_IMAGE)
    assert row["test_accuracy"] == pytest.approx(statistics.fmean(recorded), abs=1e-12)
    assert row["test_accuracy_sd"] == pytest.approx(abs(recorded[0] - recorded[1]) / 2**0.5)
    assert row["architecture"] == "784-64-10 sigmoid" and row["epochs"] == 10

    mean_proba = np.mean(
        [mf.predict_proba(p, test.images, engine="textbook") for p in members], axis=0
    )
    committee = results["seed (committee)"]
    assert committee["committee"] == [0, 1]
    assert committee["test_accuracy"] == pytest.approx(
        float(np.mean(mean_proba.argmax(axis=1) == test.labels)), abs=ONE_IMAGE
    )

    readme = (script.ROOT / "README.md").read_text()
    assert "old table" not in readme and readme.endswith("<!-- recipes:end -->\n\nAfter.\n")
    line = next(x for x in readme.splitlines() if x.startswith("| `seed` |"))
    shown = [f"{s}: {100 * a:.2f}%" for s, a in enumerate(recorded)]
    assert all(figure in line for figure in shown)
    assert f"{100 * statistics.fmean(recorded):.2f}% ± " in line
    assert "| `seed`, committee | mnist | 2 x 784-64-10 sigmoid |" in readme
    assert (script.ROOT / "docs" / "recipes.md").read_text().count("| `seed`") == 2


def test_finished_seeds_are_read_not_trained_again(script, monkeypatch):
    first = _main(script, monkeypatch, "seed", "--seeds", "1")

    def no_training(*args, **kwargs):
        raise AssertionError(f"trained again: {args}")

    monkeypatch.setattr(script.subprocess, "run", no_training)
    again = _main(script, monkeypatch, "seed", "--seeds", "1")
    assert again["seed"]["seeds"] == first["seed"]["seeds"]
    folder = script.ROOT / "runs" / "recipes" / "seed" / "seed-0"
    assert script.state_of(folder, "seed", 0) == "finished"
    assert script.state_of(folder, "seed", 1) == "other"  # another seed's settings
    assert script.state_of(folder, "quick", 0) == "other"  # another recipe's


def test_a_recipe_that_holds_out_no_validation_shows_none(script, tmp_path):
    folder = tmp_path / "runs" / "recipes" / "seed" / "seed-0"
    command = [sys.executable, "-m", "mlp_functional", "train", "--recipe", "seed"]
    command += ["--epochs", "1", "--val-size", "0", "--out", str(folder)]
    script.subprocess.run(command, check=True, capture_output=True)

    row = script.recipe_row("seed", [(folder, True)], None)
    test = load("mnist").test
    assert row["val_accuracy"] is None and row["seeds"][0]["val_accuracy"] is None
    by_hand = _test_accuracy(load_run(folder).params, test)
    assert row["test_accuracy"] == pytest.approx(by_hand, abs=ONE_IMAGE)
    line = next(x for x in script.table([row]).splitlines() if x.startswith("| `seed` |"))
    assert f"| {100 * row['train_accuracy']:.2f}% | none held out |" in line
