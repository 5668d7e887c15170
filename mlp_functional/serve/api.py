"""The page's JSON API as pure functions: a request's method, path and body in, a response out.

Nothing here touches a socket, so every rule is tested without a server:

- ``GET /``, ``/index.html``, ``/app.js``, ``/style.css``: the shipped page, matched as exact
  strings (no decoding, no file system lookup, so no path can reach any other file);
- ``GET /api/model``: the model card (architecture, accuracies from ``metrics.json``);
- ``POST /api/predict`` with ``{"pixels": [784 numbers in [0, 1]]}`` (an image already in
  MNIST's form, used as it is, as ``predict`` uses a ``.npy`` digit) or
  ``{"image": "data:image/png;base64,..."}`` (a drawing, brought to MNIST's form by
  :func:`mlp_functional.imaging.to_mnist`, as ``predict`` does with a PNG file);
- anything else: a JSON error, 400 for bad input, 404, 405, 413 or 501.

Both kinds of prediction go through :mod:`mlp_functional.inputs`, the path ``predict``
uses: one pixel check, one forward pass whose trace gives both the probabilities and
the hidden units. A drawing is refused before decoding when it has more than
``MAX_IMAGE_PIXELS`` pixels and shrunk while decoding when its longer side is over
``MAX_IMAGE_SIDE``, so no request costs more than a few megabytes.

>>> import json
>>> from mlp_functional import key
>>> from mlp_functional import init
>>> app = make_app(init(key(0), [784, 16, 10]), static={})
>>> r = handle(app, "POST", "/api/predict", json.dumps({"pixels": [0.5] * 784}).encode())
>>> r.status, sorted(json.loads(r.body))
(200, ['classes', 'hidden', 'image', 'label', 'probabilities'])
>>> handle(app, "POST", "/api/predict", b'{"pixels": [NaN]}').status
400
>>> blank = json.dumps({"pixels": [0] * 784}).encode()
>>> json.loads(handle(app, "POST", "/api/predict", blank).body)
{'error': '"pixels": the image has no ink: ... draw or photograph a digit'}
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from ..engine.api import n_params
from ..imaging import PILLOW_HINT, ImageError, decode_image
from ..inputs import (
    PIXELS,
    InputError,
    check_model,
    class_names,
    picture_row,
    read,
    rows_from_array,
)
from ..textbook.params import Params

__all__ = [
    "MAX_BODY",
    "MAX_IMAGE_PIXELS",
    "MAX_IMAGE_SIDE",
    "PNG_PREFIX",
    "STATIC_FILES",
    "TOP_UNITS",
    "App",
    "Response",
    "error",
    "handle",
    "load_static",
    "make_app",
    "model_card",
    "predict",
]

#: Request bodies larger than this many bytes are refused with 413.
MAX_BODY = 1_000_000
#: The page's drawing canvas is this many pixels wide and high.
CANVAS_SIDE = 280
#: Drawings with more pixels than this (13 canvases) are refused before decoding.
MAX_IMAGE_PIXELS = 1024 * 1024
#: Drawings with a longer side are shrunk by a whole factor while decoded (two canvases).
MAX_IMAGE_SIDE = 2 * CANVAS_SIDE
#: How a drawing must be sent.
PNG_PREFIX = "data:image/png;base64,"
#: How many of the first hidden layer's most active units a prediction describes.
TOP_UNITS = 8
#: URL path -> (packaged file name, content type). Nothing else is ever served.
STATIC_FILES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "/": ("index.html", "text/html; charset=utf-8"),
        "/index.html": ("index.html", "text/html; charset=utf-8"),
        "/app.js": ("app.js", "text/javascript; charset=utf-8"),
        "/style.css": ("style.css", "text/css; charset=utf-8"),
    }
)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JSON = "application/json"


class Response(NamedTuple):
    """What to send back: status, content type, body and any extra headers."""

    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


class App(NamedTuple):
    """Everything the server answers from: the model, its card and the page's files.

    Attributes:
      params: the model; it reads 784 inputs.
      card: the JSON-ready model card of :func:`model_card`.
      classes: the class names, in output order.
      static: URL path -> ``(content type, bytes)`` of the page's files.
    """

    params: Params
    card: dict[str, Any]
    classes: tuple[str, ...]
    static: Mapping[str, tuple[str, bytes]]


class _RequestError(Exception):
    """A client error: ``status`` and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """A JSON error response ``{"error": message}``.

    >>> error(404, "no such page").body
    b'{"error": "no such page"}'
    """
    return Response(status, _JSON, json.dumps({"error": message}).encode(), headers)


def _json(value: Any, status: int = 200) -> Response:
    return Response(status, _JSON, json.dumps(value, allow_nan=False).encode())


def load_static() -> dict[str, tuple[str, bytes]]:
    """The page's files shipped in the package, read once: path -> (content type, bytes)."""
    from importlib.resources import files

    folder = files(__package__ or "mlp_functional.serve") / "static"
    return {
        path: (kind, (folder / name).read_bytes()) for path, (name, kind) in STATIC_FILES.items()
    }


def _mapping(value: Any) -> Mapping[str, Any]:
    """A JSON object read from a run file, or an empty one when it is damaged."""
    return value if isinstance(value, Mapping) else {}


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def model_card(
    params: Params,
    config: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The facts the page shows about the model: architecture, data and accuracies.

    Read from the run's ``config.json`` and ``metrics.json`` when given; missing figures
    are ``None``.

    >>> from mlp_functional import key
    >>> from mlp_functional import init
    >>> card = model_card(init(key(0), [784, 16, 10]), metrics={"test_accuracy": 0.9})
    >>> card["sizes"], card["parameters"], card["test_accuracy"]
    ([784, 16, 10], 12730, 0.9)
    """
    config = _mapping(config)
    metrics = _mapping(metrics)
    data = _mapping(config.get("data"))
    settings = _mapping(config.get("settings"))
    keys = ("train_accuracy", "test_accuracy", "epochs", "train_seconds")
    return {
        "sizes": list(params.sizes),
        "activation": params.activation.name,
        "parameters": n_params(params),
        "dataset": data.get("name"),
        "optimizer": settings.get("optimizer"),
        "learning_rate": _finite_or_none(settings.get("lr")),
        "batch_size": settings.get("batch_size"),
        **{k: _finite_or_none(metrics.get(k)) for k in keys},
    }


def make_app(
    params: Params,
    config: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    *,
    static: Mapping[str, tuple[str, bytes]] | None = None,
    name: str = "the model",
) -> App:
    """Bundle a model (e.g. a run's ``params``, ``config``, ``metrics``) for serving.

    Args:
      params: the model; it must read 784 inputs (28x28 images).
      config, metrics: the run's ``config.json`` and ``metrics.json``, for the card.
      static: the page's files; by default the ones shipped in the package.
      name: how to name the model in an error (e.g. its file).

    Raises:
      ValueError: the model does not read 28x28 images, or its weights are not finite
        or so large that its outputs could overflow (:func:`~mlp_functional.inputs.check_model`).
    """
    if params.sizes[0] != PIXELS:
        raise ValueError(
            f"{name}: the model reads {params.sizes[0]} inputs, not {PIXELS}; serve needs a "
            "model trained on 28x28 images"
        )
    check_model(params, name)
    card = model_card(params, config, metrics)
    card["png"] = _pillow_available()
    classes = class_names(config, params.sizes[-1])
    card["classes"] = list(classes)
    return App(params, card, classes, load_static() if static is None else static)


def _pillow_available() -> bool:
    try:
        import PIL  # noqa: F401
    except ImportError:
        return False
    return True


def _reject_constant(name: str) -> Any:
    raise _RequestError(400, f"the JSON holds {name}; send finite numbers only")


def _parse(body: bytes) -> dict[str, Any]:
    """The request's JSON object, or a 400 naming what is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _RequestError(400, "the request body is not UTF-8 text; send JSON") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (RecursionError, ValueError) as e:  # JSONDecodeError is a ValueError
        reason = e.msg if isinstance(e, json.JSONDecodeError) else type(e).__name__
        raise _RequestError(400, f"the request body is not valid JSON ({reason})") from None
    if not isinstance(value, dict):
        raise _RequestError(400, 'send a JSON object: {"pixels": [784 numbers]} or {"image": ...}')
    unknown = sorted(set(value) - {"pixels", "image"})
    if unknown or len(value) != 1:
        raise _RequestError(
            400,
            'send exactly one of "pixels" (784 numbers in [0, 1]) or "image" (a PNG data URL)'
            + (f"; unknown field {unknown[0]!r}" if unknown else ""),
        )
    return value


def _pixels(value: Any) -> np.ndarray:
    """784 JSON numbers as a ``(784,)`` float64 array (checked by ``rows_from_array``)."""
    if not isinstance(value, list) or len(value) != PIXELS:
        got = f"{len(value)} values" if isinstance(value, list) else type(value).__name__
        raise _RequestError(400, f'"pixels" must be a flat list of {PIXELS} numbers, got {got}')
    if not all(type(v) in (int, float) for v in value):
        raise _RequestError(400, '"pixels" must hold numbers only (no strings, lists or booleans)')
    try:
        return np.array(value, np.float64)
    except OverflowError:  # an integer such as 10**400 has no float
        raise _RequestError(
            400, '"pixels" holds a number too large for a float; send values in [0, 1]'
        ) from None


def _packed_text_chunk(png: bytes) -> str | None:
    """The first zTXt or iTXt chunk before the image data, or ``None``.

    Pillow inflates such text while opening a PNG, up to 64 MB per image; a canvas never
    writes one, so a drawing holding one is refused before decoding.
    """
    at = len(_PNG_SIGNATURE)
    while at + 8 <= len(png):
        length = int.from_bytes(png[at : at + 4], "big")
        kind = png[at + 4 : at + 8]
        if kind in (b"zTXt", b"iTXt"):
            return kind.decode()
        if kind in (b"IDAT", b"IEND"):
            return None
        at += 12 + length
    return None


def _drawing(value: Any) -> np.ndarray:
    """A PNG data URL, decoded and brought to MNIST's form: a ``(784,)`` uint8 row."""
    if not isinstance(value, str) or not value.startswith(PNG_PREFIX):
        raise _RequestError(400, f'"image" must be a PNG data URL starting with "{PNG_PREFIX}"')
    try:
        data = base64.b64decode(value[len(PNG_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise _RequestError(400, '"image" is not valid base64') from None
    if not data.startswith(_PNG_SIGNATURE):
        raise _RequestError(400, '"image" is not a PNG (its signature is wrong)')
    packed = _packed_text_chunk(data)
    if packed:
        raise _RequestError(
            400,
            f'"image" holds compressed text (a {packed} chunk); send the plain PNG a canvas makes',
        )
    try:
        gray = decode_image(
            data,
            name='"image"',
            formats=("PNG",),
            max_pixels=MAX_IMAGE_PIXELS,
            max_side=MAX_IMAGE_SIDE,
        )
    except ImportError:
        raise _RequestError(
            501, f"this server cannot read PNG drawings without Pillow: {PILLOW_HINT}"
        ) from None
    except ImageError as e:  # undecodable or too large
        raise _RequestError(400, str(e)) from None
    return picture_row('"image"', gray)


def _hidden(params: Params, activations: np.ndarray | None) -> dict[str, Any] | None:
    """The first hidden layer: all activations and the most active units' weight images."""
    if activations is None:
        return None
    a = np.asarray(activations, np.float64)
    top = np.argsort(-a, kind="stable")[:TOP_UNITS]
    w = params.layers[0].w
    units = []
    for j in top:
        column = np.asarray(w[:, j], np.float64)
        scale = float(np.percentile(np.abs(column), 99)) or 1.0  # a few outliers stay visible
        image = np.clip(np.rint(column / scale * 127), -127, 127).astype(int)
        units.append(
            {"unit": int(j), "activation": round(float(a[j]), 4), "weights": image.tolist()}
        )
    return {"activations": np.round(a, 4).tolist(), "top": units}


def predict(app: App, request: Mapping[str, Any]) -> dict[str, Any]:
    """Answer one parsed prediction request (see the module doc) as a JSON-ready dict.

    Returns:
      ``label`` (class name), ``probabilities`` (one per class), ``classes``, ``image``
      (the 784 pixels the network read, 0-255, row by row) and ``hidden`` (the first hidden
      layer's activations and top units, or ``None`` for a model without one).
    """
    try:
        if "pixels" in request:
            ((_, row),) = rows_from_array('"pixels"', _pixels(request["pixels"]))
        else:
            row = _drawing(request["image"])
        reading = read(app.params, [row])
    except InputError as e:
        raise _RequestError(400, str(e)) from None
    image = row if row.dtype == np.uint8 else np.rint(row * 255).astype(np.uint8)
    probs = np.asarray(reading.probabilities[0], np.float64)
    return {
        "label": app.classes[int(probs.argmax())],
        "probabilities": np.round(probs, 6).tolist(),
        "classes": list(app.classes),
        "image": image.tolist(),
        "hidden": _hidden(app.params, None if reading.hidden is None else reading.hidden[0]),
    }


def _allow(*methods: str) -> tuple[tuple[str, str], ...]:
    return (("Allow", ", ".join(methods)),)


def handle(app: App, method: str, path: str, body: bytes = b"") -> Response:
    """Answer one request. ``path`` is the raw request target; a query string is ignored.

    Never raises for anything a client sends: bad input gets a 4xx JSON error.
    """
    route = path.split("?", 1)[0].split("#", 1)[0]
    if route in STATIC_FILES:
        if method not in ("GET", "HEAD"):
            return error(405, f"{route} only answers GET", _allow("GET", "HEAD"))
        if route not in app.static:
            return error(404, f"no such page: {route}")
        kind, content = app.static[route]
        return Response(200, kind, content)
    if route == "/api/model":
        if method not in ("GET", "HEAD"):
            return error(405, "/api/model only answers GET", _allow("GET", "HEAD"))
        return _json(app.card)
    if route == "/api/predict":
        if method != "POST":
            return error(405, "/api/predict only answers POST with a JSON body", _allow("POST"))
        if len(body) > MAX_BODY:
            return error(413, f"the request body is over {MAX_BODY:,} bytes")
        try:
            return _json(predict(app, _parse(body)))
        except _RequestError as e:
            return error(e.status, str(e))
    return error(404, f"no such page: {route[:200]}")
