"""`mlp-functional report`: PNG figures and an index page, or one line without matplotlib."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from _cli_util import cli, copy_run, one_line_error

from mlp_functional.cli.report import FIGURES


def test_report_writes_valid_pngs_and_an_index(
    run_dir: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    from PIL import Image

    folder = copy_run(run_dir, tmp_path / "r")
    result = cli("report", str(folder), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    out = folder / "report"
    assert f"report written to {out / 'index.html'}" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [name for name, _ in FIGURES] + ["index.html"]
    )
    for name, _ in FIGURES:
        with Image.open(out / name) as im:
            assert im.format == "PNG"
            im.verify()
        with Image.open(out / name) as im:
            assert im.width >= 400 and im.height >= 200
            assert len(np.unique(np.asarray(im.convert("L")))) > 10  # not a blank canvas
    page = (out / "index.html").read_text()
    assert sorted(re.findall(r'<img src="([^"]+)"', page)) == sorted(n for n, _ in FIGURES)
    assert re.search(r"<th>Test accuracy</th><td>\d+\.\d\d%</td>", page)


def test_report_out_option(run_dir: Path, tmp_path: Path, env: dict[str, str]) -> None:
    result = cli("report", str(run_dir), "--out", "elsewhere", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "elsewhere" / "index.html").is_file()
    assert not (run_dir / "report").exists()


def test_missing_matplotlib_is_one_line_and_writes_nothing(
    run_dir: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    fake = tmp_path / "fake" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'matplotlib'\", name='matplotlib')\n"
    )
    env = {**env, "PYTHONPATH": str(fake.parent)}
    result = cli("report", str(run_dir), "--out", "rep", cwd=tmp_path, env=env)
    assert "pip install 'mlp-functional[plot]'" in one_line_error(result)
    assert not (tmp_path / "rep").exists()
