"""Save and load models and training states as safetensors files, checked on the way in.

A model file holds one tensor per array, named ``layers.<i>.w`` and ``layers.<i>.b``, and
the architecture in its metadata, so PyTorch, JAX or any safetensors reader can open it;
nothing is ever pickled. A training-state file adds what an exact resume needs: the
current params (``params.layers.<i>.w``), the optimizer's state under the papers' names
(``opt.<transformation>.<field>.layers.<i>.w``, e.g. ``opt.0.mu.layers.0.w`` for Adam), the
random key and the caller's own bookkeeping (a JSON-able dict).

Safetensors metadata may only hold strings, and its keys come out in a random order, so
all of it is one JSON string under the single key ``mlp_functional``: the same model
always gives the same bytes. Loading checks the tensor names, shapes, dtypes and
finiteness against that metadata and refuses anything else with a
:class:`CheckpointError` whose message is one line naming the file and the fix. Writes are
atomic: a temporary file in the same folder, fsync, then :func:`os.replace`.

>>> import tempfile, pathlib
>>> from mlp_functional import key
>>> from mlp_functional import init
>>> p = init(key(0), [784, 32, 10])
>>> with tempfile.TemporaryDirectory() as d:
...     save_params(pathlib.Path(d) / "model.safetensors", p)
...     q = load_params(pathlib.Path(d) / "model.safetensors")
>>> q.sizes, q.activation.name, bool((q.layers[1].w == p.layers[1].w).all())
((784, 32, 10), 'relu', True)
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.api import ACTIVATIONS, FLOAT_DTYPES
from ..fast.state import buffer_views
from ..readonly import freeze
from ..textbook.optimizers import Optimizer
from ..textbook.params import Layer, Params, unravel
from ..textbook.random import Key
from ..textbook.train import TrainState

__all__ = [
    "FORMAT_VERSION",
    "METADATA_KEY",
    "STATE_FORMAT",
    "CheckpointError",
    "EarlierStateError",
    "check_outputs",
    "decode_params",
    "decode_train_state",
    "encode_params",
    "encode_train_state",
    "load_params",
    "load_train_state",
    "model_spec",
    "save_params",
    "save_train_state",
    "write_atomic",
]

#: Bumped whenever the layout of the files changes; older readers refuse newer files.
FORMAT_VERSION = 1
#: The layout of the optimizer state in a training-state file: 2 is the textbook form,
#: each transformation's state under its own field names.
STATE_FORMAT = 2
#: The one metadata entry this package writes and reads (a JSON string).
METADATA_KEY = "mlp_functional"
_MODEL_KIND = "model"
_STATE_KIND = "train_state"
_MAX_BYTES = 1 << 32  # 4 GiB: far beyond any model this package builds

PathLike = str | os.PathLike[str]


class CheckpointError(Exception):
    """A model or training-state file is missing, damaged, foreign or does not fit."""


class EarlierStateError(CheckpointError):
    """A training-state file in an earlier version's layout, which cannot be continued."""


# ---- saving ------------------------------------------------------------------------------


def model_spec(params: Params) -> dict[str, Any]:
    """The architecture as plain JSON-able values: sizes, activation name, dtype.

    >>> from mlp_functional import key
    >>> from mlp_functional import init
    >>> model_spec(init(key(0), [4, 3, 2], activation="tanh"))
    {'sizes': [4, 3, 2], 'activation': 'tanh', 'dtype': 'float32'}
    """
    name = params.activation.name
    if ACTIVATIONS.get(name) is not params.activation:
        known = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(
            f"activation {name!r} is not a built-in one, so a saved model could not be "
            f"loaded again; use one of: {known}"
        )
    return {"sizes": list(params.sizes), "activation": name, "dtype": str(params.dtype)}


def _tensors(params: Params, prefix: str = "") -> dict[str, np.ndarray]:
    # safetensors writes the raw buffer of each array: a non-contiguous one would come
    # back scrambled, so every array is made C-contiguous first.
    return {
        f"{prefix}layers.{i}.{name}": np.ascontiguousarray(array)
        for i, layer in enumerate(params.layers)
        for name, array in zip(Layer._fields, layer, strict=True)
    }


def write_atomic(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, with the permissions a new file normally gets.

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     write_atomic(pathlib.Path(d) / "a.txt", b"hi")
    ...     (pathlib.Path(d) / "a.txt").read_bytes()
    b'hi'
    """
    from ..files import atomic_file

    with atomic_file(path) as (f, _):
        f.write(data)


def _encode(tensors: dict[str, np.ndarray], meta: dict[str, Any]) -> bytes:
    from safetensors.numpy import save

    header = {"format_version": FORMAT_VERSION, **meta}
    return save(tensors, metadata={METADATA_KEY: json.dumps(header, sort_keys=True)})


def encode_params(params: Params) -> bytes:
    """The safetensors bytes of ``params`` (what :func:`save_params` writes)."""
    return _encode(_tensors(params), {"kind": _MODEL_KIND, "model": model_spec(params)})


def save_params(path: PathLike, params: Params) -> None:
    """Write ``params`` to a safetensors file, atomically.

    Args:
      path: the destination, e.g. ``run/model.safetensors``; its folder must exist.
      params: the model; its activation must be a built-in one.
    """
    write_atomic(path, encode_params(params))


def _state_leaves(state: Any, path: str = "") -> list[tuple[str, Any]]:
    """The optimizer state's transformations with their paths: ``"0"``, ``"1"`` in a chain."""
    if type(state) is tuple:
        return [leaf for i, part in enumerate(state) for leaf in _state_leaves(part, f"{path}{i}.")]
    return [(path.rstrip("."), state)]


def save_train_state(
    path: PathLike, state: TrainState, progress: Mapping[str, Any] | None = None
) -> None:
    """Write everything needed to continue ``state`` exactly, atomically (see
    :func:`encode_train_state`)."""
    write_atomic(path, encode_train_state(state, progress))


def encode_train_state(state: TrainState, progress: Mapping[str, Any] | None = None) -> bytes:
    """The safetensors bytes of everything needed to continue ``state`` exactly.

    The optimizer state is stored as the textbook engine holds it, under the papers'
    names: Adam's moments of the first transformation of a chain are the tensors
    ``opt.0.mu.layers.<i>.w`` and ``opt.0.nu.layers.<i>.w``, its count is in the metadata.

    Args:
      state: the training state; each transformation's state must be a NamedTuple of
        integers and Params (as every built-in optimizer's is).
      progress: the caller's bookkeeping (epoch, early-stopping counters...), as JSON-able
        values; handed back by :func:`load_train_state`.
    """
    tensors = _tensors(state.params, "params.")
    described = []
    for where, leaf in _state_leaves(state.opt_state):
        fields = getattr(type(leaf), "_fields", None)
        if fields is None:
            raise ValueError(
                f"optimizer state {type(leaf).__name__} cannot be saved: each transformation's "
                "state must be a NamedTuple of integers and Params, as the built-in ones are"
            )
        counts = {}
        for field, value in zip(fields, leaf, strict=True):
            if isinstance(value, Params):
                tensors.update(_tensors(value, f"opt.{where}.{field}."))
            elif isinstance(value, int) and not isinstance(value, bool):
                counts[field] = int(value)
            else:
                raise ValueError(
                    f"optimizer state {type(leaf).__name__}.{field} cannot be saved: "
                    "only integers and Params are"
                )
        described.append({"path": where, "state": type(leaf).__name__, "counts": counts})
    meta = {
        "kind": _STATE_KIND,
        "model": model_spec(state.params),
        "optimizer": {"format": STATE_FORMAT, "states": described},
        "key": [int(w) for w in state.key.words],
        "progress": dict(progress or {}),
    }
    return _encode(tensors, meta)


# ---- loading -----------------------------------------------------------------------------


def _read_file(path: PathLike) -> bytes:
    """The bytes of a regular file (a FIFO or device is refused, never waited on)."""
    from .commit import CommitError, read_regular

    try:
        return read_regular(Path(path), _MAX_BYTES)
    except FileNotFoundError:
        raise CheckpointError(f"{os.fspath(path)}: no such file; check the path") from None
    except CommitError as e:
        raise CheckpointError(str(e)) from None


def _decode(name: str, data: bytes, kind: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The parsed metadata and the tensors of a file written by this module."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    damaged = f"{name}: not a readable safetensors file (truncated or damaged?)"
    try:
        header = _header(data)
        tensors = load(data)
    except (SafetensorError, ValueError, UnicodeDecodeError, RecursionError) as e:
        raise CheckpointError(
            f"{damaged}: {_first_line(e)}; restore the file or train again"
        ) from None
    raw = (header.get("__metadata__") or {}).get(METADATA_KEY)
    if not isinstance(raw, str):
        raise CheckpointError(
            f"{name}: not written by mlp_functional (no '{METADATA_KEY}' metadata); "
            "load it with safetensors directly, or save the model with mlp_functional"
        )
    try:
        meta = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        meta = None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{name}: its '{METADATA_KEY}' metadata is not a JSON object")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{name}: format version {version!r}, this mlp_functional reads version "
            f"{FORMAT_VERSION}; use the mlp_functional version that wrote it"
        )
    if meta.get("kind") != kind:
        raise CheckpointError(
            f"{name}: holds a {meta.get('kind')!r}, expected a {kind!r}; check the file name"
        )
    return meta, tensors


def _header(data: bytes) -> dict[str, Any]:
    """The JSON header of a safetensors buffer (8-byte little-endian length, then JSON)."""
    if len(data) < 8:
        raise ValueError(f"only {len(data)} bytes")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise ValueError(f"header claims {n} bytes, the file has {len(data) - 8} after it")
    header = json.loads(data[8 : 8 + n])
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    return header


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def _spec(name: str, meta: Mapping[str, Any]) -> tuple[tuple[int, ...], str, np.dtype[Any]]:
    model = meta.get("model")
    bad = f"{name}: the model description in its metadata is invalid"
    if not isinstance(model, dict):
        raise CheckpointError(f"{bad} (missing)")
    sizes = model.get("sizes")
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes)
    ):
        raise CheckpointError(f"{bad}: sizes={sizes!r}")
    activation = model.get("activation")
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise CheckpointError(
            f"{bad}: unknown activation {activation!r}; known: {', '.join(sorted(ACTIVATIONS))}"
        )
    try:
        dtype = np.dtype(model.get("dtype"))
    except TypeError:
        dtype = None
    if dtype not in FLOAT_DTYPES:
        raise CheckpointError(f"{bad}: dtype={model.get('dtype')!r}")
    return tuple(sizes), activation, dtype


def _params(
    name: str,
    tensors: Mapping[str, np.ndarray],
    prefix: str,
    sizes: tuple[int, ...],
    activation: str,
    dtype: np.dtype[Any],
) -> Params:
    """Params rebuilt from ``prefix``-named tensors in one fresh read-only buffer."""
    like = Params(
        tuple(
            Layer(np.empty((i, o), dtype), np.empty(o, dtype)) for i, o in itertools.pairwise(sizes)
        ),
        ACTIVATIONS[activation],
    )
    flat = np.empty(sum(a.size for layer in like.layers for a in layer), dtype)
    params = buffer_views(flat, like)
    for i, layer in enumerate(params.layers):
        for field, dest in zip(Layer._fields, layer, strict=True):
            tensor_name = f"{prefix}layers.{i}.{field}"
            array = tensors.get(tensor_name)
            if array is None:
                raise CheckpointError(
                    f"{name}: tensor {tensor_name} is missing; the file is inconsistent: "
                    "restore it or train again"
                )
            if array.shape != dest.shape or array.dtype != dtype:
                raise CheckpointError(
                    f"{name}: tensor {tensor_name} is {array.dtype}{list(array.shape)}, the "
                    f"metadata says {dtype}{list(dest.shape)}; the file is inconsistent: "
                    "restore it or train again"
                )
            if not np.isfinite(array).all():
                raise CheckpointError(
                    f"{name}: tensor {tensor_name} holds NaN or infinity; "
                    "use an earlier checkpoint or train again"
                )
            dest[...] = array
    return unravel(freeze(flat), like)


def _check_names(name: str, tensors: Mapping[str, np.ndarray], expected: set[str]) -> None:
    actual = set(tensors)
    if actual != expected:
        missing = sorted(expected - actual)
        extra = sorted(actual - expected)
        detail = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}"
                if missing
                else "",
                f"unexpected {', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''}"
                if extra
                else "",
            )
            if part
        )
        raise CheckpointError(
            f"{name}: tensors do not match the model in its metadata ({detail}); "
            "is this file from another program?"
        )


def _names(prefix: str, n_layers: int) -> set[str]:
    return {f"{prefix}layers.{i}.{f}" for i in range(n_layers) for f in Layer._fields}


def load_params(path: PathLike) -> Params:
    """Read a model written by :func:`save_params`, checking it thoroughly.

    Raises:
      CheckpointError: the file is missing, truncated, not safetensors, not a model of
        this package, or its tensors disagree with its metadata or are not finite.
    """
    return decode_params(_read_file(path), os.fspath(path))


def decode_params(data: bytes, name: str) -> Params:
    """The model in ``data``, the bytes of a file written by :func:`save_params`, checked
    as :func:`load_params` checks it; ``name`` names the file in messages."""
    meta, tensors = _decode(name, data, _MODEL_KIND)
    sizes, activation, dtype = _spec(name, meta)
    _check_names(name, tensors, _names("", len(sizes) - 1))
    return check_outputs(_params(name, tensors, "", sizes, activation, dtype), name)


def check_outputs(params: Params, name: str) -> Params:
    """``params`` if blank and full-ink inputs give finite outputs, else
    :class:`CheckpointError` (finite but huge weights, 3e38 say, overflow to NaN).

    >>> from mlp_functional import key
    >>> from mlp_functional import init, tree_map
    >>> p = init(key(0), [4, 3, 2])
    >>> check_outputs(p, "m").sizes
    (4, 3, 2)
    >>> check_outputs(tree_map(lambda a: a * 0 + 3e38, p), "m")
    Traceback (most recent call last):
    ...
    mlp_functional.runs.checkpoint.CheckpointError: m: the weights give NaN or infinite ...
    """
    from ..textbook.forward import propagate

    blank, full_ink = (
        np.zeros(params.sizes[0], params.dtype),
        np.ones(params.sizes[0], params.dtype),
    )
    probe = np.stack([blank, full_ink])
    with np.errstate(all="ignore"):
        logits = propagate(params, probe).logits
    if not np.isfinite(logits).all():
        raise CheckpointError(
            f"{name}: the weights give NaN or infinite outputs (too large to compute with); "
            "use an earlier checkpoint or train again"
        )
    return params


def load_train_state(path: PathLike, optimizer: Optimizer) -> tuple[TrainState, dict[str, Any]]:
    """Read a training state written by :func:`save_train_state`.

    Args:
      path: the file.
      optimizer: the optimizer to continue with, built with the settings the state was
        saved with (its transformations' states must match the file's).

    Returns:
      ``(state, progress)``: the state, ready for :func:`mlp_functional.fit`, and the
      bookkeeping dict saved with it.

    Raises:
      CheckpointError: as for :func:`load_params`, or the optimizer does not match.
    """
    return decode_train_state(_read_file(path), os.fspath(path), optimizer)


def decode_train_state(
    data: bytes, name: str, optimizer: Optimizer
) -> tuple[TrainState, dict[str, Any]]:
    """The state in ``data``, the bytes of a file written by :func:`save_train_state`,
    checked as :func:`load_train_state` checks it; ``name`` names the file in messages."""
    meta, tensors = _decode(name, data, _STATE_KIND)
    sizes, activation, dtype = _spec(name, meta)
    opt = meta.get("optimizer")
    if isinstance(opt, dict) and "slots" in opt:
        raise EarlierStateError(
            f"{name}: written by an earlier version of mlp_functional, whose optimizer state "
            f"({opt.get('state')}: {', '.join(map(str, opt['slots']))}) this version does not "
            "continue; its model.safetensors still evaluates and predicts: to train further, "
            "start a new run with --out"
        )
    if not isinstance(opt, dict) or opt.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{name}: the optimizer description in its metadata is invalid")
    saved = opt.get("states")
    if not isinstance(saved, list) or not all(isinstance(d, dict) for d in saved):
        raise CheckpointError(f"{name}: the optimizer description in its metadata is invalid")
    params = check_outputs(_params(name, tensors, "params.", sizes, activation, dtype), name)
    template = optimizer.init(params)
    wanted = _state_leaves(template)
    found = [(d.get("path"), d.get("state")) for d in saved]
    if found != [(where, type(leaf).__name__) for where, leaf in wanted]:
        have = ", ".join(str(state) for _, state in found)
        need = ", ".join(type(leaf).__name__ for _, leaf in wanted)
        raise CheckpointError(
            f"{name}: saved with an optimizer whose states are ({have}), but training would "
            f"continue with one whose states are ({need}); resume with the optimizer the run "
            "was started with"
        )
    expected = _names("params.", len(sizes) - 1)
    for where, leaf in wanted:
        for field, value in zip(leaf._fields, leaf, strict=True):
            if isinstance(value, Params):
                expected |= _names(f"opt.{where}.{field}.", len(sizes) - 1)
    _check_names(name, tensors, expected)

    def filled(where: str, leaf: Any, description: dict[str, Any]) -> Any:
        counts = description.get("counts")
        if not isinstance(counts, dict):
            raise CheckpointError(f"{name}: the optimizer counts in its metadata are invalid")
        values: list[Any] = []
        for field, value in zip(leaf._fields, leaf, strict=True):
            if isinstance(value, Params):
                prefix = f"opt.{where}.{field}."
                values.append(_params(name, tensors, prefix, sizes, activation, dtype))
            else:
                values.append(_count(name, f"optimizer {field}", counts.get(field)))
        return type(leaf)(*values)

    leaves = [filled(w, leaf, d) for (w, leaf), d in zip(wanted, saved, strict=True)]
    opt_state = _rebuild(template, leaves)
    words = meta.get("key")
    if (
        not isinstance(words, list)
        or len(words) != 4
        or not all(isinstance(w, int) and not isinstance(w, bool) and 0 <= w < 2**32 for w in words)
    ):
        raise CheckpointError(f"{name}: the random key in its metadata is invalid: {words!r}")
    progress = meta.get("progress")
    if not isinstance(progress, dict):
        raise CheckpointError(f"{name}: the progress record in its metadata is invalid")
    key = Key((words[0], words[1], words[2], words[3]))
    return TrainState(params, opt_state, key, optimizer), progress


def _rebuild(template: Any, leaves: list[Any]) -> Any:
    if type(template) is tuple:
        return tuple(_rebuild(part, leaves) for part in template)
    return leaves.pop(0)


def _count(name: str, what: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CheckpointError(f"{name}: the {what} in its metadata is invalid: {value!r}")
    return value
