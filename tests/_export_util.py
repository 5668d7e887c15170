"""A table run for the export tests: a CSV of three insect species, standardised by train."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _cli_util import cli

SPECIES = ("ant", "bee", "cicada")
_RUNS: dict[str, Path] = {}


def insects_csv(folder: Path) -> Path:
    """Three species told apart by length; a noise column and a mass column on scales far
    from 1 (so the recorded standardisation matters)."""
    rng = np.random.default_rng(0)
    rows = [
        f"{SPECIES[i % 3]},{(i % 3) * 40 + rng.normal(0, 5):.4f},{rng.random() * 1000:.4f},"
        f"{rng.normal(5, 0.01):.5f}"
        for i in range(150)
    ]
    path = folder / "insects.csv"
    path.write_text("species_name,length,noise,mass\n" + "\n".join(rows) + "\n")
    return path


def table_run(root: Path, env: dict[str, str]) -> Path:
    """A run trained once per test process on :func:`insects_csv` (copy it to change it)."""
    key = str(root)
    if key not in _RUNS:
        folder = root / "insects"
        folder.mkdir(exist_ok=True)
        csv = insects_csv(folder)
        result = cli(
            "train",
            "--data",
            str(csv),
            "--label-column",
            "species_name",
            "--hidden",
            "16",
            "--epochs",
            "30",
            "--batch-size",
            "16",
            "--lr",
            "0.01",
            "--quiet",
            "--out",
            str(folder / "run"),
            cwd=folder,
            env=env,
        )
        assert result.returncode == 0, result.stderr
        _RUNS[key] = folder / "run"
    return _RUNS[key]
