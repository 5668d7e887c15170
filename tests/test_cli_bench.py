"""``mlp-functional bench``: the table it prints, and peers that are missing."""

from __future__ import annotations

import re
from pathlib import Path

from _cli_util import cli

from mlp_functional.bench.epoch import epoch_flops


def test_epoch_flops_counts_every_product_of_an_epoch() -> None:
    # 2 flops per multiply-add: forward 4*3 + 3*2, weight gradients the same, and the
    # delta of the second layer only (3*2), for each of 10 examples.
    assert epoch_flops([4, 3, 2], 10) == 2 * (12 + 6 + 12 + 6 + 6) * 10


def test_bench_prints_the_floor_the_ratio_and_peak_memory(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = cli(
        "--threads", "1", "bench", "--hidden", "8", "--repeats", "1", cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "one epoch of 784-8-10 ReLU on MNIST (60000 images)" in out
    assert re.search(r"BLAS .*1 threads", out)
    floor = float(re.search(r"matmul floor \(epoch\)\s*\| ([\d.]+) s", out).group(1))
    ours = float(re.search(r"fast engine epoch\s*\| ([\d.]+) s", out).group(1))
    ratio = float(re.search(r"\| ([\d.]+)x floor", out).group(1))
    assert floor > 0 and ours > 0
    # With one round the ratio is ours / floor, up to the table's rounding (0.0005 s each).
    low, high = (ours - 5e-4) / (floor + 5e-4), (ours + 5e-4) / (floor - 5e-4)
    assert low - 0.005 <= ratio <= high + 0.005
    # Ours is held to 95% on the test set like every peer: its figure is printed beside.
    accuracy = re.search(r"test accuracy ([\d.]+)% after (\d+) epochs", out)
    assert accuracy is not None and int(accuracy.group(2)) == 2  # the warm-up and one round
    assert 80 < float(accuracy.group(1)) <= 100  # 784-8-10 learns MNIST in two epochs
    kernels = re.search(r"fast engine kernels\s*\| (\w+) \| ([^|]*)\|", out)
    assert kernels is not None and kernels.group(1) == "native"  # make test builds them
    assert "compiled C" in kernels.group(2)
    peak = float(re.search(r"peak memory, default train\s*\| (\d+) MB", out).group(1))
    assert 20 < peak < 2000


def test_missing_peers_are_reported_in_one_line_each(env: dict[str, str], tmp_path: Path) -> None:
    fake = tmp_path / "fake"
    for name in ("sklearn", "torch", "optax"):
        (fake / name).mkdir(parents=True)
        (fake / name / "__init__.py").write_text(f"raise ImportError('no {name} here')\n")
    env = {**env, "PYTHONPATH": str(fake)}
    result = cli(
        "bench",
        "--hidden",
        "8",
        "--repeats",
        "1",
        "--no-memory",
        "--compare",
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    extra = "pip install 'mlp-functional[compare]'"
    assert lines == [
        f"scikit-learn: skipped, scikit-learn is not installed: {extra}",
        "pytorch: skipped, PyTorch is not installed: pip install torch",
        "jax: skipped, JAX is not installed: pip install 'mlp-functional[jax]'",
    ]
    assert "scikit-learn epoch" not in result.stdout
