"""Tests of the registry and of load/fetch from folders: lookup order, verification,
and the real MNIST files (see ../shared/data/mnist/README.md)."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlp_functional.data import (
    DATASETS,
    ChecksumError,
    Dataset,
    DatasetNotFoundError,
    IdxError,
    Split,
    cache_dir,
    fetch,
    get_spec,
    load,
    write_idx,
)

# ---- registry -----------------------------------------------------------------------


def test_registry_holds_the_canonical_files_and_mirrors():
    mnist, fashion = DATASETS["mnist"], DATASETS["fashion-mnist"]
    assert (
        [f.name for f in mnist.files]
        == [f.name for f in fashion.files]
        == [
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        ]
    )
    assert mnist.files.train_images.sha256.startswith("ba891046e650")
    assert mnist.files.test_labels.sha256.startswith("ff7bcfd416de")
    assert fashion.files.train_images.sha256.startswith("c59f468a2f67")
    assert fashion.files.test_labels.sha256.startswith("0402a96d92fd")
    assert mnist.mirrors == (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    )
    assert mnist.classes == tuple("0123456789")
    assert fashion.classes[0] == "T-shirt/top" and fashion.classes[-1] == "Ankle boot"
    assert len(fashion.classes) == 10
    assert all(len(f.sha256) == 64 for spec in DATASETS.values() for f in spec.files)
    with pytest.raises(TypeError):
        DATASETS["other"] = mnist  # type: ignore[index]


def test_unknown_dataset_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown dataset 'mnsit'; choose one of: mnist, fashion"):
        get_spec("mnsit")
    with pytest.raises(ValueError, match="unknown dataset"):
        load("mnsit")


def test_cache_location_follows_the_override_then_the_platform(monkeypatch, tmp_path):
    monkeypatch.setenv("MLP_FUNCTIONAL_CACHE", str(tmp_path))
    assert cache_dir("mnist") == tmp_path / "mnist"
    monkeypatch.delenv("MLP_FUNCTIONAL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr("sys.platform", "linux")
    assert cache_dir() == tmp_path / "xdg" / "mlp_functional"


# ---- lookup order -------------------------------------------------------------------


def corrupt_copy(source: Path, dest: Path) -> None:
    """Copy the four files, with one changed pixel in the training images."""
    shutil.copytree(source, dest)
    path = dest / "train-images-idx3-ubyte.gz"
    data = bytearray(gzip.decompress(path.read_bytes()))
    data[-1] ^= 0x01
    path.write_bytes(gzip.compress(bytes(data), compresslevel=1))


@pytest.fixture
def places(tmp_path, make_tiny, data_env, monkeypatch):
    """A tiny dataset: good files in ``good``, bad copies in ``bad``, env root ``root``."""
    spec, arrays = make_tiny(tmp_path / "good")
    corrupt_copy(tmp_path / "good", tmp_path / "bad")
    monkeypatch.setenv("MLP_FUNCTIONAL_DATA", str(tmp_path / "root"))
    return spec, arrays, tmp_path


def fill(folder: Path, source: Path) -> None:
    shutil.copytree(source, folder, dirs_exist_ok=True)


def arrays_of(ds: Dataset) -> list[np.ndarray]:
    return [ds.train.images, ds.train.labels, ds.test.images, ds.test.labels]


def test_data_dir_comes_first(places, data_env):
    spec, arrays, tmp = places
    fill(tmp / "root" / "tiny", tmp / "bad")
    fill(data_env / "tiny", tmp / "bad")
    ds = load(spec, data_dir=tmp / "good")
    for a, b in zip(arrays_of(ds), arrays, strict=True):
        np.testing.assert_array_equal(a, b)
    assert ds.classes == ("a", "b", "c") and ds.name == "tiny"


def test_then_the_environment_root_then_the_cache(places, data_env):
    spec, arrays, tmp = places
    fill(tmp / "root" / "tiny", tmp / "good")
    fill(data_env / "tiny", tmp / "bad")
    ds = load(spec, data_dir=tmp / "empty")  # empty: skipped
    np.testing.assert_array_equal(ds.train.images, arrays[0])
    shutil.rmtree(tmp / "root")
    fill(data_env / "tiny", tmp / "good")
    np.testing.assert_array_equal(load(spec).test.labels, arrays[3])  # no mirrors: cache only


def test_a_bad_file_in_a_supplied_folder_is_an_error_never_skipped(places, data_env):
    spec, _, tmp = places
    fill(tmp / "root" / "tiny", tmp / "bad")
    fill(data_env / "tiny", tmp / "good")  # a good cache must not hide the bad file
    bad = tmp / "root" / "tiny" / "train-images-idx3-ubyte.gz"
    with pytest.raises(ChecksumError) as e:
        load(spec)
    message = str(e.value)
    assert message.startswith(f"{bad}: SHA-256 of the decompressed content is ")
    assert spec.files.train_images.sha256 in message and e.value.actual in message
    assert "replace it with a good copy" in message
    assert "`mlp-functional fetch --dataset tiny`" in message
    assert e.value.path == str(bad)


def test_a_partial_folder_is_skipped_and_reported(places, data_env):
    spec, _, tmp = places
    fill(tmp / "root" / "tiny", tmp / "good")
    (tmp / "root" / "tiny" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"\(missing t10k-labels-idx1-ubyte\.gz\)"):
        load(spec)


def test_a_name_subfolder_and_uncompressed_files_are_accepted(places):
    spec, arrays, tmp = places
    for path in (tmp / "good").iterdir():
        target = tmp / "data" / "tiny" / path.name.removesuffix(".gz")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.decompress(path.read_bytes()))
    ds = load(spec, data_dir=tmp / "data")
    np.testing.assert_array_equal(ds.train.labels, arrays[1])


def test_arrays_are_read_only_uint8_with_the_declared_shapes(places):
    spec, _, tmp = places
    ds = load(spec, data_dir=tmp / "good")
    assert isinstance(ds.train, Split)
    assert ds.train.images.shape == (5, 28, 28) and ds.test.labels.shape == (3,)
    for a in arrays_of(ds):
        assert a.dtype == np.uint8 and not a.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            a[0] = 1


def rehash(spec, folder: Path):
    """``spec`` with the hashes of the files now in ``folder``."""
    files = type(spec.files)(
        *(
            f._replace(
                sha256=hashlib.sha256(gzip.decompress((folder / f.name).read_bytes())).hexdigest()
            )
            for f in spec.files
        )
    )
    return spec._replace(files=files)


def test_files_with_the_right_hash_but_the_wrong_shape_are_refused(tmp_path, make_tiny):
    spec, _ = make_tiny(tmp_path)
    images = tmp_path / "train-images-idx3-ubyte.gz"
    write_idx(images, np.zeros((5, 4, 4), np.uint8))
    with pytest.raises(IdxError, match=rf"^{images}: expected uint8 images of shape \(N, 28, 28\)"):
        load(rehash(spec, tmp_path), data_dir=tmp_path)
    spec, _ = make_tiny(tmp_path)
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    write_idx(labels, np.array([0, 1], np.uint8))
    with pytest.raises(IdxError, match=r"expected uint8 labels of shape \(3,\)"):
        load(rehash(spec, tmp_path), data_dir=tmp_path)
    write_idx(labels, np.array([0, 1, 7], np.uint8))
    with pytest.raises(IdxError, match=r"label 7 out of range for 3 classes of tiny"):
        load(rehash(spec, tmp_path), data_dir=tmp_path)


def test_fetch_copies_verified_files_from_a_folder(places, data_env):
    spec, arrays, tmp = places
    assert fetch(spec, source_dir=tmp / "good") == data_env / "tiny"
    assert sorted(p.name for p in (data_env / "tiny").iterdir()) == sorted(
        p.name for p in (tmp / "good").iterdir()
    )
    np.testing.assert_array_equal(load(spec).train.images, arrays[0])


def test_fetch_refuses_a_bad_or_incomplete_source_and_caches_nothing(places, data_env):
    spec, _, tmp = places
    with pytest.raises(ChecksumError, match=rf"^{tmp / 'bad' / 'train-images-idx3-ubyte.gz'}: "):
        fetch(spec, source_dir=tmp / "bad")
    (tmp / "good" / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"lacks train-labels-idx1-ubyte\.gz of tiny"):
        fetch(spec, source_dir=tmp / "good")
    assert not (data_env / "tiny").exists()


# ---- real MNIST ---------------------------------------------------------------------


@pytest.mark.parametrize("ci", ["true", ""])
def test_missing_real_mnist_fails_in_ci_and_skips_elsewhere(tmp_path, ci):
    env = {**os.environ, "CI": ci, "MLP_FUNCTIONAL_DATA": str(tmp_path)}
    test = f"{__file__}::test_real_mnist_shapes_dtypes_labels_and_counts"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", test],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).parent.parent,
    )
    out = run.stdout + run.stderr
    assert f"real MNIST missing in {tmp_path / 'mnist'}" in out
    if ci:
        assert run.returncode == 1 and "1 error" in out  # the fixture fails: never a skip
    else:
        assert run.returncode == 0 and "1 skipped" in out


TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist(mnist_dir) -> Dataset:
    return load("mnist", data_dir=mnist_dir)


@pytest.mark.slow
def test_real_mnist_shapes_dtypes_labels_and_counts(mnist):
    assert mnist.name == "mnist" and mnist.classes == tuple("0123456789")
    assert mnist.train.images.shape == (60000, 28, 28)
    assert mnist.test.images.shape == (10000, 28, 28)
    assert mnist.train.labels.shape == (60000,) and mnist.test.labels.shape == (10000,)
    assert all(a.dtype == np.uint8 and not a.flags.writeable for a in arrays_of(mnist))
    assert mnist.train.labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert mnist.test.labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(mnist.train.labels).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist.test.labels).tolist() == TEST_COUNTS
    assert int(mnist.train.images.max()) == 255 and int(mnist.train.images.min()) == 0


@pytest.mark.slow
def test_real_mnist_through_the_environment_root(mnist_dir, data_env, monkeypatch):
    monkeypatch.setenv("MLP_FUNCTIONAL_DATA", str(mnist_dir.parent))
    ds = load("mnist")
    assert ds.test.labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert not data_env.exists()  # found in place: nothing downloaded or cached


@pytest.mark.slow
def test_one_flipped_pixel_in_a_copy_of_mnist_is_refused(mnist_dir, tmp_path, data_env):
    shutil.copytree(mnist_dir, tmp_path / "mnist", ignore=shutil.ignore_patterns("*.md"))
    path = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    data = bytearray(gzip.decompress(path.read_bytes()))
    data[16 + 28 * 14 + 14] ^= 0x80  # the centre pixel of the first image
    path.write_bytes(gzip.compress(bytes(data), compresslevel=1))
    del data
    with pytest.raises(ChecksumError, match=rf"^{path}: SHA-256 of the decompressed content") as e:
        load("mnist", data_dir=tmp_path / "mnist")
    assert e.value.expected == DATASETS["mnist"].files.train_images.sha256
    assert e.value.path == str(path)
