"""The model card: a Hugging Face README.md whose figures are checked independently."""

from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pytest
from _export_util import table_run

import mlp_functional as mf
from mlp_functional.cli.main import main
from mlp_functional.data import load
from mlp_functional.runs import load_run

yaml = pytest.importorskip("yaml")
sklearn_metrics = pytest.importorskip("sklearn.metrics")


def split_card(text: str) -> tuple[dict, str]:
    assert text.startswith("---\n")
    header, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(header), body


def class_rows(body: str) -> dict[str, list[str]]:
    """The per-class table: class name -> its cells."""
    table = body.split("| class | precision | recall | F1 | support |", 1)[1]
    rows = [line for line in table.strip().splitlines()[1:] if line.startswith("|")]
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    return {row[0]: row[1:] for row in cells}


def test_the_card_of_an_mnist_run(run_dir, mnist_dir, tmp_path, capsys):
    out = tmp_path / "README.md"
    assert main(["export", str(run_dir), "--format", "card", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    header, body = split_card(out.read_text("utf-8"))
    run = load_run(run_dir)
    test = load("mnist", data_dir=mnist_dir.parent).test
    predicted = mf.predict(run.params, test.images)
    accuracy = float(np.mean(predicted == test.labels))

    assert header["license"] == "mit" and "image-classification" in header["tags"]
    assert header["datasets"] == ["ylecun/mnist"]
    assert set(header["metrics"]) == {"accuracy", "precision", "recall", "f1"}
    result = header["model-index"][0]["results"][0]
    assert result["dataset"]["split"] == "test"
    metrics = {m["type"]: m["value"] for m in result["metrics"]}
    assert metrics["accuracy"] == pytest.approx(accuracy, abs=1e-6)

    # Per class, as scikit-learn computes them (an independent implementation).
    precision, recall, f1, support = sklearn_metrics.precision_recall_fscore_support(
        test.labels, predicted, labels=range(10), zero_division=0
    )
    rows = class_rows(body)
    assert sorted(rows) == [str(d) for d in range(10)]
    for c in range(10):
        want = [f"{100 * v:.2f}" for v in (precision[c], recall[c], f1[c])] + [str(support[c])]
        assert rows[str(c)] == want
    assert metrics["f1"] == pytest.approx(float(np.mean(f1)), abs=1e-6)

    # The data's source and the SHA-256 of each decompressed file, hashed here again.
    for path in sorted(mnist_dir.glob("*.gz")):
        digest = hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()
        assert f"| {path.name} | `{digest}` |" in body
    assert "ossci-datasets" in body
    for setting, value in run.config["settings"].items():
        assert f"| {setting} | `{json.dumps(value)}` |" in body, setting
    assert "## Intended use" in body and "not built or tested for decisions about people" in body
    assert "![" not in body and "<img" not in body  # nothing to fetch: reads the same offline


def test_the_card_of_a_table_run_names_its_file_and_checksum(tmp_path_factory, env, tmp_path):
    run_dir = table_run(tmp_path_factory.getbasetemp(), env)
    out = tmp_path / "card.md"
    assert main(["export", str(run_dir), "--format", "card", "--out", str(out)]) == 0
    header, body = split_card(out.read_text("utf-8"))
    source = load_run(run_dir).config["data"]["source"]
    assert "tabular-classification" in header["tags"] and "datasets" not in header
    assert f"`{source['sha256']}`" in body and source["path"] in body
    assert sorted(class_rows(body)) == ["ant", "bee", "cicada"]
    assert "standardised in the graph" in body
