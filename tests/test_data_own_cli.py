"""evaluate and report on runs trained on the user's own data (a table, colour images)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import toolz

import mlp_functional as mf
from mlp_functional.cli.main import main
from mlp_functional.data import Dataset, load_data, source_record
from mlp_functional.runs import CONFIG_FILE, MODEL_FILE
from mlp_functional.runs.checkpoint import encode_params
from mlp_functional.runs.commit import commit
from mlp_functional.runs.folder import json_bytes

PIL = pytest.importorskip("PIL.Image")
pytest.importorskip("matplotlib")

SPECIES = ("ant", "bee", "cicada")


def species_csv(folder: Path) -> Path:
    """Three species told apart by their first feature; a second feature is noise."""
    rng = np.random.default_rng(0)
    rows = [
        f"{SPECIES[i % 3]},{(i % 3) * 0.4 + rng.normal(0, 0.05):.4f},{rng.random():.4f}"
        for i in range(90)
    ]
    path = folder / "insects.csv"
    path.write_text("species_name,length,noise\n" + "\n".join(rows) + "\n")
    return path


def colour_folder(folder: Path) -> Path:
    root = folder / "swatches"
    for name, rgb in (("blue", (0, 0, 200)), ("red", (200, 0, 0))):
        (root / name).mkdir(parents=True)
        for i in range(10):
            PIL.new("RGB", (4, 3), tuple(min(255, c + 5 * i) for c in rgb)).save(
                root / name / f"{i}.png"
            )
    return root


def write_run(folder: Path, data: Dataset) -> Path:
    """A run folder as train writes one for own data: the model and the data's record."""
    sizes = [data.train.images[0].size, 16, len(data.classes)]
    state = mf.init_state(mf.key(1), mf.init(mf.key(0), sizes), mf.adam(1e-2))
    state, _ = toolz.last(
        mf.fit(state, data.train.images, data.train.labels, epochs=40, batch_size=8)
    )
    folder.mkdir()
    assert data.source is not None
    config = {
        "model": {"sizes": sizes, "activation": "relu", "dtype": "float32"},
        "data": {
            "name": data.name,
            "classes": list(data.classes),
            "source": source_record(data.source),
        },
    }
    files = {CONFIG_FILE: json_bytes(config), MODEL_FILE: encode_params(state.params)}
    commit(folder, files, epoch=40)
    return folder


@pytest.fixture
def insects_run(tmp_path: Path) -> tuple[Path, Path]:
    """The insects table and a run trained on it, labelled by its species_name column."""
    path = species_csv(tmp_path)
    return path, write_run(tmp_path / "run", load_data(path, label_column="species_name"))


def test_evaluate_names_the_classes_of_a_table(insects_run, capsys):
    _, run = insects_run
    assert main(["evaluate", str(run)]) == 0
    out = capsys.readouterr().out
    assert "evaluated on insects.csv test" in out
    assert re.search(r"^Test accuracy: 100\.00% \(18/18\)$", out, re.M)
    table = out.split("Confusion matrix")[0]
    assert [line.split()[0] for line in table.strip().splitlines()[-3:]] == list(SPECIES)
    confusion = out.split("Confusion matrix (rows: true label, columns: predicted label)\n")[1]
    header, *rows = confusion.splitlines()[:4]
    assert header.split() == ["true\\pred", *SPECIES]
    assert [row.split() for row in rows] == [
        ["ant", "6", "0", "0"],
        ["bee", "0", "6", "0"],
        ["cicada", "0", "0", "6"],
    ]


def test_evaluate_refuses_changed_data_in_one_line(insects_run, capsys):
    path, run = insects_run
    path.write_text(path.read_text().replace("ant,", "bee,", 1))
    assert main(["evaluate", str(run)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert re.fullmatch(r"mlp-functional: error: .*insects\.csv: SHA-256 .* differs .*", err)


def test_report_skips_image_figures_for_tables_with_a_note(insects_run, capsys):
    _, run = insects_run
    assert main(["report", str(run)]) == 0
    out = capsys.readouterr().out
    assert "note: no samples.png, mistakes.png, weights.png: the data are a table" in out
    written = sorted(p.name for p in (run / "report").iterdir())
    assert written == ["confusion.png", "curves.png", "index.html"]


def test_report_draws_colour_images(tmp_path, capsys):
    run = write_run(tmp_path / "run", load_data(colour_folder(tmp_path), color=True))
    assert main(["report", str(run)]) == 0
    assert "no weights.png: colour images" in capsys.readouterr().out
    with PIL.open(run / "report" / "samples.png") as im:
        pixels = np.asarray(im.convert("RGB")).reshape(-1, 3).astype(int)
    reddish = (pixels[:, 0] > 150) & (pixels[:, 2] < 80)
    bluish = (pixels[:, 2] > 150) & (pixels[:, 0] < 80)
    assert reddish.sum() > 50 and bluish.sum() > 50  # drawn in their own colours
