"""Every setting of a training run, declared once: name, type, default, valid range and
help text. The command line's flags, config.json's ``settings`` record, the recipes, the
checks and the scikit-learn estimator (which maps its parameters onto :class:`Settings`)
all come from here; :func:`~mlp_functional.runs.recipes.build` turns settings into what
trains.

``epochs`` is always the total number of epochs of the run: a resumed run trains up to
it, never "this many more". ``lr`` is the peak learning rate (a schedule shapes it over
the run); ``label_smoothing`` is the smoothing ``s`` of the targets.

>>> s = resolve({"optimizer": "sgd"})
>>> s.optimizer, s.lr, s.hidden, s.epochs
('sgd', 0.1, (256, 128), 10)
>>> quick = resolve({"recipe": "quick", "epochs": 2})
>>> quick.hidden, quick.schedule, quick.epochs
((2048, 1024), 'warmup_cosine', 2)
>>> SPECS["lr"].parse("0")
Traceback (most recent call last):
...
ValueError: must be a finite number > 0, got 0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from ..data.own import parse_image_size
from ..data.registry import DATASETS
from ..engine.api import ACTIVATIONS
from .recipes import AUGMENTATIONS, DEFAULT_LR, OPTIMIZERS, RECIPES, SCHEDULES

__all__ = [
    "DEFAULT_VAL_SIZE",
    "MAX_EPOCHS",
    "OWN_DATA_OPTIONS",
    "SPECS",
    "Settings",
    "SettingsError",
    "Spec",
    "check",
    "from_record",
    "recipe_settings",
    "resolve",
]

#: Upper bound of ``epochs``, ``warmup_epochs`` and ``patience``: far beyond any real run,
#: low enough that steps stay exact integers.
MAX_EPOCHS = 1_000_000
_MAX_WIDTH = 1_000_000
_MAX_LAYERS = 100
_MAX_COUNT = 2**62
_MAX_SIDE = 65_535
#: The validation examples of a run that does not set ``val_size`` (at most a tenth).
DEFAULT_VAL_SIZE = 5000


class SettingsError(ValueError):
    """A setting is out of range or of the wrong type; the message names it."""


class Settings(NamedTuple):
    """Every setting of a training run (what config.json records under ``settings``).

    The defaults are the ``default`` recipe's; see :data:`SPECS` for each one's meaning.
    """

    recipe: str = "default"
    dataset: str | None = "mnist"
    data: str | None = None
    label_column: str | None = None
    test_size: float = 0.2
    color: bool = False
    image_size: tuple[int, int] | None = None
    skip_bad: bool = False
    data_dir: str | None = None
    hidden: tuple[int, ...] = (256, 128)
    activation: str = "relu"
    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    weight_decay: float = 0.0
    l2: float = 0.0
    clip: float = 0.0
    max_norm: float | None = None
    dropout: float = 0.0
    input_dropout: float = 0.0
    label_smoothing: float = 0.0
    augment: str = "none"
    max_shift: float = 2.0
    max_rotation: float = 15.0
    max_scale: float = 0.1
    max_shear: float = 0.3
    alpha: float = 34.0
    sigma: float = 4.0
    seed: int = 0
    val_size: int | None = None
    patience: int | None = None


# ---- kinds of value: each parses text and checks a value (from JSON or Python) ----------


class Spec(NamedTuple):
    """How one setting is written, checked and explained.

    Attributes:
      parse: text (a flag's value) -> value; raises ``ValueError`` saying what is expected.
      problem: value -> ``None`` when valid, else what is wrong with it.
      help: one line for ``--help`` (``None``: not offered as a flag yet).
      metavar: the flag's placeholder, ``None`` for argparse's default.
      choices: the valid names, for settings that are one of a list.
      switch: a yes/no setting, given as a bare flag (``--color``).
    """

    parse: Callable[[str], Any]
    problem: Callable[[Any], str | None]
    help: str | None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    switch: bool = False


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(low: int, high: int, help: str, metavar: str | None = "N") -> Spec:
    what = f"an integer in [{low}, {high:,}]" if high < _MAX_COUNT else f"an integer >= {low}"

    def problem(value: Any) -> str | None:
        ok = _is_int(value) and low <= value <= high
        return None if ok else f"must be {what}, got {value!r}"

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise ValueError(f"expected {what}, got {text!r}") from None
        if (why := problem(value)) is not None:
            raise ValueError(why)
        return value

    return Spec(parse, problem, help, metavar)


def _number(low: float, high: float, help: str, metavar: str = "X", *, above: bool = False) -> Spec:
    """A finite number in ``[low, high)`` (``high`` inf: no bound); ``above``: ``> low``."""
    left = ">" if above else ">="
    what = (
        f"a finite number {left} {low:g}"
        if math.isinf(high)
        else f"a number in {'(' if above else '['}{low:g}, {high:g})"
    )

    def problem(value: Any) -> str | None:
        ok = (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and (value > low if above else value >= low)
            and (value < high if math.isfinite(high) else True)
        )
        return None if ok else f"must be {what}, got {value!r}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"expected {what.replace('finite ', '')}, got {text!r}") from None
        if problem(value) is not None:
            raise ValueError(f"must be {what}, got {text}")
        return value

    return Spec(parse, problem, help, metavar)


def _choice(names: tuple[str, ...], help: str) -> Spec:
    def problem(value: Any) -> str | None:
        return None if value in names else f"must be one of {', '.join(names)}, got {value!r}"

    def parse(text: str) -> str:
        if (why := problem(text)) is not None:
            raise ValueError(why)
        return text

    return Spec(parse, problem, help, None, names)


def _widths_problem(value: Any) -> str | None:
    ok = (
        isinstance(value, (list, tuple))
        and len(value) <= _MAX_LAYERS
        and all(_is_int(w) and 1 <= w <= _MAX_WIDTH for w in value)
    )
    what = f"up to {_MAX_LAYERS} widths in [1, {_MAX_WIDTH:,}]"
    return None if ok else f"must be {what}, got {value!r}"


def _parse_widths(text: str) -> tuple[int, ...]:
    """Comma-separated widths such as ``256,128``; ``""`` or ``none`` for none."""
    if text.strip().lower() in ("", "none"):
        return ()
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() and int(part) >= 1 for part in parts):
        raise ValueError(f"expected comma-separated positive widths such as 256,128, got {text!r}")
    widths = tuple(int(part) for part in parts)
    if (why := _widths_problem(widths)) is not None:
        raise ValueError(why)
    return widths


def _path(help: str | None, metavar: str) -> Spec:
    def problem(value: Any) -> str | None:
        ok = value is None or (
            isinstance(value, str) and 0 < len(value) < 4096 and "\0" not in value
        )
        return None if ok else f"must be a path or null, got {value!r}"

    def parse(text: str) -> str:
        if (why := problem(text or None)) is not None or not text:
            raise ValueError(why or "expected a path, got ''")
        return text

    return Spec(parse, problem, help, metavar)


def _text(help: str, metavar: str) -> Spec:
    def problem(value: Any) -> str | None:
        ok = value is None or (isinstance(value, str) and 0 < len(value) <= 1000)
        return None if ok else f"must be a non-empty text or null, got {value!r}"

    def parse(text: str) -> str:
        if not text or problem(text) is not None:
            raise ValueError(f"expected a name or an index, got {text[:40]!r}")
        return text

    return Spec(parse, problem, help, metavar)


def _switch(help: str) -> Spec:
    def problem(value: Any) -> str | None:
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"

    def parse(text: str) -> bool:
        if text.strip().lower() not in ("true", "false"):
            raise ValueError(f"expected true or false, got {text!r}")
        return text.strip().lower() == "true"

    return Spec(parse, problem, help, switch=True)


def _image_size_problem(value: Any) -> str | None:
    ok = value is None or (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(_is_int(n) and 1 <= n <= _MAX_SIDE for n in value)
    )
    return None if ok else f"must be a (height, width) pair in [1, {_MAX_SIDE}], got {value!r}"


def _parse_image_size(text: str) -> tuple[int, int]:
    size = parse_image_size(text)
    assert size is not None
    if (why := _image_size_problem(size)) is not None:
        raise ValueError(why)
    return size


def _optional(spec: Spec) -> Spec:
    def problem(value: Any) -> str | None:
        return None if value is None else spec.problem(value)

    return spec._replace(problem=problem)


_FRACTION = (0.0, 1.0)
_lrs = ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items())
_augment = "augment (affine or elastic): "

#: Each setting's kind, range and help, in the order of :class:`Settings`.
SPECS: Mapping[str, Spec] = MappingProxyType(
    {
        "recipe": _choice(
            tuple(RECIPES),
            "start from these settings (default 'default'); any flag overrides them: "
            + "; ".join(f"{r.name}: {r.description}" for r in RECIPES.values()),
        ),
        "dataset": _optional(_choice(tuple(DATASETS), "built-in dataset (default mnist)")),
        "data": _path(
            "your own data instead of --dataset: a .csv table, an .npz/.npy archive, or a "
            "folder of images with one subfolder per class",
            "PATH",
        ),
        "label_column": _text(
            "--data tables: the label column's name or index (default: the column named "
            "label, class, target or y, else the first)",
            "NAME",
        ),
        "test_size": _number(
            0.0, 1.0, "--data without a test set: the fraction held out (default 0.2)", above=True
        ),
        "color": _switch("--data image folders: keep RGB instead of grayscale"),
        "image_size": Spec(
            _parse_image_size,
            _image_size_problem,
            "--data image folders: resize every image to HxW pixels",
            "HxW",
        ),
        "skip_bad": _switch("--data image folders: leave out files that are not images"),
        "data_dir": _path("folder holding the dataset's four files", "DIR"),
        "hidden": Spec(
            _parse_widths,
            _widths_problem,
            "hidden layer widths (default 256,128; 'none' for a linear model)",
            "W1,W2",
        ),
        "activation": _choice(tuple(ACTIVATIONS), "hidden activation (default relu)"),
        "epochs": _count(1, MAX_EPOCHS, "epochs in total, also when resuming (default 10)"),
        "batch_size": _count(1, _MAX_COUNT, "examples per step (default 128)"),
        "optimizer": _choice(OPTIMIZERS, "optimizer (default adam)"),
        "lr": _number(0.0, math.inf, f"peak learning rate (default: {_lrs})", above=True),
        "momentum": _number(*_FRACTION, "momentum's beta (0.9)", "BETA"),
        "nesterov": _switch("momentum with Nesterov's look-ahead"),
        "b1": _number(*_FRACTION, "adam and adamw: decay of the first moment (0.9)", "BETA"),
        "b2": _number(*_FRACTION, "adam and adamw: decay of the second moment (0.999)", "BETA"),
        "eps": _number(0.0, math.inf, "adam and adamw: added to sqrt(v_hat) (1e-8)", above=True),
        "schedule": _choice(SCHEDULES, "learning-rate schedule (constant)"),
        "warmup_epochs": _number(0.0, MAX_EPOCHS, "warm-up for warmup_cosine", "E"),
        "weight_decay": _number(0.0, math.inf, "adamw's decoupled decay", "W"),
        "l2": _number(0.0, math.inf, "L2 penalty strength", "S"),
        "clip": _number(0.0, math.inf, "clip the gradient's global norm", "NORM"),
        "max_norm": _optional(
            _number(
                0.0,
                math.inf,
                "max-norm: after every step, scale each unit's incoming weights back to "
                "norm C when longer (default: off)",
                "C",
                above=True,
            )
        ),
        "dropout": _number(*_FRACTION, "dropout on hidden layers", "RATE"),
        "input_dropout": _number(
            *_FRACTION, "dropout on the input features (Srivastava et al. used 0.2)", "RATE"
        ),
        "label_smoothing": _number(*_FRACTION, "label smoothing", "S"),
        "augment": _choice(AUGMENTATIONS, "training-image augmentation"),
        "max_shift": _number(0.0, math.inf, _augment + "pixels"),
        "max_rotation": _number(0.0, math.inf, _augment + "degrees"),
        "max_scale": _number(0.0, math.inf, _augment + "relative scale change"),
        "max_shear": _number(0.0, math.inf, _augment + "shear"),
        "alpha": _number(0.0, math.inf, _augment + "elastic strength"),
        "sigma": _number(0.0, math.inf, _augment + "elastic smoothness"),
        "seed": _count(0, _MAX_COUNT, "random seed (default 0)", None),
        "val_size": _optional(
            _count(
                0,
                _MAX_COUNT,
                f"validation examples carved from the training set (default {DEFAULT_VAL_SIZE}, "
                "or a tenth of the training set if smaller; 0 for none)",
            )
        ),
        "patience": _optional(
            _count(
                1,
                MAX_EPOCHS,
                "stop after N epochs without a lower validation loss, keeping the best model",
            )
        ),
    }
)
assert tuple(SPECS) == Settings._fields, "SPECS and Settings must name the same fields"

#: The settings of how your own data are read (``data``): refused without it.
OWN_DATA_OPTIONS = ("label_column", "test_size", "color", "image_size", "skip_bad")
#: Settings a config.json written before they existed may lack (their defaults apply): your
#: own data's, the optimizers' constants, max-norm and input dropout (the values every
#: earlier run used).
_ADDED_LATER = frozenset(
    {"data", *OWN_DATA_OPTIONS, "nesterov", "b1", "b2", "eps", "max_norm", "input_dropout"}
)


def check(settings: Settings) -> Settings:
    """``settings`` itself if every field is valid, else :class:`SettingsError` naming it.

    >>> check(Settings(dropout=1.5))
    Traceback (most recent call last):
    ...
    mlp_functional.runs.settings.SettingsError: `dropout` must be a number in [0, 1), got 1.5
    """
    for name, value in zip(Settings._fields, settings, strict=True):
        if (why := SPECS[name].problem(value)) is not None:
            raise SettingsError(f"`{name}` {why}")
    _check_data_source(settings)
    if settings.patience is not None and settings.val_size == 0:
        raise SettingsError("`patience` needs a validation split; set `val_size` above 0")
    return settings


def _check_data_source(settings: Settings) -> None:
    """One source of data: a built-in ``dataset`` or your own ``data``, with its options."""
    if settings.data is None:
        if settings.dataset is None:
            raise SettingsError(
                f"`dataset` must be one of {', '.join(DATASETS)} unless `data` is given"
            )
        defaults = Settings._field_defaults
        given = [n for n in OWN_DATA_OPTIONS if getattr(settings, n) != defaults[n]]
        if given:
            raise SettingsError(
                f"`{given[0]}` applies to your own data only; give `data` or leave it out"
            )
        return
    if settings.dataset is not None:
        raise SettingsError("`data` and `dataset` are two sources of data; give only one")
    if settings.data_dir is not None:
        raise SettingsError("`data_dir` holds a built-in dataset's files; with `data` leave it out")


def recipe_settings(name: str) -> Settings:
    """The complete settings of recipe ``name``.

    >>> recipe_settings("seed").activation
    'sigmoid'
    """
    recipe = RECIPES[name]
    return Settings(recipe=name, **recipe.changes)


def resolve(given: Mapping[str, Any]) -> Settings:
    """The settings: defaults, overridden by the recipe, overridden by the ``given`` ones.

    Naming another ``optimizer`` without ``lr`` takes that optimizer's own default
    learning rate rather than the recipe's, which was tuned for the recipe's optimizer.
    """
    unknown = set(given) - set(Settings._fields)
    if unknown:
        raise SettingsError(f"unknown settings: {', '.join(sorted(unknown))}")
    base = recipe_settings(given.get("recipe", "default"))
    if given.get("data") is not None and "dataset" not in given:
        base = base._replace(dataset=None)  # your own data replace the default dataset
    merged = base._replace(**given)
    if "optimizer" in given and "lr" not in given and given["optimizer"] != base.optimizer:
        merged = merged._replace(lr=DEFAULT_LR[merged.optimizer])
    return check(merged._replace(hidden=tuple(merged.hidden)))


def from_record(raw: Any) -> Settings:
    """Settings from their JSON record (config.json), every field checked.

    A record from before your own data could be read (no ``data``, ``label_column``...),
    or from before the optimizers' constants were settings (no ``b1``, ``b2``, ``eps``,
    ``nesterov``) or max-norm or input dropout were (no ``max_norm``, ``input_dropout``),
    reads with those fields at their defaults: the values those runs used.

    >>> from_record({**Settings()._asdict(), "hidden": [64]}).hidden
    (64,)
    >>> from_record({"lr": 1})
    Traceback (most recent call last):
    ...
    mlp_functional.runs.settings.SettingsError: settings lack recipe, dataset, ...
    """
    if not isinstance(raw, dict):
        raise SettingsError(f"settings must be a JSON object, got {type(raw).__name__}")
    fields = set(Settings._fields)
    missing = [f for f in Settings._fields if f not in raw and f not in _ADDED_LATER]
    extra = sorted(set(raw) - fields)
    if missing or extra:
        detail = "; ".join(
            p
            for p in (
                f"settings lack {', '.join(missing)}" if missing else "",
                f"unknown settings {', '.join(extra)}" if extra else "",
            )
            if p
        )
        raise SettingsError(detail)
    hidden = raw["hidden"]
    if (why := _widths_problem(hidden)) is not None:
        raise SettingsError(f"`hidden` {why}")
    size = raw.get("image_size")
    if (why := _image_size_problem(size)) is not None:
        raise SettingsError(f"`image_size` {why}")
    image_size = None if size is None else (size[0], size[1])
    return check(Settings(**{**raw, "hidden": tuple(hidden), "image_size": image_size}))
