"""The four holes a probe of run-folder integrity found, each reproduced, and the smaller
untruthful messages beside them. Each test failed on the version before its fix.

1. Without manifest.json every integrity check was off: 500 flipped weight bits were
   evaluated, predicted and resumed. Now the folder is refused until ``migrate`` adopts it.
2. config.json had no size limit: a 300 MB one was read whole. Now every JSON file of a
   run is refused by its size before a byte is read.
3. An .npz member whose header claims more than it inflates to ended in a bare NumPy
   message naming no file. Now the zip's own sizes are checked against the array's
   header and the memory available before anything is inflated.
4. A resume named the shapes rebuilt from the settings, not those config.json holds.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from _faults_util import (
    TRAIN,
    copy,
    one_error_line,
    resume,
    run_main,
    train,
)

from mlp_functional.runs.commit import MANIFEST_FILE, commit, read_manifest
from mlp_functional.runs.limits import MAX_JSON_BYTES


def _recommit(folder: Path, name: str, data: bytes) -> None:
    """Replace a file *and* its manifest entry, as a writer of the manifest would."""
    manifest = read_manifest(folder)
    assert manifest is not None
    keep = {n: e for n, e in manifest.files.items() if n != name}
    commit(folder, {name: data}, epoch=manifest.epoch, keep=keep)


def _flip_weight_bits(path: Path, count: int, seed: int = 0) -> None:
    """Flip one low mantissa bit in each of ``count`` float32 weights (values stay finite)."""
    data = bytearray(path.read_bytes())
    start = 8 + int.from_bytes(data[:8], "little")
    rng = np.random.default_rng(seed)
    floats = rng.choice((len(data) - start) // 4, size=count, replace=False)
    for i in floats:
        data[start + 4 * int(i)] ^= 1 << int(rng.integers(0, 8))
    path.write_bytes(bytes(data))


# ---- 1. a required manifest --------------------------------------------------------------


def _commands(folder: Path, fault_data) -> dict[str, tuple[str, ...]]:
    return {
        "evaluate": ("evaluate", str(folder)),
        "predict": ("predict", str(folder), str(fault_data.inputs)),
        "resume": ("train", "--resume", str(folder), "--epochs", "3", "--quiet"),
    }


def test_a_deleted_manifest_with_flipped_weights_is_refused_everywhere(
    trained: Path, fault_data, tmp_path: Path
) -> None:
    folder = copy(trained, tmp_path / "run")
    (folder / MANIFEST_FILE).unlink()
    _flip_weight_bits(folder / "model.safetensors", 500)
    for name, argv in _commands(folder, fault_data).items():
        line = one_error_line(run_main(*argv))
        assert f"{folder}: no {MANIFEST_FILE}" in line, name
        assert f"mlp-functional migrate {folder}" in line, name
    assert not (folder / MANIFEST_FILE).exists()  # nothing adopted behind the user's back


def test_migrate_adopts_an_intact_folder_which_then_answers_as_before(
    trained: Path, fault_data, tmp_path: Path
) -> None:
    intact = run_main("evaluate", str(trained))
    folder = copy(trained, tmp_path / "run")
    before = json.loads((folder / MANIFEST_FILE).read_text())
    (folder / MANIFEST_FILE).unlink()
    done = run_main("migrate", str(folder))
    assert done.status == 0, done.err
    assert f"{folder}: checked and adopted" in done.out
    assert json.loads((folder / MANIFEST_FILE).read_text())["files"] == before["files"]
    again = run_main("evaluate", str(folder))
    assert again.out.replace(str(folder), "RUN") == intact.out.replace(str(trained), "RUN")
    twice = run_main("migrate", str(folder))
    assert twice.status == 0 and "already has manifest.json" in twice.out


@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        ("model.safetensors", lambda b: b[: len(b) // 2], "not a readable safetensors file"),
        ("state.safetensors", lambda b: b[:100], "not a readable safetensors file"),
        ("config.json", lambda b: b"[1]", "contents must be an object"),
        ("history.json", lambda b: b'{"epoch": 1}', "contents must be a list"),
        ("metrics.json", lambda b: b"{", "not valid JSON"),
    ],
)
def test_migrate_checks_every_file_and_writes_nothing_when_one_is_damaged(
    trained: Path, tmp_path: Path, name: str, damage, message: str
) -> None:
    folder = copy(trained, tmp_path / "run")
    (folder / MANIFEST_FILE).unlink()
    (folder / name).write_bytes(damage((folder / name).read_bytes()))
    line = one_error_line(run_main("migrate", str(folder)))
    assert name in line and message in line
    assert not (folder / MANIFEST_FILE).exists()


def test_migrate_refuses_a_model_holding_nan(trained: Path, tmp_path: Path) -> None:
    folder = copy(trained, tmp_path / "run")
    (folder / MANIFEST_FILE).unlink()
    data = bytearray((folder / "model.safetensors").read_bytes())
    start = 8 + int.from_bytes(data[:8], "little")
    data[start : start + 4] = np.array([np.nan], np.float32).tobytes()
    (folder / "model.safetensors").write_bytes(bytes(data))
    line = one_error_line(run_main("migrate", str(folder)))
    assert re.search(r"model\.safetensors: tensor layers\.0\.[wb] holds NaN or infinity", line)
    assert not (folder / MANIFEST_FILE).exists()


def test_migrate_leaves_out_a_state_in_an_earlier_layout_and_the_run_still_evaluates(
    trained: Path, tmp_path: Path
) -> None:
    from safetensors.numpy import load_file, save_file

    from mlp_functional.runs.checkpoint import METADATA_KEY

    folder = copy(trained, tmp_path / "run")
    (folder / MANIFEST_FILE).unlink()
    state = folder / "state.safetensors"
    with open(state, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    meta = json.loads(header["__metadata__"][METADATA_KEY])
    meta["optimizer"] = {"state": "AdamState", "slots": ["grad_sum", "square_sum"], "step": 3}
    tensors = {k: v for k, v in load_file(str(state)).items() if not k.startswith("opt.")}
    save_file(tensors, str(state), metadata={METADATA_KEY: json.dumps(meta)})
    done = run_main("migrate", str(folder))
    assert done.status == 0, done.err
    assert "state.safetensors is in an earlier version's layout and was left out" in done.out
    assert "state.safetensors" not in json.loads((folder / MANIFEST_FILE).read_text())["files"]
    intact = run_main("evaluate", str(trained)).out.replace(str(trained), "RUN")
    assert run_main("evaluate", str(folder)).out.replace(str(folder), "RUN") == intact
    assert "names no state.safetensors" in one_error_line(resume(folder))


def test_migrate_needs_a_run_folder(tmp_path: Path) -> None:
    line = one_error_line(run_main("migrate", str(tmp_path / "nothing")))
    assert "no such run folder" in line
    (tmp_path / "empty").mkdir()
    line = one_error_line(run_main("migrate", str(tmp_path / "empty")))
    assert "no config.json" in line


# ---- 2. sizes checked before reading -----------------------------------------------------


@pytest.mark.parametrize("name", ["config.json", "history.json", "metrics.json"])
def test_an_oversized_json_file_is_refused_by_its_size_alone(
    trained: Path, fault_data, tmp_path: Path, name: str
) -> None:
    folder = copy(trained, tmp_path / "run")
    value = json.loads((folder / name).read_text())
    padding = " " * (MAX_JSON_BYTES[name] + 1)
    inflated = {"padding": padding, **value} if isinstance(value, dict) else [*value, padding]
    _recommit(folder, name, json.dumps(inflated).encode())  # the manifest vouches for it
    commands = _commands(folder, fault_data)
    if name == "metrics.json":  # a resume drops the old figures without reading them
        del commands["resume"]
    for command, argv in commands.items():
        line = one_error_line(run_main(*argv))
        assert f"{folder / name}: " in line and "larger than the" in line, command


def test_an_oversized_manifest_is_refused_by_its_size_alone(trained: Path, tmp_path: Path) -> None:
    folder = copy(trained, tmp_path / "run")
    with open(folder / MANIFEST_FILE, "ab") as f:
        f.write(b" " * MAX_JSON_BYTES[MANIFEST_FILE])
    line = one_error_line(run_main("evaluate", str(folder)))
    assert f"{folder / MANIFEST_FILE}: " in line and "larger than the" in line


# ---- 3. archive members checked against the zip's own sizes ------------------------------


def _member(zf: zipfile.ZipFile, name: str, header_shape: tuple[int, ...], body: int) -> None:
    """An .npy member whose header declares ``header_shape`` uint8 but holds ``body``
    zero bytes, deflated (a few kB per MB)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": header_shape}
    )
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zf.open(info, "w", force_zip64=True) as f:
        f.write(header.getvalue())
        chunk = bytes(1 << 20)
        for _ in range(body >> 20):
            f.write(chunk)


def _bomb(path: Path, claimed: int, inflated: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        _member(zf, "x.npy", (claimed // 784, 28, 28), inflated)
        labels = io.BytesIO()
        np.save(labels, np.arange(claimed // 784) % 10)
        zf.writestr("y.npy", labels.getvalue())
    return path


def test_an_npz_member_claiming_more_than_it_inflates_to_is_refused_naming_it(
    fault_data, tmp_path: Path
) -> None:
    bomb = _bomb(tmp_path / "bomb.npz", claimed=256 << 20, inflated=8 << 20)
    assert bomb.stat().st_size < 100_000
    line = one_error_line(train(fault_data._replace(archive=bomb), tmp_path / "r"))
    assert f"{bomb}: 'x'" in line
    assert "its .npy header declares" in line and "save it again with numpy.savez" in line
    assert not (tmp_path / "r").exists()


def test_an_npz_member_inflating_beyond_the_memory_available_is_refused_before_inflating(
    fault_data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlp_functional.data import memory

    bomb = _bomb(tmp_path / "bomb.npz", claimed=8 << 20, inflated=8 << 20)
    monkeypatch.setattr(memory, "available_memory", lambda: 4 << 20)
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    line = one_error_line(train(fault_data._replace(archive=bomb), tmp_path / "r"))
    assert f"{bomb}: 'x'" in line and "in memory, more than the" in line
    assert opened == []  # refused from the zip's central directory alone


def test_an_npz_member_whose_zip_header_lies_is_refused_naming_it(
    fault_data, tmp_path: Path
) -> None:
    path = tmp_path / "liar.npz"
    np.savez(path, x=np.full((300, 28, 28), 7, np.uint8), y=np.arange(300) % 10)
    data = bytearray(path.read_bytes())
    # The central directory's uncompressed size of the first member, made 16 bytes short.
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(b"PK\x01\x02"))
    (size,) = struct.unpack_from("<I", data, central + 24)
    struct.pack_into("<I", data, central + 24, size - 16)
    path.write_bytes(bytes(data))
    line = one_error_line(train(fault_data._replace(archive=path), tmp_path / "r"))
    assert f"{path}: 'x'" in line


# ---- 4. resume names the shapes its files hold -------------------------------------------


def test_resume_names_the_sizes_config_json_holds(trained: Path, tmp_path: Path) -> None:
    folder = copy(trained, tmp_path / "run")
    config = json.loads((folder / "config.json").read_text())
    config["model"]["sizes"] = [784, 24, 10]
    _recommit(folder, "config.json", json.dumps(config).encode())
    line = one_error_line(resume(folder))
    assert "state.safetensors holds a 784-16-10 model, config.json describes 784-24-10" in line
    assert "config.json says [784, 24, 10]" in one_error_line(run_main("evaluate", str(folder)))


def test_resume_names_a_config_whose_sizes_disagree_with_its_settings(
    trained: Path, tmp_path: Path
) -> None:
    folder = copy(trained, tmp_path / "run")
    config = json.loads((folder / "config.json").read_text())
    config["settings"]["hidden"] = [24]
    _recommit(folder, "config.json", json.dumps(config).encode())
    line = one_error_line(resume(folder))
    assert "config.json describes a 784-16-10 model, its settings and data give 784-24-10" in line


# ---- smaller: divergence, float32 overflow, Pillow's warning -----------------------------


def test_a_loss_growing_by_orders_of_magnitude_is_reported(fault_data, tmp_path: Path) -> None:
    done = run_main(
        "train", "--data", str(fault_data.archive), *TRAIN[:-1], "--lr", "1e10",
        "--out", str(tmp_path / "r"),
    )  # fmt: skip
    warnings = [line for line in done.err.splitlines() if ": warning: " in line]
    assert warnings, done.err
    assert "epoch 1: the training loss" in warnings[0] and "lower --lr (now 1e+10)" in warnings[0]


def test_a_csv_value_beyond_float32_is_called_an_overflow(tmp_path: Path) -> None:
    from mlp_functional.data import DataFormatError, read_csv

    path = tmp_path / "t.csv"
    path.write_text("label,a,b\n0,1.5,2\n1,1e308,3\n")
    with pytest.raises(DataFormatError, match=r"'1e308' at line 3, column 'a' .*float32"):
        read_csv(path)
    path.write_text("label,a,b\n0,1.5,2\n1,nan,3\n")
    with pytest.raises(DataFormatError, match="not a finite number"):
        read_csv(path)


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` gray pixels (its data is empty)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# Pillow warns above 89M pixels and fails above 179M; outside the tests a warning prints.
@pytest.mark.filterwarnings("default")
@pytest.mark.parametrize("side", [10_000, 14_000])
def test_an_image_bomb_is_one_line_without_pillows_warning(
    trained: Path, tmp_path: Path, side: int
) -> None:
    pytest.importorskip("PIL")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(side, side))
    line = one_error_line(run_main("predict", str(trained), str(bomb)))
    assert f"{bomb}" in line and "pixels, more than the limit of 50,000,000" in line
