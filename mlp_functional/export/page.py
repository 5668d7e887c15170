"""``serve``'s drawing page as one self-contained HTML file that runs the model itself.

The page is serve's own (its HTML, CSS and script, inlined unchanged) plus the weights,
embedded as base64 float32, and ``static/offline.js``, which answers the script's two
requests in the page: the drawing is brought to MNIST's form exactly as serve does it
(:func:`mlp_functional.imaging.to_mnist`, ported line for line) and read by a forward pass
in plain JavaScript. The file needs no server and no network, and its Content Security
Policy forbids both: only its own inline scripts (by hash) run, and no request can leave.

>>> import mlp_functional as mf
>>> html = page_html(mf.init(mf.key(0), [784, 16, 10]))
>>> html.startswith("<!doctype html>"), "connect-src 'none'" in html, 'src="app.js"' in html
(True, True, False)
"""

from __future__ import annotations

import base64
import hashlib
import html as html_escape
import json
from collections.abc import Mapping
from importlib.resources import files
from typing import Any

import numpy as np

import mlp_functional as mf

from .. import imaging
from ..serve.api import TOP_UNITS, make_app
from .errors import ExportError
from .network import activation_op, leaky_slope
from .scaling import PIXELS, recorded_scaling

__all__ = ["page_html", "unit_images"]

_FOOTER_SERVED = (
    "<footer>Served from this machine by <code>mlp-functional serve</code>; your drawings go "
    "nowhere else.</footer>"
)
_FOOTER_EXPORTED = (
    "<footer>Exported by <code>mlp-functional export</code>: the model runs in this page, "
    "with no server and no network; your drawings go nowhere.</footer>"
)


def unit_images(params: mf.Params) -> np.ndarray:
    """Each first-layer unit's weights as serve's page shows them: ``(units, inputs)`` int8,
    scaled so the 99th percentile of a unit's absolute weights is 127.

    >>> unit_images(mf.init(mf.key(0), [784, 16, 10])).shape
    (16, 784)
    """
    w = np.asarray(params.layers[0].w, np.float64)
    scale = np.percentile(np.abs(w), 99, axis=0)
    scale[scale == 0] = 1.0  # a unit with no weights shows as blank, as serve shows it
    return np.clip(np.rint(w / scale * 127), -127, 127).astype(np.int8).T


def _b64(a: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype).tobytes()).decode("ascii")


def _script_text(text: str) -> str:
    """Text safe inside a ``<script>`` element (it cannot close the element early)."""
    return text.replace("</", "<\\/")


def _replace_once(page: str, old: str, new: str) -> str:
    if page.count(old) != 1:  # serve's page changed shape: this module must follow it
        raise RuntimeError(f"serve's index.html no longer holds {old!r} once")
    return page.replace(old, new)


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _model_spec(params: mf.Params, card: Mapping[str, Any], classes: list[str]) -> dict:
    """Everything offline.js reads: the weights, the card, and to_mnist's constants."""
    return {
        "sizes": list(params.sizes),
        "activation": params.activation.name,
        "leakySlope": leaky_slope(),
        "layers": [
            {"w": _b64(layer.w, "<f4"), "b": _b64(layer.b, "<f4")} for layer in params.layers
        ],
        "units": _b64(unit_images(params) if len(params.layers) > 1 else np.zeros(0), "i1"),
        "topUnits": TOP_UNITS,
        "classes": classes,
        "card": {**card, "png": True},  # the page decodes drawings itself
        "preprocess": {
            name: getattr(imaging, name)
            for name in ("SIZE", "BOX_SIDE", "CENTRE", "NOISE", "BOX", "MIN_CONTRAST")
        },
    }


def page_html(
    params: mf.Params,
    config: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    *,
    name: str = "the model",
) -> str:
    """The self-contained page for a model that reads 28x28 drawings.

    Args:
      params: the model (784 inputs, an activation of the engine's).
      config, metrics: the run's ``config.json`` and ``metrics.json``, for the card and
        the class names.
      name: how to name the model in an error.

    Raises:
      ExportError: the model does not read 28x28 grayscale images as pixels / 255, or
        its activation has no JavaScript form.
    """
    pixels = imaging.SIZE * imaging.SIZE
    if params.sizes[0] != pixels:
        raise ExportError(
            f"{name} reads {params.sizes[0]} inputs; the page reads 28x28 drawings "
            f"({pixels} pixels), so export this run with --format onnx instead"
        )
    if config is not None and recorded_scaling(config) != PIXELS:
        raise ExportError(
            f"{name} was trained on rows of features, not on 28x28 images; the page "
            "reads drawings, so export this run with --format onnx instead"
        )
    activation_op(params.activation)  # refuses a user's own activation
    app = make_app(params, config, metrics, name=name)
    spec = _model_spec(params, app.card, list(app.classes))
    static = {path: content.decode("utf-8") for path, (_, content) in app.static.items()}
    offline = (files(__package__ or "mlp_functional.export") / "static" / "offline.js").read_text(
        "utf-8"
    )
    scripts = [_script_text(offline), _script_text(static["/app.js"])]
    style = static["/style.css"]
    policy = "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(f"'sha256-{_sha256(s)}'" for s in scripts),
            f"style-src 'sha256-{_sha256(style)}'",
            "img-src data:",
            "connect-src 'none'",
            "form-action 'none'",
            "base-uri 'none'",
        ]
    )
    page = static["/"]
    page = _replace_once(
        page,
        '<meta charset="utf-8">',
        '<meta charset="utf-8">\n  <meta http-equiv="Content-Security-Policy" '
        f'content="{html_escape.escape(policy, quote=False)}">',
    )
    page = _replace_once(
        page, '<link rel="stylesheet" href="style.css">', f"<style>{style}</style>"
    )
    page = _replace_once(page, '  <script src="app.js" defer></script>\n', "")
    page = _replace_once(page, _FOOTER_SERVED, _FOOTER_EXPORTED)
    model = _script_text(json.dumps(spec, separators=(",", ":")))
    body_end = (
        f'  <script type="application/json" id="mlp-model">{model}</script>\n'
        + "".join(f"  <script>{s}</script>\n" for s in scripts)
        + "</body>"
    )
    return _replace_once(page, "</body>", body_end)
