"""`mlp-functional evaluate` and `fetch` on real MNIST."""

from __future__ import annotations

import json
import re
from pathlib import Path

from _cli_util import cli, one_line_error


def _lines(stdout: str, title: str, rows: int) -> list[str]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    return lines[start + 1 : start + 2 + rows]


def _section(stdout: str, title: str, rows: int) -> list[list[str]]:
    return [line.split() for line in _lines(stdout, title, rows)]


def test_evaluate_reports_accuracy_scores_confusion_and_mistakes(
    run_dir: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    result = cli("evaluate", str(run_dir), "--top", "4", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    m = re.search(r"^Test accuracy: (\d+\.\d\d)% \((\d+)/10000\)$", out, re.M)
    assert m and int(m.group(2)) == round(metrics["test_accuracy"] * 10000)
    scores = _section(out, "Test accuracy", 11)[1:]  # blank line, header, 10 classes
    assert scores[0] == ["class", "precision", "%", "recall", "%", "F1", "%", "support"]
    assert [row[0] for row in scores[1:]] == [str(c) for c in range(10)]
    assert sum(int(row[-1]) for row in scores[1:]) == 10000
    confusion = _section(out, "Confusion matrix", 10)
    assert confusion[0] == ["true\\pred", *(str(c) for c in range(10))]
    counts = [[int(v) for v in row[1:]] for row in confusion[1:]]
    assert sum(map(sum, counts)) == 10000
    assert sum(counts[c][c] for c in range(10)) == int(m.group(2))
    assert len({len(line) for line in _lines(out, "Confusion matrix", 10)}) == 1  # aligned
    mistakes = _section(out, "Most confident mistakes", 4)
    assert mistakes[0] == ["test", "index", "true", "predicted", "confidence"]
    # ">99.9%" sorts above every figure it rounds; never a certain-looking "100.0%"
    confidences = [
        100.0 if row[-1] == ">99.9%" else float(row[-1].rstrip("%")) for row in mistakes[1:]
    ]
    assert all(row[-1].endswith("%") and row[-1] != "100.0%" for row in mistakes[1:])
    assert all(row[1] != row[2] for row in mistakes[1:])
    assert confidences == sorted(confidences, reverse=True) and len(confidences) == 4


def test_fetch_imports_verified_files_into_the_cache(
    mnist_dir: Path, run_dir: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    result = cli("fetch", "--from", str(mnist_dir), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    cache = tmp_path / "cache" / "mnist"
    assert f"mnist: 4 files copied from {mnist_dir} in {cache}" in result.stdout
    assert sorted(p.name for p in cache.iterdir()) == sorted(p.name for p in mnist_dir.glob("*.gz"))
    # the cache alone now serves the data
    offline = {k: v for k, v in env.items() if k != "MLP_FUNCTIONAL_DATA"}
    assert cli("evaluate", str(run_dir), cwd=tmp_path, env=offline).returncode == 0


def test_fetch_imports_from_the_data_folder_instead_of_downloading(
    mnist_dir: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    result = cli("fetch", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert f"copied from {mnist_dir}" in result.stdout
    assert len(list((tmp_path / "cache" / "mnist").iterdir())) == 4


def test_fetch_refuses_a_wrong_file(mnist_dir: Path, tmp_path: Path, env: dict[str, str]) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for f in mnist_dir.glob("*.gz"):
        (source / f.name).write_bytes(f.read_bytes())
    labels = source / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-20])
    line = one_line_error(cli("fetch", "--from", str(source), cwd=tmp_path, env=env))
    assert "t10k-labels-idx1-ubyte.gz" in line
    assert not (tmp_path / "cache" / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()
