"""`mlp-functional predict` on .npy arrays and PNG/JPEG files, real digits, bad files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from _cli_util import cli, one_line_error

import mlp_functional as mf
from mlp_functional.data import load
from mlp_functional.runs import load_run

LINE = re.compile(
    r"^(?P<name>.+): (?P<label>\S+) \((?P<p>\d+\.\d)%\)  top (?P<k>\d+): (?P<top>.+)$"
)


@pytest.fixture(scope="module")
def digits(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    test = load("mnist", data_dir=mnist_dir).test
    return np.array(test.images[:200]), np.array(test.labels[:200])


def _parse(stdout: str) -> list[dict[str, str]]:
    lines = stdout.strip().splitlines()
    matches = [LINE.match(line) for line in lines]
    assert all(matches), stdout
    return [m.groupdict() for m in matches if m]


def test_npy_arrays_of_every_accepted_shape(
    run_dir: Path, tmp_path: Path, env: dict[str, str], digits
) -> None:
    images, _ = digits
    np.save(tmp_path / "batch.npy", images[:3])
    np.save(tmp_path / "one.npy", images[0])
    np.save(tmp_path / "flat.npy", images[1].reshape(784).astype(np.float32) / 255)
    np.save(tmp_path / "rows.npy", images[:2].reshape(2, 784))
    args = ("predict", str(run_dir), "batch.npy", "one.npy", "flat.npy", "rows.npy")
    result = cli(*args, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    rows = _parse(result.stdout)
    names = [r["name"] for r in rows]
    batch = ["batch.npy[0]", "batch.npy[1]", "batch.npy[2]"]
    assert names == [*batch, "one.npy", "flat.npy", "rows.npy[0]", "rows.npy[1]"]
    expected = mf.predict(load_run(run_dir).params, images[:3])
    assert [int(r["label"]) for r in rows[:3]] == expected.tolist()
    assert rows[3]["label"] == rows[0]["label"] and rows[4]["label"] == rows[1]["label"]
    for r in rows:  # the top 3 starts with the answer and its probability, in order
        top = re.findall(r"(\S+) (\d+\.\d)%", r["top"])
        assert len(top) == 3 and top[0] == (r["label"], r["p"])
        assert [float(p) for _, p in top] == sorted((float(p) for _, p in top), reverse=True)


def test_images_are_read_like_mnist(
    run_dir: Path, tmp_path: Path, env: dict[str, str], digits
) -> None:
    from PIL import Image

    images, _ = digits
    params = load_run(run_dir).params
    probs = mf.predict_proba(params, images)
    sure = [i for i in range(len(images)) if probs[i].max() > 0.99][:4]
    assert len(sure) == 4
    files = []
    for i in sure:
        # the digit as it is: 28x28 white on black
        Image.fromarray(images[i]).save(tmp_path / f"mnist{i}.png")
        # dark ink on a large white page, off centre, in a JPEG
        page = np.full((480, 360), 250, np.uint8)
        big = np.kron(255 - images[i], np.ones((7, 7), np.uint8))
        page[60 : 60 + 196, 120 : 120 + 196] = np.minimum(big, 250)
        Image.fromarray(page).save(tmp_path / f"page{i}.jpg", quality=90)
        files += [f"mnist{i}.png", f"page{i}.jpg"]
    result = cli("predict", str(run_dir), *files, "--top", "2", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    rows = _parse(result.stdout)
    expected = [str(int(probs[i].argmax())) for i in sure for _ in range(2)]
    assert [r["label"] for r in rows] == expected
    assert all(r["k"] == "2" for r in rows)


def _blank(path: Path) -> None:
    from PIL import Image

    Image.new("L", (50, 50), 200).save(path)


@pytest.mark.parametrize(
    ("make", "name", "message"),
    [
        (None, "missing.png", "missing.png"),
        (None, "missing.npy", "missing.npy: no such file"),
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n garbage"), "bad.png", "bad.png"),
        (_blank, "blank.png", "no ink"),
        (lambda p: p.write_text("1,2,3"), "text.npy", "text.npy: not a .npy file"),
        (
            lambda p: np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True),
            "pickle.npy",
            "not a readable .npy array",
        ),
        (lambda p: np.save(p, np.full((28, 28), 3.0)), "range.npy", "must lie in [0, 1]"),
        (lambda p: np.save(p, np.zeros((28, 28), np.complex64)), "complex.npy", "complex64"),
        (lambda p: np.save(p, np.zeros(5)), "short.npy", "shape (5,) is not a digit"),
        (
            lambda p: p.write_bytes(b"\x93NUMPY" + b"\x01\x00\x76\x00" + b"{" * 10),
            "cut.npy",
            "not a readable .npy array",
        ),
    ],
)
def test_bad_inputs_are_one_line(
    run_dir: Path, tmp_path: Path, env: dict[str, str], make, name: str, message: str
) -> None:
    if make is not None:
        make(tmp_path / name)
    result = cli("predict", str(run_dir), name, cwd=tmp_path, env=env)
    assert message in one_line_error(result)
    assert result.stdout == ""


def test_missing_pillow_names_the_extra(
    run_dir: Path, tmp_path: Path, env: dict[str, str], digits
) -> None:
    fake = tmp_path / "fake"
    (fake / "PIL").mkdir(parents=True)
    (fake / "PIL" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'PIL'\", name='PIL')\n"
    )
    (tmp_path / "d.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    env = {**env, "PYTHONPATH": str(fake)}
    line = one_line_error(cli("predict", str(run_dir), "d.png", cwd=tmp_path, env=env))
    assert "pip install 'mlp-functional[images]'" in line
    np.save(tmp_path / "d.npy", digits[0][0])  # arrays need no Pillow
    assert cli("predict", str(run_dir), "d.npy", cwd=tmp_path, env=env).returncode == 0
