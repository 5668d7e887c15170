"""Bring people's own digit images to MNIST's form: 28x28, white ink on black, centred.

MNIST was made from bilevel scans (LeCun et al., 1998): each digit was scaled, keeping its
aspect ratio, so that its longer side is 20 px (anti-aliased, hence the grey edges), then
placed in a 28x28 field so that its centre of mass sits at the field's centre. Measured on
the 60,000 training digits, that centre of mass (0-based row, column) averages
(13.996, 14.007) with a spread of 0.29 px, the spread of a uniform error of up to half a
pixel: the digits were moved by whole pixels to bring it to ``(14, 14)``. :func:`to_mnist` repeats
these steps on any grayscale or colour image:

1. grayscale (alpha composited on white), scaled to [0, 1];
2. ink = distance from the background level (the median of the border pixels), so dark
   ink on a light page and light ink on a dark one both become white on black;
3. ink scaled so its brightest pixel is 1; faint values (below ``NOISE``) set to 0;
4. cut to the box of the pixels at least ``BOX`` bright (so faint specks cannot stretch
   it), plus one output pixel each side so the faint anti-aliased rim is kept;
5. resized by area averaging so the box's longer side is 20 px (``BOX_SIDE``);
6. rescaled so the brightest pixel is 255 (as in MNIST), and shifted by whole pixels so the
   centre of mass lands on ``CENTRE``.

The resize is done in NumPy (an exact area average, what Pillow calls the BOX filter), so
``to_mnist`` needs no Pillow and gives the same bytes everywhere; a digit that already has
a 20 px longer side is not resampled at all, which lets a real 28x28 MNIST digit pass
through nearly unchanged. Only :func:`load_image` and :func:`decode_image`, which read
PNG/JPEG files, need Pillow (``pip install 'mlp-functional[images]'``). They hand 8-bit
images over as uint8, so a drawing becomes floats once, inside :func:`to_mnist`.

>>> import numpy as np
>>> page = np.full((300, 200), 255, np.uint8)  # a white page
>>> page[40:250, 90:110] = 0                     # a dark vertical stroke: a "1"
>>> x = to_mnist(page)
>>> x.shape, x.dtype, int(x.max())
((28, 28), dtype('uint8'), 255)
>>> rows, cols = np.nonzero(x)
>>> int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
(20, 2)
"""

from __future__ import annotations

import io
import math
import os
import stat
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from .readonly import freeze

__all__ = [
    "BOX",
    "BOX_SIDE",
    "CENTRE",
    "FORMATS",
    "MAX_FILE_BYTES",
    "MAX_PIXELS",
    "MIN_CONTRAST",
    "NOISE",
    "PILLOW_HINT",
    "SIZE",
    "ImageError",
    "centre_of_mass",
    "decode_image",
    "load_image",
    "no_ink",
    "open_image",
    "read_regular_file",
    "resize_area",
    "to_mnist",
]

Array = np.ndarray

#: Side of an MNIST image.
SIZE = 28
#: Longer side of the digit's box inside the image.
BOX_SIDE = 20
#: Where MNIST's centres of mass lie (row, column), measured on the training set.
CENTRE = (14.0, 14.0)
#: Ink fainter than this fraction of the brightest ink is treated as background noise.
NOISE = 0.05
#: Pixels at least this fraction of the brightest ink define the box the digit is cut to.
BOX = 0.2
#: An image whose ink differs from the background by less than this (on [0, 1]) is blank.
MIN_CONTRAST = 0.1
#: Images with more pixels than this are refused before decoding (decompression bombs).
MAX_PIXELS = 50_000_000
#: Image files larger than this are refused before they are read.
MAX_FILE_BYTES = 256 * 2**20
#: The only image formats read: Pillow's other plugins (EPS runs Ghostscript) are never tried.
FORMATS = ("PNG", "JPEG")
#: How to get the optional dependency that reads image files.
PILLOW_HINT = "pip install 'mlp-functional[images]'"

_LUMA = freeze(np.array([0.299, 0.587, 0.114]))  # ITU-R 601-2, as Pillow's convert("L")


class ImageError(ValueError):
    """An image that cannot be read or holds no digit; the message says which and why."""


def _pillow() -> Any:
    """Import Pillow, or fail with one line naming the extra that installs it."""
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise ImportError(f"reading image files needs Pillow: {PILLOW_HINT}") from None
    return Image, ImageOps


def open_image(stream: Any, formats: tuple[str, ...] | None = None) -> Any:
    """Pillow's ``Image.open``, without its decompression-bomb warning: every caller
    refuses images over :data:`MAX_PIXELS` (below Pillow's own limit) in one line, so the
    warning would only be a second line before that error. Images over twice Pillow's
    limit still raise its ``DecompressionBombError``."""
    Image, _ = _pillow()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(stream, formats=formats)


def _pil_to_gray(im: Any) -> Array:
    """A Pillow image as grayscale, alpha composited on white.

    8-bit images stay uint8 (0-255); 16- and 32-bit integer and float images become
    float32 in [0, 1] so their precision is kept.
    """
    Image, ImageOps = _pillow()
    im = ImageOps.exif_transpose(im)
    if im.mode.startswith("I"):  # 16-bit and 32-bit integer grayscale
        return np.clip(np.asarray(im, np.float64) / 65535.0, 0.0, 1.0).astype(np.float32)
    if im.mode == "F":  # float pixels, on Pillow's 0-255 scale
        return np.clip(np.asarray(im, np.float64) / 255.0, 0.0, 1.0).astype(np.float32)
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return np.asarray(im.convert("L"), np.uint8)


def _decode(
    stream: Any, name: str, formats: tuple[str, ...], max_pixels: int, max_side: int | None
) -> Array:
    Image, _ = _pillow()
    try:
        with open_image(stream, formats) as im:
            width, height = im.size  # from the header: nothing is decompressed yet
            if width * height > max_pixels:
                raise ImageError(
                    f"{name} is {width}x{height} pixels, more than the limit of "
                    f"{max_pixels:,}; scale it down first"
                )
            factor = 1 if max_side is None else math.ceil(max(width, height) / max_side)
            if factor > 1:
                im.draft(None, (width // factor, height // factor))  # JPEG: decode smaller
            im.load()
            if factor > 1 and max(im.size) > max_side:
                im = im.reduce(math.ceil(max(im.size) / max_side))  # box-average blocks
            gray = _pil_to_gray(im)
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError(
            f"{name} has over {2 * Image.MAX_IMAGE_PIXELS:,} pixels, more than the limit of "
            f"{max_pixels:,}; scale it down first"
        ) from None
    except Image.UnidentifiedImageError:
        kinds = "/".join(formats)
        raise ImageError(f"{name} is not a {kinds} image (or is corrupt)") from None
    except Exception as e:  # any failure of a decoder fed untrusted bytes
        raise ImageError(f"{name} cannot be decoded as an image ({e})") from None
    if gray.size == 0:
        raise ImageError(f"{name} has no pixels")
    return freeze(gray)


def read_regular_file(
    path: str | os.PathLike[str], *, name: str | None = None, max_bytes: int = MAX_FILE_BYTES
) -> bytes:
    """The bytes of a regular file; FIFOs, devices and folders are refused without blocking.

    The file is checked with ``os.stat`` first, then opened with ``O_NONBLOCK`` (so even
    a FIFO swapped in meanwhile cannot block) and checked again on the open descriptor.

    Args:
      path: the file.
      name: how to name it in an error; by default its path, quoted.
      max_bytes: larger files are refused before they are read.

    Raises:
      OSError: the file cannot be read (missing, no permission).
      ImageError: not a regular file, or larger than ``max_bytes``.

    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     fifo = os.path.join(d, "f.png")
    ...     os.mkfifo(fifo)
    ...     read_regular_file(fifo)
    Traceback (most recent call last):
    ...
    mlp_functional.imaging.ImageError: '...f.png' is a FIFO, not a regular file; ...
    """
    name = repr(os.fspath(path)) if name is None else name
    _check_regular(os.stat(path), name, max_bytes)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as f:
        _check_regular(os.fstat(fd), name, max_bytes)
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageError(f"{name} is over {max_bytes:,} bytes; pass a smaller file")
    return data


def _check_regular(st: os.stat_result, name: str, max_bytes: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a folder"
            if stat.S_ISDIR(st.st_mode)
            else "a FIFO"
            if stat.S_ISFIFO(st.st_mode)
            else "a device or socket"
        )
        raise ImageError(f"{name} is {kind}, not a regular file; pass an image or array file")
    if st.st_size > max_bytes:
        raise ImageError(
            f"{name} is {st.st_size:,} bytes, over the limit of {max_bytes:,}; pass a smaller file"
        )


def load_image(
    path: str | os.PathLike[str],
    *,
    formats: tuple[str, ...] = FORMATS,
    max_pixels: int = MAX_PIXELS,
    max_side: int | None = None,
) -> Array:
    """Read a PNG or JPEG file as a grayscale array.

    Any mode is accepted: colour becomes luma (ITU-R 601-2), transparency is composited
    on white, palettes are expanded, 16-bit grayscale keeps its precision, and the EXIF
    orientation of phone photos is applied. Only regular files are opened (a FIFO or a
    device is refused, never waited on), and only the ``formats`` given are decoded, by
    the content's signature whatever the file's name. Needs Pillow (the ``images`` extra).

    Args:
      path: the image file.
      formats: Pillow format names to accept; by default PNG and JPEG.
      max_pixels: larger images are refused before they are decoded.
      max_side: images with a longer side are shrunk by a whole factor while decoded
        (JPEG draft mode, else block averaging); ``None`` keeps every pixel.

    Returns:
      A read-only ``(height, width)`` array: uint8 for 8-bit images, float32 in [0, 1]
      for 16-bit, 32-bit and float ones.

    Raises:
      ImageError: the file is missing, unreadable, not a regular file, not an image of
        the given formats, or too large.
      ImportError: Pillow is not installed (the message says how to install it).

    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = pathlib.Path(d) / "digit.png"
    ...     Image.new("RGBA", (40, 30), (0, 0, 0, 0)).save(path)  # fully transparent
    ...     gray = load_image(path)
    >>> gray.shape, gray.dtype, int(gray.min())  # transparent shows as white paper
    ((30, 40), dtype('uint8'), 255)
    """
    name = repr(os.fspath(path))
    try:
        data = read_regular_file(path, name=name)
    except OSError as e:
        raise ImageError(f"{name} cannot be read ({e.strerror or e}); check the path") from None
    return _decode(io.BytesIO(data), name, formats, max_pixels, max_side)


def decode_image(
    data: bytes,
    *,
    name: str = "image",
    formats: tuple[str, ...] = FORMATS,
    max_pixels: int = MAX_PIXELS,
    max_side: int | None = None,
) -> Array:
    """Decode image bytes (e.g. a PNG sent by a browser) like :func:`load_image` reads a file.

    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.new("L", (3, 2), 255).save(buf, format="PNG")
    >>> decode_image(buf.getvalue(), formats=("PNG",)).tolist()
    [[255, 255, 255], [255, 255, 255]]
    >>> decode_image(b"GIF89a, or not", name="upload", formats=("PNG",))
    Traceback (most recent call last):
    ...
    mlp_functional.imaging.ImageError: upload is not a PNG image (or is corrupt)
    """
    return _decode(io.BytesIO(data), name, formats, max_pixels, max_side)


def _as_gray(image: npt.ArrayLike) -> Array:
    """Validate an image array and return it as float64 grayscale in [0, 1]."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] in (1, 2, 3, 4):
        channels = a.shape[-1]
    elif a.ndim == 2:
        channels = 0
    else:
        raise ImageError(
            f"an image must be (height, width) or (height, width, channels) with 1-4 "
            f"channels, got shape {a.shape}"
        )
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ImageError(f"the image has no pixels (shape {a.shape})")
    if a.dtype == np.bool_:
        x = a.astype(np.float64)
    elif a.dtype == np.uint16:
        x = a / 65535.0
    elif np.issubdtype(a.dtype, np.integer):
        if a.min() < 0 or a.max() > 255:
            raise ImageError(
                f"integer pixels must lie in 0..255 (or be uint16), got values in "
                f"{a.min()}..{a.max()}"
            )
        x = a / 255.0
    elif np.issubdtype(a.dtype, np.floating):
        x = a.astype(np.float64)
        if not np.isfinite(x).all():
            raise ImageError("the image holds NaN or infinite values")
        if x.min() < 0.0 or x.max() > 1.0:
            raise ImageError(
                f"float pixels must lie in [0, 1], got values in [{x.min():g}, {x.max():g}]; "
                "divide 0-255 values by 255"
            )
    else:
        raise ImageError(f"cannot read pixels of dtype {a.dtype}; use uint8 or floats in [0, 1]")
    if channels in (2, 4):  # composite the alpha channel on white
        alpha = x[..., -1:]
        x = x[..., :-1] * alpha + (1.0 - alpha)
    if channels in (3, 4):
        return x @ _LUMA
    return x[..., 0] if channels else x


def _ink(gray: Array) -> Array:
    """Ink in [0, 1] (white on black) from grayscale: distance from the border's level."""
    border = np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])
    background = float(np.median(border))
    lo, hi = float(gray.min()), float(gray.max())
    ink = background - gray if background > (lo + hi) / 2 else gray - background
    np.clip(ink, 0.0, None, out=ink)
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise no_ink(peak)
    ink /= peak
    ink[ink < NOISE] = 0.0
    return ink


def no_ink(peak: float) -> ImageError:
    """The error for an image whose ink is at most ``peak`` (on [0, 1]): a blank image.

    >>> str(no_ink(0.0))
    'the image has no ink: nothing differs from the background by more than 0.000 ...'
    """
    return ImageError(
        f"the image has no ink: nothing differs from the background by more than "
        f"{peak:.3f} (at least {MIN_CONTRAST} is needed); draw or photograph a digit"
    )


def _area_weights(n_in: int, start: float, step: float, n_out: int) -> Array:
    """``(n_out, n_in)`` matrix: row ``i`` averages ``[start + i*step, start + (i+1)*step)``.

    Input pixel ``j`` covers ``[j, j+1)``; whatever lies outside the input counts as 0.
    """
    edges = start + np.arange(n_out + 1) * step
    j = np.arange(n_in)
    overlap = np.minimum(edges[1:, None], j + 1) - np.maximum(edges[:-1, None], j)
    np.clip(overlap, 0.0, None, out=overlap)
    return overlap / step


def _window(lo: int, hi: int, step: float, n_in: int) -> tuple[slice, float, int]:
    """Output pixels of size ``step`` covering the box ``lo..hi`` plus one pixel each side.

    The box is centred in a whole number of output pixels; returns the slice of input
    pixels involved, where the first output pixel starts (relative to that slice) and
    how many output pixels there are.
    """
    count = max(1, round((hi - lo + 1) / step))
    start = (lo + hi + 1) / 2 - (count / 2 + 1) * step
    count += 2
    first = max(0, int(np.floor(start)))
    last = min(n_in, int(np.ceil(start + count * step)))
    return slice(first, last), start - first, count


def resize_area(image: npt.ArrayLike, shape: tuple[int, int]) -> Array:
    """Resize a 2-D array by area averaging: each output pixel is the mean of what it covers.

    This is the anti-aliasing box filter (Pillow's ``Image.BOX``) written as two small
    matrix products, ``R @ image @ C.T``; resizing to the same shape is the identity.

    >>> import numpy as np
    >>> resize_area(np.array([[0.0, 1.0, 1.0, 0.0]]), (1, 2)).tolist()
    [[0.5, 0.5]]
    >>> resize_area(np.array([[0.0, 1.0]]), (1, 3)).round(3).tolist()
    [[0.0, 0.5, 1.0]]
    """
    a = np.asarray(image, np.float64)
    rows, cols = shape
    if a.ndim != 2 or a.size == 0 or rows < 1 or cols < 1:
        raise ValueError(
            f"resize_area needs a non-empty 2-D array and a positive shape, got "
            f"array shape {a.shape} and shape {shape}"
        )
    if a.shape == (rows, cols):
        return freeze(a.copy())
    row_w = _area_weights(a.shape[0], 0.0, a.shape[0] / rows, rows)
    col_w = _area_weights(a.shape[1], 0.0, a.shape[1] / cols, cols)
    return freeze(row_w @ a @ col_w.T)


def centre_of_mass(image: npt.ArrayLike) -> tuple[float, float]:
    """Intensity-weighted mean (row, column) of a 2-D image, 0-based.

    >>> import numpy as np
    >>> centre_of_mass(np.array([[0, 0], [1, 3]]))
    (1.0, 0.75)
    """
    a = np.asarray(image, np.float64)
    total = a.sum()
    if a.ndim != 2 or total <= 0:
        raise ValueError(f"centre_of_mass needs a 2-D image with some ink, got shape {a.shape}")
    row = float(a.sum(axis=1) @ np.arange(a.shape[0]) / total)
    col = float(a.sum(axis=0) @ np.arange(a.shape[1]) / total)
    return row, col


def to_mnist(image: npt.ArrayLike) -> Array:
    """Preprocess a digit image exactly as MNIST's digits were (see the module doc).

    Args:
      image: ``(H, W)`` grayscale or ``(H, W, C)`` with 1-4 channels (gray, gray+alpha,
        RGB, RGBA); uint8 (or integers in 0..255), uint16, bool, or floats in [0, 1].
        Any background brightness: the border decides which side is ink.

    Returns:
      A fresh read-only uint8 array ``(28, 28)``: white digit on black, longer side 20 px,
      centre of mass on ``CENTRE``, brightest pixel 255.

    Raises:
      ImageError: a shape, dtype or range it cannot read, or no ink at all.

    >>> import numpy as np
    >>> digit = np.zeros((28, 28), np.uint8)
    >>> digit[4:24, 12:16] = 255              # a "1" already in MNIST's form
    >>> bool((to_mnist(digit) == digit).all())
    True
    >>> to_mnist(np.full((50, 50), 0.7))
    Traceback (most recent call last):
    ...
    mlp_functional.imaging.ImageError: the image has no ink: ...
    """
    return freeze(_place(_box_and_scale(_ink(_as_gray(image)))))


def _box_and_scale(ink: Array) -> Array:
    """Cut the ink to its box and area-average it so the longer side is BOX_SIDE; uint8."""
    rows = np.flatnonzero((ink >= BOX).any(axis=1))
    cols = np.flatnonzero((ink >= BOX).any(axis=0))
    # One output pixel covers `step` input pixels; one more output pixel on each side of
    # the box keeps the faint anti-aliased rim.
    step = (max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1) / BOX_SIDE
    row_slice, row_start, n_rows = _window(rows[0], rows[-1], step, ink.shape[0])
    col_slice, col_start, n_cols = _window(cols[0], cols[-1], step, ink.shape[1])
    row_w = _area_weights(row_slice.stop - row_slice.start, row_start, step, n_rows)
    col_w = _area_weights(col_slice.stop - col_slice.start, col_start, step, n_cols)
    digit = row_w @ ink[row_slice, col_slice] @ col_w.T
    digit = np.rint(digit * (255.0 / digit.max())).astype(np.uint8)
    keep_rows = np.flatnonzero(digit.any(axis=1))
    keep_cols = np.flatnonzero(digit.any(axis=0))
    return digit[keep_rows[0] : keep_rows[-1] + 1, keep_cols[0] : keep_cols[-1] + 1]


def _place(digit: Array) -> Array:
    """Put a uint8 digit in a SIZE x SIZE field, moved by whole pixels to centre its mass."""
    com_row, com_col = centre_of_mass(digit)
    top = int(np.clip(round(CENTRE[0] - com_row), 0, SIZE - digit.shape[0]))
    left = int(np.clip(round(CENTRE[1] - com_col), 0, SIZE - digit.shape[1]))
    out = np.zeros((SIZE, SIZE), np.uint8)
    out[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    return out
