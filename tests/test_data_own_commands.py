"""Every command on your own data: scikit-learn's 8x8 digits written as a CSV, an .npz and
an image folder, each trained with `mlp-functional train --data`, then evaluated,
reported on, predicted with and (refused by) serve; resume refuses changed data."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _own_data_util import as_csv, as_folder, as_npz, scaled

from mlp_functional.cli.main import main

datasets = pytest.importorskip("sklearn.datasets")
PIL = pytest.importorskip("PIL.Image")

#: Quick settings: the digits train to about 95% in a second or two.
QUICK = ("--hidden", "64", "--epochs", "8", "--lr", "0.01", "--batch-size", "64", "--quiet")


def command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlp_functional", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 1) -> str:
    """Run ``argv`` in process; assert it fails with ``code`` and one line on stderr."""
    try:
        status = main(argv)
    except SystemExit as e:  # usage errors leave through argparse
        status = int(e.code or 0)
    err = capsys.readouterr().err.strip().splitlines()
    assert status == code and len(err) == 1, (status, err)
    assert err[0].startswith("mlp-functional") and "Traceback" not in err[0]
    return err[0]


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    bunch = datasets.load_digits()
    return bunch.images.astype(np.uint8), bunch.target.astype(np.int64)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, digits) -> dict[str, tuple[Path, Path]]:
    """Each form, and the run `train --data` trained on it: {"csv": (data, run), ...}."""
    root = tmp_path_factory.mktemp("own")
    trained = {}
    for form, write in (("csv", as_csv), ("npz", as_npz), ("images", as_folder)):
        data = write(root, *digits)
        result = command("train", "--data", str(data), "--out", f"run_{form}", *QUICK, cwd=root)
        assert result.returncode == 0, result.stderr
        assert "Test accuracy" in result.stdout
        trained[form] = (data, root / f"run_{form}")
    return trained


@pytest.mark.parametrize("form", ["csv", "npz", "images"])
def test_train_records_the_source_and_evaluate_names_the_classes(runs, form, capsys):
    data, run = runs[form]
    config = json.loads((run / "config.json").read_text())
    source = config["data"]["source"]
    assert source["path"] == str(data.absolute()) and len(source["sha256"]) == 64
    assert source["shape"] == ([1797, 8, 8] if form != "csv" else [1797, 64])
    assert config["settings"]["data"] == str(data) and config["settings"]["dataset"] is None
    assert config["data"]["classes"] == [str(d) for d in range(10)]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.9, metrics

    assert main(["evaluate", str(run)]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("Test accuracy: ")[1].split("%")[0]) / 100
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-4)
    assert f"evaluated on {data.name} test" in out


@pytest.mark.parametrize("form", ["csv", "images"])
def test_report_draws_image_grids_for_images_only(runs, form, capsys, tmp_path):
    pytest.importorskip("matplotlib")
    _, run = runs[form]
    assert main(["report", str(run), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    drawn = {p.name for p in tmp_path.glob("*.png")}
    if form == "csv":
        assert "note: no samples.png, mistakes.png, weights.png" in out
        assert drawn == {"curves.png", "confusion.png"}
    else:
        assert {"samples.png", "mistakes.png", "weights.png"} <= drawn


def test_predict_reads_csv_rows_and_images_like_the_training_data(runs, digits, capsys, tmp_path):
    images, labels = digits
    rows = tmp_path / "rows.csv"
    np.savetxt(rows, images[:20].reshape(20, -1), fmt="%d", delimiter=",")
    for form in ("csv", "npz"):
        assert main(["predict", str(runs[form][1]), str(rows), "--top", "1"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert [line.split(": ")[0] for line in lines] == [f"{rows}[{i}]" for i in range(20)]
        said = [int(line.split(": ")[1].split(" ")[0]) for line in lines]
        assert np.mean(np.array(said) == labels[:20]) >= 0.8
    # an image folder's run decodes a PNG exactly as training did (8x8 grayscale)
    pngs = []
    for i in range(20):
        pngs.append(tmp_path / f"{i}.png")
        PIL.fromarray(scaled(images[i])).convert("RGB").save(pngs[-1])
    assert main(["predict", str(runs["images"][1]), *map(str, pngs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    said = [int(line.split(": ")[1].split(" ")[0]) for line in lines]
    assert np.mean(np.array(said) == labels[:20]) >= 0.8


def test_bad_inputs_to_predict_are_one_line(runs, capsys, tmp_path):
    (tmp_path / "wide.csv").write_text("1,2,3\n4,5,6\n")
    PIL.new("L", (9, 8)).save(tmp_path / "odd.png")
    (tmp_path / "text.png").write_text("not an image")
    table, images = str(runs["csv"][1]), str(runs["images"][1])
    cases = [
        ([table, str(tmp_path / "wide.csv")], "wide.csv: rows of 3 features, the model reads 64"),
        ([table, str(tmp_path / "odd.png")], "trained on rows of 64 features"),
        ([images, str(tmp_path / "odd.png")], "odd.png: a 8x9 image, the run was trained on 8x8"),
        ([images, str(tmp_path / "text.png")], "text.png: not an image Pillow can read"),
        ([images, str(tmp_path / "gone.png")], "gone.png: no such file"),
        ([images, str(tmp_path / "a.npy")], "a.npy: .npy arrays are read for runs on 28x28"),
    ]
    for argv, expected in cases:
        assert expected in one_line(capsys, ["predict", *argv])


def test_serve_refuses_runs_not_on_28x28_grayscale_images(runs, capsys):
    for form, what in (("csv", "rows of 64 features"), ("images", "8x8 images")):
        line = one_line(capsys, ["serve", str(runs[form][1]), "--port", "0"])
        assert f"trained on {what}" in line and "28x28 grayscale" in line


def test_resume_refuses_changed_data_and_follows_moved_data(runs, tmp_path, capsys):
    data, run = runs["csv"]
    copy, moved = tmp_path / "run", tmp_path / "moved.csv"
    shutil.copytree(run, copy)
    shutil.copy(data, moved)
    changed = tmp_path / "changed.csv"
    changed.write_text(data.read_text().replace("\n0,", "\n1,", 1))
    line = one_line(capsys, ["train", "--resume", str(copy), "--data", str(changed)])
    assert f"{changed}: SHA-256" in line and "the data the run was trained on" in line
    assert main(["train", "--resume", str(copy), "--data", str(moved), "--epochs", "9"]) == 0
    config = json.loads((copy / "config.json").read_text())
    assert config["data"]["source"]["path"] == str(moved) and len(config["data"]["source"])
    capsys.readouterr()
    line = one_line(capsys, ["train", "--resume", str(copy), "--data-dir", str(tmp_path)])
    assert "--data-dir is for built-in datasets" in line


def test_a_folder_without_a_source_record_still_loads(runs, tmp_path, capsys):
    """A run folder of the previous version: settings without the own-data fields."""
    _, run = runs["npz"]
    copy = tmp_path / "old"
    shutil.copytree(run, copy)
    for name in ("manifest.json",):
        (copy / name).unlink(missing_ok=True)
    config = json.loads((copy / "config.json").read_text())
    for field in ("data", "label_column", "test_size", "color", "image_size", "skip_bad"):
        del config["settings"][field]
    config["settings"]["dataset"] = "mnist"
    (copy / "config.json").write_text(json.dumps(config))
    from mlp_functional.runs import load_run
    from mlp_functional.runs.migrate import migrate
    from mlp_functional.runs.settings import from_record

    assert migrate(copy) is not None  # adopted: its state reads with the old settings
    settings = from_record(load_run(copy).config["settings"])
    assert settings.data is None and settings.test_size == 0.2 and settings.image_size is None


def test_skipped_files_are_counted(tmp_path, digits):
    images, labels = digits
    root = as_folder(tmp_path, images[:200], labels[:200])
    (root / "3" / "notes.txt").write_text("not an image")
    argv = ("train", "--data", str(root), "--out", "run", "--hidden", "8", "--epochs", "1")
    refused = command(*argv, "--quiet", cwd=tmp_path)
    assert refused.returncode == 1 and "pass --skip-bad" in refused.stderr
    assert not (tmp_path / "run").exists()
    result = command(*argv, "--skip-bad", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "skipped 1 file(s) that are not images (the first: 3/notes.txt)" in result.stderr
    source = json.loads((tmp_path / "run" / "config.json").read_text())["data"]["source"]
    assert source["skipped"] == ["3/notes.txt"] and source["options"]["skip_bad"] is True


def test_train_errors_are_one_line(runs, capsys, tmp_path):
    csv, folder = str(runs["csv"][0]), str(runs["images"][0])
    out = ["--out", str(tmp_path / "never")]
    usage = [
        (["--data", csv, "--dataset", "mnist"], "--data and --dataset are two sources of data"),
        (["--color"], "--color applies to your own data only; give --data"),
        (["--test-size", "0.3"], "--test-size applies to your own data only"),
        (["--data", csv, "--data-dir", str(tmp_path)], "--data-dir holds a built-in dataset"),
        (["--data", csv, "--test-size", "1.5"], "--test-size: must be a number in (0, 1)"),
        (["--data", folder, "--image-size", "8"], "--image-size: image size must be HxW"),
        (["--data", csv, "--augment", "affine"], "--augment affine works on 28x28 grayscale"),
        (["--data", csv, "--recipe", "best"], "--augment affine+elastic (from --recipe best)"),
    ]
    for argv, expected in usage:
        assert expected in one_line(capsys, ["train", *argv, *out], code=2)
    failures = [
        (["--data", csv, "--color"], "--color, --image-size and --skip-bad apply to image"),
        (["--data", folder, "--label-column", "x"], "--label-column applies to tables"),
        (["--data", csv, "--label-column", "nope"], "no column named 'nope'"),
        (["--data", str(tmp_path / "none.csv")], "none.csv: no such file or folder"),
    ]
    for argv, expected in failures:
        assert expected in one_line(capsys, ["train", *argv, *out])
    assert not (tmp_path / "never").exists()
