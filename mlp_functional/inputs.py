"""One path from what a user hands in to the model's answer, shared by ``predict`` and ``serve``.

- :func:`read_input`: a file (PNG, JPEG or ``.npy``) to named rows of 784 pixels;
- :func:`training_form` and :func:`read_as_trained`: files read as the examples a run was
  trained on: CSV rows of features, MNIST-form digits, or images prepared as the run's own
  image folder was;
- :func:`rows_from_array`: an array to named rows: one already in MNIST's form
  (``(28, 28)``, ``(N, 28, 28)``, ``(784,)``, ``(N, 784)``) is used as it is after
  :func:`check_pixels`, any other 2-D or 3-D array is a picture brought to MNIST's form by
  :func:`mlp_functional.imaging.to_mnist`;
- :func:`check_model` and :func:`read`: the model checked once, then one forward pass
  giving the probabilities and the first hidden layer from the same trace;
- :func:`class_names`: the labels to print, from the run's config.

Every error is an :class:`InputError` (a ``ValueError``) whose message starts with the
name of what was read, and a blank array is refused exactly like a blank image.

>>> import numpy as np
>>> from mlp_functional import key
>>> from mlp_functional import init
>>> digit = np.zeros((28, 28), np.uint8)
>>> digit[4:24, 12:16] = 255
>>> [(name, row.shape) for name, row in rows_from_array("a.npy", np.stack([digit, digit]))]
[('a.npy[0]', (784,)), ('a.npy[1]', (784,))]
>>> reading = read(init(key(0), [784, 16, 10]), [digit.reshape(-1)])
>>> reading.probabilities.shape, reading.hidden.shape
((1, 10), (1, 16))
>>> rows_from_array("blank.npy", np.zeros(784, np.uint8))
Traceback (most recent call last):
...
mlp_functional.inputs.InputError: blank.npy: the image has no ink: ...
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .engine.api import forward_trace, softmax
from .features import to_features
from .imaging import (
    MAX_FILE_BYTES,
    MIN_CONTRAST,
    SIZE,
    ImageError,
    decode_image,
    no_ink,
    read_regular_file,
    to_mnist,
)
from .readonly import freeze
from .textbook.params import Params

if TYPE_CHECKING:
    from .data import Source

__all__ = [
    "MAX_NPY_BYTES",
    "PIXELS",
    "SIZE",
    "InputError",
    "Reading",
    "TrainingForm",
    "check_model",
    "check_pixels",
    "class_names",
    "picture_row",
    "read",
    "read_as_trained",
    "read_input",
    "rows_from_array",
    "training_form",
]

Array = np.ndarray

#: Pixels of one MNIST-form image: the model's input width.
PIXELS = SIZE * SIZE
#: ``.npy`` inputs larger than this are refused before they are read (340,000 digits).
MAX_NPY_BYTES = 256 * 2**20
_NPY_MAGIC = b"\x93NUMPY"


class InputError(ValueError):
    """An input that is not a digit the model can read; the message names the input."""


class Reading(NamedTuple):
    """What one forward pass says about a batch of rows.

    Attributes:
      probabilities: ``(N, classes)``, each row summing to 1.
      hidden: ``(N, units)``, the first hidden layer's activations from the same pass, or
        ``None`` for a model without a hidden layer.
    """

    probabilities: Array
    hidden: Array | None


def _size(n: int) -> str:
    """A byte count for people: ``_size(78_400_000_000) == '78.4 GB'``."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def check_pixels(name: str, a: Array) -> Array:
    """MNIST-form pixels, checked, as a fresh read-only array: uint8 as they are, floats
    finite and in [0, 1] as float32.

    Raises:
      InputError: another dtype, a non-finite value or a float outside [0, 1].

    >>> check_pixels("x", np.array([0.0, 0.5], np.float64)).dtype
    dtype('float32')
    >>> check_pixels("x", np.array([0.0, 2.0]))
    Traceback (most recent call last):
    ...
    mlp_functional.inputs.InputError: x: float pixels must lie in [0, 1], got [0, 2]; ...
    """
    if a.dtype == np.uint8:
        return freeze(a.copy())
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise InputError(
                f"{name}: holds a non-finite value (NaN or infinity); use finite pixels in [0, 1]"
            )
        low, high = float(a.min()), float(a.max())
        if low < 0.0 or high > 1.0:
            raise InputError(
                f"{name}: float pixels must lie in [0, 1], got [{low:g}, {high:g}]; "
                "divide 0-255 values by 255"
            )
        return freeze(a.astype(np.float32))
    raise InputError(f"{name}: pixels of dtype {a.dtype}; use uint8 (0-255) or floats in [0, 1]")


def _check_ink(names: list[str], rows: Array) -> None:
    """Refuse a blank row the way :func:`~mlp_functional.imaging.to_mnist` refuses a blank image."""
    peaks = rows.max(axis=1) / (255.0 if rows.dtype == np.uint8 else 1.0)
    blank = np.flatnonzero(peaks < MIN_CONTRAST)
    if blank.size:
        raise InputError(f"{names[blank[0]]}: {no_ink(float(peaks[blank[0]]))}")


def picture_row(name: str, image: Array) -> Array:
    """A picture of any size brought to MNIST's form, as a ``(784,)`` uint8 row.

    >>> page = np.full((60, 40), 255, np.uint8)
    >>> page[10:50, 18:22] = 0
    >>> row = picture_row("page.png", page)
    >>> row.shape, int(row.max()), int(np.count_nonzero(row.reshape(28, 28).any(axis=1)))
    ((784,), 255, 20)
    """
    try:
        return to_mnist(image).reshape(-1)
    except ImageError as e:
        raise InputError(f"{name}: {e}") from None


def rows_from_array(name: str, a: Array) -> list[tuple[str, Array]]:
    """Named ``(784,)`` rows from an array read from ``name`` (see the module doc).

    Raises:
      InputError: an empty array, a shape that is not a digit, bad pixels, or no ink.
    """
    if a.size == 0:
        raise InputError(f"{name}: holds no pixels (shape {a.shape}); save at least one digit")
    if a.shape in ((SIZE, SIZE), (PIXELS,)):
        names, rows = [name], check_pixels(name, a).reshape(1, PIXELS)
    elif (a.ndim == 3 and a.shape[1:] == (SIZE, SIZE)) or (a.ndim == 2 and a.shape[1] == PIXELS):
        names = [f"{name}[{i}]" for i in range(len(a))]
        rows = check_pixels(name, a).reshape(len(a), PIXELS)
    elif a.ndim in (2, 3) and min(a.shape[:2]) > 1:
        return [(name, picture_row(name, a))]
    else:
        raise InputError(
            f"{name}: array of shape {a.shape} is not a digit; save (28, 28), (N, 28, 28), "
            "(N, 784) or a picture (height, width)"
        )
    _check_ink(names, rows)
    return list(zip(names, rows, strict=True))


def _read_npy(name: str, data: bytes) -> Array:
    """Parse ``.npy`` bytes without pickle, checking the header against the bytes held."""
    if not data.startswith(_NPY_MAGIC):
        raise InputError(f"{name}: not a .npy file; save the array with numpy.save")
    stream = io.BytesIO(data)
    try:
        major, _ = np.lib.format.read_magic(stream)
        read_header = (
            np.lib.format.read_array_header_1_0
            if major == 1
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran_order, dtype = read_header(stream)
    except (ValueError, SyntaxError, TypeError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(
            f"{name}: not a readable .npy array ({reason}); save it with numpy.save"
        ) from None
    if dtype.hasobject:
        raise InputError(
            f"{name}: not a readable .npy array (it holds Python objects, which are never "
            "unpickled); save a numeric array with numpy.save"
        )
    count = math.prod(shape)
    needed = count * dtype.itemsize
    held = len(data) - stream.tell()
    if needed > held:
        raise InputError(
            f"{name}: its header declares shape {shape} of {dtype} ({_size(needed)}), but the "
            f"file holds {_size(held)} of data; the file is truncated or damaged"
        )
    flat = np.frombuffer(data, dtype, count, offset=stream.tell())
    return flat.reshape(shape[::-1]).T if fortran_order else flat.reshape(shape)


def _unreadable(name: str, e: OSError) -> InputError:
    """A file that could not be opened or read, said in one line naming it."""
    if isinstance(e, FileNotFoundError):
        return InputError(f"{name}: no such file; check the path")
    return InputError(f"{name}: cannot be read ({e.strerror or e}); check the path")


def read_input(path: str | os.PathLike[str]) -> list[tuple[str, Array]]:
    """The named MNIST-form rows in one input file.

    ``.npy`` files are parsed without pickle, and their header is checked against the
    bytes they hold before any array is made. Anything else must be a PNG or JPEG by its
    content, whatever its name: no other image decoder is ever run. Only regular files
    are opened; a FIFO, a device or a folder is refused at once.

    Raises:
      InputError: the file is missing, not a regular file, not a PNG/JPEG/.npy, or not a
        readable digit; the message starts with the file's name.
      ImportError: a PNG/JPEG needs Pillow, which is not installed.
    """
    name = os.fspath(path)
    npy = Path(name).suffix.lower() == ".npy"
    try:
        data = read_regular_file(
            path, name=name, max_bytes=MAX_NPY_BYTES if npy else MAX_FILE_BYTES
        )
        if not npy:
            return [(name, picture_row(name, decode_image(data, name=name)))]
    except ImageError as e:
        raise InputError(str(e)) from None
    except OSError as e:
        raise _unreadable(name, e) from None
    return rows_from_array(name, _read_npy(name, data))


# ---- inputs read as the examples a run was trained on -------------------------------------


class TrainingForm(NamedTuple):
    """What a run's training examples looked like, so that inputs are read the same way.

    Attributes:
      source: the user's own data the run was trained on, ``None`` for a built-in dataset.
      width: the model's input width.
      dtype: the training rows' dtype as config.json records it (``"uint8"`` by default).
      scaling: the standardisation a table's training rows fixed, or ``None``.
    """

    source: Source | None
    width: int
    dtype: str = "uint8"
    scaling: Any = None


def training_form(config: Any, source: Source | None, width: int, where: str) -> TrainingForm:
    """The form of a run's training examples, from its config (named ``where`` in errors).

    >>> training_form({"data": {"dtype": "float32"}}, None, 4, "config.json").dtype
    'float32'
    >>> training_form({"data": {"scaling": 1}}, None, 4, "config.json")
    Traceback (most recent call last):
    ...
    mlp_functional.inputs.InputError: config.json: ...
    """
    from .data import scaling_from_record

    recorded = _mapping(_mapping(config).get("data"))
    scaling = None
    if recorded.get("scaling") is not None:
        try:
            scaling = scaling_from_record(recorded["scaling"])
        except ValueError as e:
            raise InputError(f"{where}: {e}") from None
    return TrainingForm(source, width, str(recorded.get("dtype", "uint8")), scaling)


def _on_training_scale(x: Array, trained: str) -> Array:
    """Feature rows brought to the training data's form: the network divides uint8 rows by
    255, so float rows of a run trained on uint8 rows are divided here, and uint8 rows of a
    run trained on floats are used as numbers."""
    if trained == "uint8" and x.dtype != np.uint8:
        return x.astype(np.float32) / np.float32(255)
    if trained != "uint8" and x.dtype == np.uint8:
        return x.astype(np.float32)
    return x


def _table_rows(path: str, form: TrainingForm) -> list[tuple[str, Array]]:
    from .data import read_csv, scale_features

    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file; check the path")
    rows = read_csv(path, labels=False).features
    if rows.shape[1] != form.width:
        raise InputError(
            f"{path}: rows of {rows.shape[1]} features, the model reads {form.width}; give the "
            "training data's feature columns, without the label column"
        )
    if form.scaling is not None:  # a table standardised by its training rows, as recorded
        rows = scale_features(rows, form.scaling)
    else:
        rows = freeze(_on_training_scale(rows, form.dtype))
    return [(f"{path}[{i}]", row) for i, row in enumerate(rows)]


def _image(path: str, source: Source) -> list[tuple[str, Array]]:
    """One image file, prepared like the run's training images."""
    from .data import DataFormatError, decode_example, describe_examples

    options, shape = source.options, source.shape[1:]
    try:
        image = decode_example(
            read_regular_file(path, name=path), color=options.color, image_size=options.image_size
        )
    except (ImageError, DataFormatError) as e:
        raise InputError(f"{path}: {e}; give a PNG or JPEG image") from None
    except OSError as e:
        raise _unreadable(path, e) from None
    if image.shape != shape:
        size = "x".join(map(str, shape[:2]))
        raise InputError(
            f"{path}: a {describe_examples(image.shape).replace('images', 'image')}, the run "
            f"was trained on {describe_examples(shape)}; resize it to {size} (height x width)"
        )
    return [(path, image)]


def _read_as_trained(path: str, form: TrainingForm) -> list[tuple[str, Array]]:
    """The named examples in one input file, as the run's training examples were."""
    from .data import describe_examples, mnist_like
    from .data.own import TABLE_SUFFIXES

    source = form.source
    if Path(path).suffix.lower() in TABLE_SUFFIXES:
        return _table_rows(path, form)
    if source is None or mnist_like(source.shape[1:]):
        return read_input(path)
    if len(source.shape) == 2:
        raise InputError(
            f"{path}: the run was trained on {describe_examples(source.shape[1:])} "
            f"({source.path}); give a CSV file of feature rows"
        )
    if Path(path).suffix.lower() == ".npy":
        raise InputError(
            f"{path}: .npy arrays are read for runs on 28x28 grayscale images only; give "
            "image files (PNG or JPEG)"
        )
    return _image(path, source)


def read_as_trained(
    paths: Sequence[str], form: TrainingForm, model: str = "the model"
) -> list[tuple[str, Array]]:
    """The named examples in the files ``paths``, each read as the run's training examples
    were: a ``.csv`` (``.tsv``, ``.txt``) file as rows of features (scaled as recorded), a
    PNG/JPEG/``.npy`` as MNIST-form digits (:func:`read_input`) for a run on MNIST-like
    data, an image as the run's own image folder was prepared.

    Raises:
      InputError: a file cannot be read as such an example, or an example is of another
        size than ``model`` reads (a 28x28 picture given to a model trained on other data).
    """
    inputs = [item for path in paths for item in _read_as_trained(path, form)]
    for name, row in inputs:
        if row.size != form.width:
            raise InputError(
                f"{name}: gives {row.size} inputs, {model} reads {form.width}; predict needs "
                "inputs like the run's training data"
            )
    return inputs


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def class_names(config: Any, classes: int) -> tuple[str, ...]:
    """The class names in a run's config (``config["data"]["classes"]``), else ``"0"``, ``"1"``...

    A config that lacks them, or whose list does not match the model's outputs, gives the
    label numbers.

    >>> class_names({}, 3)
    ('0', '1', '2')
    >>> class_names({"data": {"classes": ["cat", "dog"]}}, 2)
    ('cat', 'dog')
    """
    names = _mapping(_mapping(config).get("data")).get("classes")
    if (
        isinstance(names, list)
        and len(names) == classes
        and all(isinstance(n, (str, int)) and not isinstance(n, bool) for n in names)
    ):
        return tuple(str(n) for n in names)
    return tuple(str(i) for i in range(classes))


def check_model(params: Params, name: str = "the model") -> None:
    """Refuse a model whose weights are not finite or whose outputs could overflow.

    For inputs in [0, 1], ``|z_l| <= max_j sum_i |w_ij| * bound_{l-1} + max |b|`` and the
    activations grow no faster than ``|z| + 1``; when that bound on the logits (twice it,
    for the softmax's subtraction) passes the dtype's largest number, the model is
    refused before use rather than printing NaN probabilities.

    >>> from mlp_functional import key
    >>> from mlp_functional import Layer, init
    >>> p = init(key(0), [4, 3])
    >>> check_model(p)
    >>> check_model(p._replace(layers=(Layer(p.layers[0].w * 1e38, p.layers[0].b),)), "m")
    Traceback (most recent call last):
    ...
    mlp_functional.inputs.InputError: m: its weights are so large ...
    """
    largest = float(np.finfo(params.dtype).max)
    bound = 1.0
    last = len(params.layers) - 1
    for i, layer in enumerate(params.layers):
        w = np.abs(np.asarray(layer.w, np.float64))
        b = np.abs(np.asarray(layer.b, np.float64))
        if not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise InputError(
                f"{name}: layer {i} holds NaN or infinite weights; the file is damaged, "
                "train the model again"
            )
        with np.errstate(over="ignore"):
            bound = float(w.sum(axis=0).max(initial=0.0)) * bound + float(b.max(initial=0.0))
        bound += 1.0 if i < last else 0.0
    if not 2.0 * bound < largest:
        top = max(float(np.abs(layer.w).max(initial=0.0)) for layer in params.layers)
        raise InputError(
            f"{name}: its weights are so large (up to {top:.3g}) that its outputs can "
            f"overflow {params.dtype}; the file is damaged, train the model again"
        )


def read(params: Params, rows: Sequence[Array], *, name: str = "the model") -> Reading:
    """One forward pass over ``(784,)`` rows: probabilities and the first hidden layer.

    Args:
      params: the model, checked by :func:`check_model` beforehand.
      rows: rows from :func:`rows_from_array` or :func:`read_input`, uint8 pixels or
        floats in [0, 1] (they may be mixed: each becomes features on its own).
      name: how to name the model in an error.

    Raises:
      InputError: the outputs are not finite (a model that was not checked).
    """
    features = np.concatenate([to_features(row[None], params.dtype) for row in rows])
    trace = forward_trace(params, features)
    if not np.isfinite(trace.logits).all():
        raise InputError(
            f"{name}: gives non-finite outputs; its weights are damaged, train the model again"
        )
    return Reading(softmax(trace.logits), trace.hidden[0] if trace.hidden else None)
