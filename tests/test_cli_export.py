"""`mlp-functional export`: where files go, and bad input refused in one line with nothing
half-written."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest
from _cli_util import cli, copy_run, one_line_error
from _export_util import table_run

from mlp_functional.cli.main import main

ort = pytest.importorskip("onnxruntime")


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def only_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlp-functional: error: "), err
    return lines[0]


def test_onnx_goes_to_the_run_folders_export_folder_by_default(run_dir, tmp_path, env):
    run = copy_run(run_dir, tmp_path / "run")
    result = cli("export", str(run), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    out = run / "export" / "model.onnx"
    assert f"onnx written to {out}" in result.stdout
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["probabilities", "label"]
    # A folder given to --out gets the format's file name.
    again = cli(
        "export", str(run), "--format", "html", "--out", str(tmp_path), cwd=tmp_path, env=env
    )
    assert again.returncode == 0 and (tmp_path / "model.html").is_file()


def test_a_run_folder_that_fails_its_manifest_is_refused(run_dir, tmp_path, env):
    run = copy_run(run_dir, tmp_path / "run")
    model = run / "model.safetensors"
    data = bytearray(model.read_bytes())
    data[-1] ^= 0xFF
    model.write_bytes(bytes(data))
    for kind in ("onnx", "html", "card"):
        line = one_line_error(cli("export", str(run), "--format", kind, cwd=tmp_path, env=env))
        assert "model.safetensors" in line
    assert not (run / "export").exists()


def test_an_unknown_format_is_a_usage_error(run_dir, tmp_path, env):
    line = one_line_error(cli("export", str(run_dir), "--format", "pdf", cwd=tmp_path, env=env), 2)
    assert "invalid choice: 'pdf'" in line and "onnx" in line


def test_a_write_to_a_read_only_folder_leaves_nothing(run_dir, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").touch()  # the superuser writes anyway: have the system refuse
        (folder / "probe").unlink()
        from mlp_functional import files

        def read_only(src, dst):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dst))

        monkeypatch.setattr(files.os, "replace", read_only)
    except PermissionError:
        pass
    out = folder / "model.onnx"
    assert main(["export", str(run_dir), "--out", str(out)]) == 1
    line = only_line(capsys)
    assert str(folder) in line and "check the path and its permissions" in line
    folder.chmod(0o755)
    assert files_in(folder) == []  # no model.onnx, and no hidden .part file either


def test_a_missing_extra_is_named_in_one_line(run_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now fails
    out = tmp_path / "model.onnx"
    assert main(["export", str(run_dir), "--out", str(out)]) == 1
    line = only_line(capsys)
    assert "onnx is not installed" in line and "pip install 'mlp-functional[onnx]'" in line
    assert not out.exists()


def test_the_page_refuses_a_table_run(tmp_path_factory, tmp_path, env, capsys):
    run = table_run(tmp_path_factory.getbasetemp(), env)
    out = tmp_path / "page.html"
    assert main(["export", str(run), "--format", "html", "--out", str(out)]) == 1
    line = only_line(capsys)
    assert "reads 3 inputs" in line and "--format onnx instead" in line
    assert not out.exists()
