"""Read a folder of images, one subfolder per class (torchvision's ``ImageFolder`` layout).

Two layouts are accepted: ``DIR/train/<class>/*`` with ``DIR/test/<class>/*``, or
``DIR/<class>/*`` alone (then the test set is split off by key). Files are found
recursively inside each class folder; hidden files (``.*``) are ignored. Images are read
with Pillow (the ``images`` extra) as grayscale (Pillow's ``convert("L")``), or RGB with
``color=True``, and held as uint8 ``(N, H, W)`` or ``(N, H, W, 3)``.

Every image must have one size, unless ``image_size=(H, W)`` resizes them all (Pillow's
area-averaging BOX filter when shrinking, bilinear when enlarging). The files are read
twice: first only their headers, so that sizes are checked and the array's size is known
before it is allocated, then decoded into it. A file that is not an image is refused,
naming it and counting the bad ones, unless ``skip_bad`` leaves them out (and lists them).

>>> import tempfile, pathlib
>>> from PIL import Image
>>> with tempfile.TemporaryDirectory() as d:
...     for cls, shade in (("dark", 0), ("light", 255)):
...         (pathlib.Path(d) / cls).mkdir()
...         for i in range(2):
...             Image.new("L", (3, 2), shade).save(pathlib.Path(d) / cls / f"{i}.png")
...     found = read_folder(d)
>>> found.train.images.shape, found.train.labels.tolist(), found.classes, found.test
((4, 2, 3), [0, 0, 1, 1], ('dark', 'light'), None)
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..imaging import MAX_PIXELS, PILLOW_HINT, open_image
from .errors import DataFormatError
from .labels import label_dtype
from .memory import check_fits
from .source import hash_files
from .splits import Split

__all__ = ["ImageFolder", "decode_example", "read_folder"]


class ImageFolder(NamedTuple):
    """A folder's images: train (and test, if the folder has one), classes and provenance.

    Attributes:
      train, test: uint8 images and their class indices; ``test`` is None without
        ``train/`` and ``test/`` subfolders.
      classes: the class folders' names, sorted.
      sha256: one SHA-256 over every file's relative path and SHA-256.
      skipped: the files left out by ``skip_bad``, relative to the folder.
    """

    train: Split
    test: Split | None
    classes: tuple[str, ...]
    sha256: str
    skipped: tuple[str, ...]


def _pillow() -> Any:
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise ImportError(f"reading image folders needs Pillow: {PILLOW_HINT}") from None
    return Image, ImageOps


def _class_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _layout(root: Path) -> dict[str, list[Path]]:
    """The class folders of each part: ``{"train": [...], "test": [...]}`` or ``{"all": ...}``."""
    if not root.is_dir():
        raise DataFormatError(f"{root}: no such folder; check the path")
    train, test = root / "train", root / "test"
    if train.is_dir() and test.is_dir():
        parts = {"train": _class_folders(train), "test": _class_folders(test)}
        unknown = sorted({p.name for p in parts["test"]} - {p.name for p in parts["train"]})
        if unknown:
            raise DataFormatError(
                f"{test / unknown[0]}: class {unknown[0]!r} is in test/ but not in train/; "
                f"add its training images to {train / unknown[0]} or remove the folder"
            )
    else:
        parts = {"all": _class_folders(root)}
    for part, folders in parts.items():
        where = root if part == "all" else root / part
        if len(folders) < 2 and part != "test":
            raise DataFormatError(
                f"{where}: found {len(folders)} class folder(s); expected one subfolder per "
                "class (at least two), as DIR/<class>/* or DIR/train/<class>/* with "
                "DIR/test/<class>/*"
            )
        for f in folders:
            if not _files(f):
                raise DataFormatError(
                    f"{f}: the class folder {f.name!r} holds no files; add its images or "
                    "remove the empty folder"
                )
    return parts


class _Header(NamedTuple):
    path: Path
    label: int
    size: tuple[int, int] | None  # (height, width); None for a file that is not an image


def _header(path: Path, label: int) -> tuple[_Header, str]:
    """Read a file: its SHA-256 and, from the header alone, its image size."""
    import hashlib

    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    try:
        with open_image(io.BytesIO(data)) as im:
            width, height = im.size
    except Exception:  # any failure of a decoder fed untrusted bytes
        return _Header(path, label, None), digest
    if width * height > MAX_PIXELS or width * height == 0:
        return _Header(path, label, None), digest
    return _Header(path, label, (height, width)), digest


def decode_example(
    data: bytes, *, color: bool = False, image_size: tuple[int, int] | None = None
) -> np.ndarray:
    """Decode one image file's bytes as a training example: uint8 ``(H, W)`` or ``(H, W, 3)``.

    The same steps as :func:`read_folder` takes for each file, so that an image given to a
    trained model is prepared exactly as its training images were: EXIF orientation
    applied, ``convert("L")`` (or ``"RGB"``), resized to ``image_size`` when given.

    Raises:
      DataFormatError: the bytes are not an image Pillow can read.

    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.new("RGB", (4, 2), (255, 0, 0)).save(buf, format="PNG")
    >>> decode_example(buf.getvalue(), image_size=(1, 2)).tolist()
    [[76, 76]]
    """
    Image, ImageOps = _pillow()
    try:
        with open_image(io.BytesIO(data)) as im:
            if im.size[0] * im.size[1] > MAX_PIXELS:
                raise DataFormatError(f"image of {im.size[0]}x{im.size[1]} pixels is too large")
            im = ImageOps.exif_transpose(im).convert("RGB" if color else "L")
            if image_size is not None and im.size != (image_size[1], image_size[0]):
                shrink = im.size[0] >= image_size[1] and im.size[1] >= image_size[0]
                method = Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR
                im = im.resize((image_size[1], image_size[0]), method)
            return np.asarray(im, dtype=np.uint8)
    except DataFormatError:
        raise
    except Exception as e:  # any failure of a decoder fed untrusted bytes
        raise DataFormatError(f"not an image Pillow can read ({type(e).__name__})") from None


def read_folder(
    path: str | os.PathLike[str],
    *,
    color: bool = False,
    image_size: tuple[int, int] | None = None,
    skip_bad: bool = False,
) -> ImageFolder:
    """Read an image folder (see the module doc).

    Raises:
      DataFormatError: a bad layout, an empty class folder, mixed sizes, bad files.
      DataTooLargeError: the images would not fit in memory.
      ImportError: Pillow is missing (the message names the extra).
    """
    _pillow()  # before any work: a missing Pillow is named with its extra
    root = Path(path)
    parts = _layout(root)
    classes = tuple(f.name for f in parts.get("train", parts.get("all", [])))
    index = {name: i for i, name in enumerate(classes)}
    headers: dict[str, list[_Header]] = {}
    hashes = []
    for part, folders in parts.items():
        headers[part] = []
        for folder in folders:
            for file in _files(folder):
                header, digest = _header(file, index[folder.name])
                headers[part].append(header)
                hashes.append((file.relative_to(root).as_posix(), digest))
    bad = [h.path for hs in headers.values() for h in hs if h.size is None]
    _refuse_bad(bad, sum(len(hs) for hs in headers.values()), skip_bad)
    good = {part: [h for h in hs if h.size is not None] for part, hs in headers.items()}
    shape = _common_size(root, good, image_size)
    channels = (3,) if color else ()
    total = sum(len(hs) for hs in good.values())
    check_fits(total * shape[0] * shape[1] * (3 if color else 1), f"{root} ({total:,} images)")
    splits: dict[str, Split] = {}
    late_bad: list[Path] = []
    for part, hs in good.items():
        images = np.empty((len(hs), *shape, *channels), np.uint8)
        keep = np.ones(len(hs), bool)
        for i, h in enumerate(hs):
            try:
                images[i] = decode_example(h.path.read_bytes(), color=color, image_size=image_size)
            except (DataFormatError, ValueError):  # decoded badly, or to another size
                keep[i] = False
                late_bad.append(h.path)
        labels = np.array([h.label for h in hs], label_dtype(len(classes)))
        if not keep.all():
            images, labels = images[keep], labels[keep]
        images.setflags(write=False)
        labels.setflags(write=False)
        splits[part] = Split(images, labels)
    _refuse_bad(bad + late_bad, sum(len(hs) for hs in headers.values()), skip_bad)
    skipped = tuple(sorted(p.relative_to(root).as_posix() for p in bad + late_bad))
    train = splits.get("train", splits.get("all"))
    assert train is not None
    return ImageFolder(train, splits.get("test"), classes, hash_files(hashes), skipped)


def _refuse_bad(bad: list[Path], total: int, skip_bad: bool) -> None:
    if bad and not skip_bad:
        others = f" and {len(bad) - 1} other file(s)" if len(bad) > 1 else ""
        raise DataFormatError(
            f"{bad[0]} is not an image Pillow can read{others} ({len(bad)} bad of {total} "
            "files); remove or replace them, or pass --skip-bad to leave them out"
        )


def _common_size(
    root: Path, parts: dict[str, list[_Header]], image_size: tuple[int, int] | None
) -> tuple[int, int]:
    if image_size is not None:
        return image_size
    first: _Header | None = None
    for hs in parts.values():
        for h in hs:
            if first is None:
                first = h
            elif h.size != first.size:
                assert first.size is not None and h.size is not None
                raise DataFormatError(
                    f"{root}: images of different sizes, {first.size[1]}x{first.size[0]} "
                    f"({first.path.relative_to(root)}) and {h.size[1]}x{h.size[0]} "
                    f"({h.path.relative_to(root)}) (width x height); pass --image-size HxW "
                    "to resize them all"
                )
    if first is None or first.size is None:
        raise DataFormatError(f"{root}: no readable images; add images to the class folders")
    return first.size
