"""Hostile and degenerate inputs to `mlp-functional predict`, each in a temporary folder.

Each ends in one line naming the file, exit status 1, and nothing on stdout; none may
hang (every command runs under a timeout) or run another program.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest
from _cli_util import cli, copy_run, one_line_error

TIMEOUT = 60  # seconds; a FIFO that blocks would otherwise hang the test run


def predict(run_dir: Path, name: str, cwd: Path, env: dict[str, str]) -> str:
    try:
        result = cli("predict", str(run_dir), name, cwd=cwd, env=env, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"predict {name} still running after {TIMEOUT} s")
    assert result.stdout == ""
    return one_line_error(result)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.parametrize("name", ["f.png", "f.npy"])
def test_a_fifo_is_refused_without_blocking(run_dir, tmp_path, env, name):
    os.mkfifo(tmp_path / name)
    line = predict(run_dir, name, tmp_path, env)
    assert f"{name} is a FIFO, not a regular file" in line
    assert stat.S_ISFIFO(os.stat(tmp_path / name).st_mode)


def test_an_eps_named_png_never_reaches_ghostscript(run_dir, tmp_path, env):
    pytest.importorskip("PIL")
    # A stand-in `gs` first on PATH: if Pillow's EPS plugin ran, it would leave a mark.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mark = tmp_path / "ghostscript-ran"
    gs = bin_dir / "gs"
    gs.write_text(f"#!/bin/sh\ntouch '{mark}'\nexit 1\n")
    gs.chmod(0o755)
    eps = (
        "%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\n"
        "0 setgray 10 4 moveto 10 24 lineto 4 setlinewidth stroke\nshowpage\n%%EOF\n"
    )
    (tmp_path / "eps.png").write_text(eps)
    env = {**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}
    line = predict(run_dir, "eps.png", tmp_path, env)
    assert "eps.png is not a PNG/JPEG image" in line
    assert not mark.exists(), "Ghostscript was run"


def test_an_npy_header_declaring_a_huge_shape_is_refused_before_allocating(run_dir, tmp_path, env):
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (100000000000, 28, 28), }"
    header = header.ljust(117) + "\n"
    (tmp_path / "huge.npy").write_bytes(b"\x93NUMPY\x01\x00" + bytes([118, 0]) + header.encode())
    line = predict(run_dir, "huge.npy", tmp_path, env)
    assert "huge.npy: its header declares shape (100000000000, 28, 28)" in line
    assert "(78.4 TB)" in line and "truncated" in line


def test_an_all_zero_array_is_refused_like_a_blank_image(run_dir, tmp_path, env):
    from PIL import Image

    np.save(tmp_path / "zero.npy", np.zeros((28, 28), np.uint8))
    np.save(
        tmp_path / "zeros.npy",
        np.stack([np.full((28, 28), 255, np.uint8), np.zeros((28, 28), np.uint8)]),
    )
    Image.new("L", (50, 50), 0).save(tmp_path / "blank.png")
    array_line = predict(run_dir, "zero.npy", tmp_path, env)
    image_line = predict(run_dir, "blank.png", tmp_path, env)
    assert "zero.npy: the image has no ink" in array_line
    assert array_line.split("zero.npy: ", 1)[1] == image_line.split("blank.png: ", 1)[1]
    assert "zeros.npy[1]: the image has no ink" in predict(run_dir, "zeros.npy", tmp_path, env)


def test_an_empty_array_names_its_file(run_dir, tmp_path, env):
    np.save(tmp_path / "empty.npy", np.zeros((0, 28, 28), np.uint8))
    line = predict(run_dir, "empty.npy", tmp_path, env)
    assert "empty.npy: holds no pixels (shape (0, 28, 28))" in line


def test_weights_too_large_for_finite_outputs_are_refused(run_dir, tmp_path, env):
    import mlp_functional as mf
    from mlp_functional.runs import MODEL_FILE, load_run
    from mlp_functional.runs.checkpoint import save_params

    run = copy_run(run_dir, tmp_path / "huge-weights")
    params = load_run(run).params
    layers = list(params.layers)
    layers[0] = mf.Layer(np.full_like(layers[0].w, 3e38), layers[0].b)
    save_params(run / MODEL_FILE, params._replace(layers=tuple(layers)))
    np.save(tmp_path / "one.npy", np.full((28, 28), 255, np.uint8))
    line = predict(run, "one.npy", tmp_path, env)
    # refused when the run is loaded or before the model is used, naming the model file
    assert str(run) in line and MODEL_FILE in line and "%" not in line
