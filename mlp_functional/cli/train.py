"""``mlp-functional train``: train a network, checkpoint every epoch, resume exactly.

Settings come from three places, in increasing priority: :data:`DEFAULTS`, the recipe
named by ``--recipe`` (see :mod:`mlp_functional.recipes`), and the flags actually given.
Every flag defaults to ``None`` so that :func:`resolve` can tell "not given" from "given
the default value".

The run is a pure function of its settings: one key from ``--seed`` is split into the
keys that initialise the weights, shuffle the batches and carve the validation split.
After every epoch the model, the history and the training state are written atomically,
the state last, so ``--resume`` continues from the last complete epoch and ends
bit-identical to a run that was never interrupted.

>>> args = build_parser_for_tests().parse_args(["--optimizer", "sgd"])
>>> s = resolve(args)
>>> s.optimizer, s.lr, s.hidden, s.epochs
('sgd', 0.1, (256, 128), 10)
>>> quick = resolve(build_parser_for_tests().parse_args(["--recipe", "quick", "--epochs", "2"]))
>>> quick.hidden, quick.schedule, quick.epochs
((2048, 1024), 'warmup_cosine', 2)
"""

from __future__ import annotations

import argparse
import contextlib
import math
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..recipes import AUGMENTATIONS, DEFAULT_LR, OPTIMIZERS, RECIPES, SCHEDULES, Recipe
from .argtypes import (
    fraction,
    hidden_sizes,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from .errors import EXIT_INTERRUPTED, PROG, CliError, Parser, UsageError

if TYPE_CHECKING:
    import numpy as np

    from ..data import Dataset, Split, TrainVal
    from ..params import Params
    from ..train import EpochLog, TrainState

__all__ = [
    "DEFAULTS",
    "Settings",
    "add_parser",
    "build_optimizer",
    "recipe_of",
    "resolve",
    "run",
]

HELP = "train a network on MNIST or Fashion-MNIST and save it in a run folder"

DATASETS = ("mnist", "fashion-mnist")
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")
#: The training settings a recipe fixes (the recipe's name and description aside).
RECIPE_FIELDS = tuple(f for f in Recipe._fields if f not in ("name", "description"))
#: The default of every setting; a recipe or an explicit flag overrides it.
DEFAULTS: dict[str, Any] = {
    "recipe": "default",
    "dataset": "mnist",
    "data_dir": None,
    **{f: getattr(RECIPES["default"], f) for f in RECIPE_FIELDS},
    "seed": 0,
    "val_size": 5000,
    "patience": None,
}
#: Settings ``--resume`` takes from the command line; the rest come from config.json.
RESUMABLE = ("epochs", "data_dir")
CONFIG_VERSION = 1
#: Rows evaluated at a time when measuring the training split.
EVAL_CHUNK = 2_000


class Settings(NamedTuple):
    """Every setting of a training run (what config.json records under ``settings``):
    the recipe's fields, the data, the seed and the early stopping."""

    recipe: str
    dataset: str
    data_dir: str | None
    hidden: tuple[int, ...]
    activation: str
    epochs: int
    batch_size: int
    optimizer: str
    lr: float
    momentum: float
    schedule: str
    warmup_epochs: float
    weight_decay: float
    l2: float
    clip: float
    dropout: float
    label_smoothing: float
    augment: str
    max_shift: float
    max_rotation: float
    max_scale: float
    max_shear: float
    alpha: float
    sigma: float
    seed: int
    val_size: int
    patience: int | None


class Progress(NamedTuple):
    """Where a run stands after an epoch: saved with the training state."""

    epoch: int = 0
    best_val_loss: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    stopped_early: bool = False


def add_parser(sub: Any) -> None:
    """Register ``train`` with the subcommand parsers."""
    p = sub.add_parser("train", help=HELP, description=HELP + ".")
    _add_arguments(p)
    p.set_defaults(run=run)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    d = DEFAULTS
    p.add_argument(
        "--recipe",
        choices=sorted(RECIPES),
        help="start from these settings (default 'default'); any flag overrides them: "
        + "; ".join(f"{r.name}: {r.description}" for r in RECIPES.values()),
    )
    p.add_argument("--dataset", choices=DATASETS, help=f"dataset (default {d['dataset']})")
    p.add_argument("--data-dir", metavar="DIR", help="folder holding the dataset's four files")
    p.add_argument(
        "--hidden",
        type=hidden_sizes,
        metavar="W1,W2",
        help="hidden layer widths (default 256,128; 'none' for a linear model)",
    )
    p.add_argument("--activation", choices=ACTIVATIONS, help="hidden activation (default relu)")
    p.add_argument("--epochs", type=positive_int, help=f"epochs in total (default {d['epochs']})")
    p.add_argument("--batch-size", type=positive_int, help="examples per step (default 128)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="optimizer (default adam)")
    lrs = ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items())
    p.add_argument("--lr", type=positive_float, help=f"peak learning rate (default: {lrs})")
    p.add_argument("--momentum", type=fraction, metavar="BETA", help="momentum's beta (0.9)")
    p.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule (constant)")
    p.add_argument(
        "--warmup-epochs", type=non_negative_float, metavar="E", help="warm-up for warmup_cosine"
    )
    p.add_argument(
        "--weight-decay", type=non_negative_float, metavar="W", help="adamw's decoupled decay"
    )
    p.add_argument("--l2", type=non_negative_float, metavar="S", help="L2 penalty strength")
    p.add_argument(
        "--clip", type=non_negative_float, metavar="NORM", help="clip the gradient's global norm"
    )
    p.add_argument("--dropout", type=fraction, metavar="RATE", help="dropout on hidden layers")
    p.add_argument("--label-smoothing", type=fraction, metavar="S", help="label smoothing")
    p.add_argument("--augment", choices=AUGMENTATIONS, help="training-image augmentation")
    for name, what in (
        ("max-shift", "pixels"),
        ("max-rotation", "degrees"),
        ("max-scale", "relative scale change"),
        ("max-shear", "shear"),
        ("alpha", "elastic strength"),
        ("sigma", "elastic smoothness"),
    ):
        p.add_argument(f"--{name}", type=non_negative_float, metavar="X", help=f"augment: {what}")
    p.add_argument("--seed", type=non_negative_int, help="random seed (default 0)")
    p.add_argument(
        "--val-size",
        type=non_negative_int,
        metavar="N",
        help="validation examples carved from the training set (default 5000; 0 for none)",
    )
    p.add_argument(
        "--patience",
        type=positive_int,
        metavar="N",
        help="stop after N epochs without a lower validation loss, keeping the best model",
    )
    p.add_argument("--out", metavar="RUN_DIR", help="new run folder (default runs/<time>)")
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue this run up to --epochs in total, exactly as if never stopped",
    )
    p.add_argument("--quiet", action="store_true", help="print only the final result")


def build_parser_for_tests() -> argparse.ArgumentParser:
    """A stand-alone parser with the ``train`` options (for tests and doctests)."""
    p = Parser(prog=f"{PROG} train")
    _add_arguments(p)
    return p


def resolve(args: argparse.Namespace) -> Settings:
    """The settings: defaults, overridden by the recipe, overridden by the flags given.

    Naming another ``--optimizer`` without ``--lr`` takes that optimizer's own default
    learning rate rather than the recipe's, which was tuned for the recipe's optimizer.
    """
    given = {k: v for k, v in vars(args).items() if k in DEFAULTS and v is not None}
    recipe = RECIPES[given.get("recipe", DEFAULTS["recipe"])]
    merged = {**DEFAULTS, **{f: getattr(recipe, f) for f in RECIPE_FIELDS}, **given}
    if "optimizer" in given and "lr" not in given and given["optimizer"] != recipe.optimizer:
        merged["lr"] = DEFAULT_LR[merged["optimizer"]]
    merged["recipe"] = recipe.name
    merged["hidden"] = tuple(merged["hidden"])
    return Settings(**merged)


def recipe_of(settings: Settings) -> Recipe:
    """The settings as a :class:`~mlp_functional.recipes.Recipe`."""
    base = RECIPES.get(settings.recipe, RECIPES["default"])
    return base._replace(**{f: getattr(settings, f) for f in RECIPE_FIELDS})


def build_optimizer(settings: Settings, steps_per_epoch: int) -> Any:
    """The optimizer the settings describe, with its schedule over the whole run.

    >>> s = resolve(build_parser_for_tests().parse_args(["--optimizer", "momentum"]))
    >>> build_optimizer(s, steps_per_epoch=10).rule.learning_rate(0)
    0.05
    """
    from ..recipes import make_optimizer

    return make_optimizer(recipe_of(settings), steps_per_epoch)


# ---- the run folder --------------------------------------------------------------------


def _settings_from_config(folder: Path, config: Mapping[str, Any]) -> Settings:
    from ..runs import CONFIG_FILE, RunError

    raw = config.get("settings")
    if not isinstance(raw, dict) or set(raw) != set(Settings._fields):
        raise RunError(f"{folder / CONFIG_FILE}: no valid 'settings' record; train a new run")
    try:
        settings = Settings(**{**raw, "hidden": tuple(raw["hidden"])})
        _check_settings(settings)
    except (TypeError, ValueError) as e:
        raise RunError(f"{folder / CONFIG_FILE}: invalid settings ({e}); train a new run") from None
    return settings


def _check_settings(s: Settings) -> None:
    def count(value: Any, low: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= low

    if s.dataset not in DATASETS or s.optimizer not in OPTIMIZERS or s.recipe not in RECIPES:
        raise ValueError(f"unknown dataset, optimizer or recipe in {s!r}")
    if s.schedule not in SCHEDULES or s.augment not in AUGMENTATIONS:
        raise ValueError(f"unknown schedule {s.schedule!r} or augmentation {s.augment!r}")
    if not (0 <= s.dropout < 1 and 0 <= s.label_smoothing < 1 and 0 <= s.momentum < 1):
        raise ValueError("dropout, label_smoothing and momentum must be in [0, 1)")
    if s.activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {s.activation!r}")
    if not all(count(h, 1) for h in s.hidden):
        raise ValueError(f"hidden={list(s.hidden)}")
    if not (count(s.epochs, 1) and count(s.batch_size, 1) and count(s.seed, 0)):
        raise ValueError("epochs, batch_size and seed must be integers")
    if not (count(s.val_size, 0) and (s.patience is None or count(s.patience, 1))):
        raise ValueError("val_size and patience must be integers")
    if not (isinstance(s.lr, (int, float)) and math.isfinite(s.lr) and s.lr > 0):
        raise ValueError(f"lr={s.lr!r}")


def _config(settings: Settings, sizes: list[int], dataset: Dataset, split: TrainVal) -> dict:
    import datetime
    import platform

    import numpy as np

    from .. import __version__
    from ..data import get_spec

    spec = get_spec(dataset.name)
    return {
        "format_version": CONFIG_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "settings": settings._asdict(),
        "model": {"sizes": sizes, "activation": settings.activation, "dtype": "float32"},
        "data": {
            "name": dataset.name,
            "classes": list(dataset.classes),
            "sha256": {f.name: f.sha256 for f in spec.files},
            "train_examples": len(split.train),
            "val_examples": len(split.val),
            "test_examples": len(dataset.test.labels),
        },
        "versions": {
            "mlp_functional": __version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }


def _prepare_out(out: str | None) -> tuple[Path | None, bool]:
    """Check ``--out`` before any work: ``(folder or None for a new one, existed)``."""
    if out is None:
        return None, False
    folder = Path(out)
    if folder.exists():
        if not folder.is_dir():
            raise CliError(f"--out {out} is a file, not a folder; choose another --out")
        if any(folder.iterdir()):
            raise CliError(
                f"{out} already exists and is not empty; choose another --out, delete it, "
                f"or continue that run with --resume {out}"
            )
        return folder, True
    return folder, False


# ---- data ------------------------------------------------------------------------------


def _evaluate_rows(params: Params, data: Split, rows: np.ndarray) -> tuple[float, float]:
    """Loss and accuracy on ``data``'s ``rows``, a chunk at a time (no full copy)."""
    from ..engines import evaluate

    loss_sum = correct = 0.0
    for start in range(0, len(rows), EVAL_CHUNK):
        idx = rows[start : start + EVAL_CHUNK]
        loss, acc = evaluate(params, data.images[idx], data.labels[idx])
        loss_sum += loss * len(idx)
        correct += acc * len(idx)
    n = max(len(rows), 1)
    return loss_sum / n, correct / n


# ---- output ----------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _epoch_line(epoch: int, total: int, log: EpochLog) -> str:
    width = len(str(total))
    parts = [f"epoch {epoch:>{width}}/{total}", f"loss {log.loss:.4f}"]
    if not math.isnan(log.val_loss):
        parts += [f"val loss {log.val_loss:.4f}", f"val acc {_pct(log.val_accuracy)}"]
    else:
        parts += [f"acc {_pct(log.accuracy)}"]
    parts.append(f"{log.seconds:.1f} s")
    return "  ".join(parts)


class _Bar:
    """Epoch lines on stdout, and a progress bar (tqdm) on stderr if it is a terminal,
    advanced batch by batch over the examples of the whole run."""

    def __init__(self, epochs: int, done: int, per_epoch: int, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=epochs * per_epoch,
                initial=done * per_epoch,
                unit="img",
                unit_scale=True,
                file=sys.stderr,
                dynamic_ncols=True,
                leave=False,
            )

    def write(self, line: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def advance(self, examples: int) -> None:
        if self.bar is not None:
            self.bar.update(examples)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextlib.contextmanager
def _sigint_held() -> Iterator[list[int]]:
    """Hold back Ctrl-C while a checkpoint is written; the list records any that came."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield received
    finally:
        signal.signal(signal.SIGINT, previous)


# ---- training --------------------------------------------------------------------------


class _Run(NamedTuple):
    folder: Path
    settings: Settings
    config: dict[str, Any]
    state: TrainState
    progress: Progress
    history: list[dict[str, Any]]
    created: bool  # this command made the folder (remove it if nothing gets saved)


def _load_data(settings: Settings) -> Dataset:
    from ..data import load

    return load(settings.dataset, data_dir=settings.data_dir)


def _keys(seed: int) -> tuple[Any, Any, Any]:
    from ..random import key, split

    init_key, shuffle_key, split_key = split(key(seed), 3)
    return init_key, shuffle_key, split_key


def _steps_per_epoch(settings: Settings, split: TrainVal) -> int:
    from ..recipes import steps_per_epoch

    return steps_per_epoch(len(split.train), settings.batch_size)


def _split(settings: Settings, dataset: Dataset) -> TrainVal:
    from ..data import train_val_split

    n = len(dataset.train.labels)
    if settings.val_size >= n:
        raise UsageError(
            f"--val-size {settings.val_size} leaves no training examples out of {n}; "
            f"use at most {n - 1}"
        )
    return train_val_split(_keys(settings.seed)[2], *dataset.train, settings.val_size)


def _start(args: argparse.Namespace) -> tuple[_Run, Dataset, TrainVal]:
    from ..params import init
    from ..runs import CONFIG_FILE, new_run_dir, write_json
    from ..train import init_state

    settings = resolve(args)
    if settings.patience is not None and settings.val_size == 0:
        raise UsageError("--patience needs a validation split; set --val-size above 0")
    folder, existed = _prepare_out(args.out)
    dataset = _load_data(settings)
    split = _split(settings, dataset)
    init_key, shuffle_key, _ = _keys(settings.seed)
    sizes = [dataset.train.images[0].size, *settings.hidden, len(dataset.classes)]
    params = init(init_key, sizes, activation=settings.activation)
    optimizer = build_optimizer(settings, _steps_per_epoch(settings, split))
    state = init_state(shuffle_key, params, optimizer)
    config = _config(settings, sizes, dataset, split)
    if folder is None:
        folder = new_run_dir("runs")
    else:
        folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / CONFIG_FILE, config)
    run = _Run(folder, settings, config, state, Progress(), [], not existed)
    return run, dataset, split


def _resume(args: argparse.Namespace) -> tuple[_Run, Dataset, TrainVal]:
    from ..checkpoint import load_train_state
    from ..runs import CONFIG_FILE, HISTORY_FILE, STATE_FILE, RunError, read_json

    given = [k for k in DEFAULTS if k not in RESUMABLE and getattr(args, k) is not None]
    if args.out is not None:
        given.append("out")
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise UsageError(
            f"{flags} cannot change when resuming; the run's settings are in "
            f"{Path(args.resume) / CONFIG_FILE} (only --epochs and --data-dir may be given)"
        )
    folder = Path(args.resume)
    if not (folder / CONFIG_FILE).is_file():
        raise RunError(f"{folder}: not a run folder (no {CONFIG_FILE}); check the path")
    config = read_json(folder / CONFIG_FILE)
    if not isinstance(config, dict):
        raise RunError(f"{folder / CONFIG_FILE}: expected a JSON object; train a new run")
    saved = _settings_from_config(folder, config)
    if not (folder / STATE_FILE).is_file():
        raise RunError(
            f"{folder}: no {STATE_FILE}, so no epoch was completed; start a new run instead"
        )
    changes: dict[str, Any] = {}
    if args.epochs is not None:
        changes["epochs"] = args.epochs
    if args.data_dir is not None:
        changes["data_dir"] = args.data_dir
    settings = saved._replace(**changes)
    dataset = _load_data(settings)
    split = _split(settings, dataset)
    optimizer = build_optimizer(settings, _steps_per_epoch(settings, split))
    state, raw_progress = load_train_state(folder / STATE_FILE, optimizer)
    try:
        progress = Progress(**raw_progress)
    except TypeError:
        progress = None
    if progress is None or not isinstance(progress.epoch, int) or progress.epoch < 0:
        raise RunError(f"{folder / STATE_FILE}: invalid progress record; train a new run")
    if list(state.params.sizes) != config.get("model", {}).get("sizes"):
        raise RunError(f"{folder}: {STATE_FILE} does not match {CONFIG_FILE}; train a new run")
    if settings.epochs < progress.epoch:
        raise UsageError(
            f"{folder} has already trained {progress.epoch} epochs; pass --epochs "
            f"{progress.epoch} or more"
        )
    history = read_json(folder / HISTORY_FILE) if (folder / HISTORY_FILE).is_file() else []
    if not isinstance(history, list) or len(history) < progress.epoch:
        raise RunError(f"{folder / HISTORY_FILE}: missing epochs; train a new run")
    data = config.get("data", {})
    if (data.get("train_examples"), data.get("val_examples")) != (
        len(split.train),
        len(split.val),
    ):
        raise RunError(f"{folder}: the data differ from the data this run started with")
    config = {**config, "settings": settings._asdict()}
    run = _Run(folder, settings, config, state, progress, history[: progress.epoch], False)
    return run, dataset, split


def _epoch_record(epoch: int, log: EpochLog) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "train_loss": log.loss,
        "train_accuracy": log.accuracy,
        "val_loss": log.val_loss,
        "val_accuracy": log.val_accuracy,
        "learning_rate": log.learning_rate,
        "seconds": log.seconds,
    }


def _advance(progress: Progress, epoch: int, val_loss: float, patience: int | None) -> Progress:
    """The early-stopping bookkeeping after an epoch (pure)."""
    if math.isnan(val_loss):
        return progress._replace(epoch=epoch)
    if progress.best_val_loss is None or val_loss < progress.best_val_loss:
        return Progress(epoch, val_loss, epoch, 0, False)
    bad = progress.bad_epochs + 1
    return progress._replace(
        epoch=epoch, bad_epochs=bad, stopped_early=patience is not None and bad >= patience
    )


def _train(run: _Run, dataset: Dataset, split: TrainVal, bar: _Bar) -> Iterator[_Run]:
    """Train epoch after epoch, checkpointing each; yields the run after every checkpoint.

    A Ctrl-C during a checkpoint is held back until the run has been yielded, so the
    caller always knows the last epoch that is safely on disk.
    """
    from ..checkpoint import save_params, save_train_state
    from ..data import take
    from ..engines import fit
    from ..recipes import make_augment
    from ..runs import HISTORY_FILE, METRICS_FILE, MODEL_FILE, STATE_FILE, write_json
    from ..train import DivergenceError

    s = run.settings
    remaining = 0 if run.progress.stopped_early else s.epochs - run.progress.epoch
    if remaining > 0:
        (run.folder / METRICS_FILE).unlink(missing_ok=True)  # it will describe a newer model
    val = take(dataset.train, split.val)  # small; the training rows are used in place
    stream = fit(
        run.state,
        dataset.train.images,
        dataset.train.labels,
        batch_size=s.batch_size,
        epochs=remaining,
        validation=(val.images, val.labels) if len(split.val) else None,
        rows=split.train,
        dropout=s.dropout,
        augment=make_augment(recipe_of(s)),
        label_smoothing=s.label_smoothing,
        progress=bar.advance,
    )
    try:
        for state, log in stream:
            epoch = run.progress.epoch + 1
            progress = _advance(run.progress, epoch, log.val_loss, s.patience)
            improved = progress.best_epoch == epoch
            history = [*run.history, _epoch_record(epoch, log)]
            with _sigint_held() as interrupted:
                if s.patience is None or improved:
                    save_params(run.folder / MODEL_FILE, state.params)
                write_json(run.folder / HISTORY_FILE, history)
                save_train_state(run.folder / STATE_FILE, state, progress._asdict())
            run = run._replace(state=state, progress=progress, history=history)
            bar.write(_epoch_line(epoch, s.epochs, log))
            yield run
            if interrupted:
                raise KeyboardInterrupt
            if progress.stopped_early:
                bar.write(
                    f"early stop: validation loss has not improved for "
                    f"{_plural(s.patience or 0, 'epoch')}; keeping epoch {progress.best_epoch}"
                )
                return
    except DivergenceError as e:
        saved = f"; {run.folder} keeps epoch {run.progress.epoch}" if run.progress.epoch else ""
        raise CliError(
            f"training diverged in epoch {run.progress.epoch + 1} (loss {e.loss} at step "
            f"{e.step}); try a smaller --lr than {s.lr:g}{saved}"
        ) from None


def _finish(run: _Run, dataset: Dataset, split: TrainVal) -> dict[str, Any]:
    """Evaluate the kept model on the training and test sets; write metrics.json."""
    from ..checkpoint import load_params
    from ..engines import evaluate
    from ..runs import METRICS_FILE, MODEL_FILE, write_json

    params = load_params(run.folder / MODEL_FILE)
    train_loss, train_acc = _evaluate_rows(params, dataset.train, split.train)
    test_loss, test_acc = evaluate(params, dataset.test.images, dataset.test.labels)
    p = run.progress
    metrics = {
        "train_accuracy": train_acc,
        "test_accuracy": test_acc,
        "train_loss": train_loss,
        "test_loss": test_loss,
        "epochs": p.epoch,
        "best_epoch": p.best_epoch if run.settings.patience is not None else p.epoch,
        "best_val_loss": p.best_val_loss,
        "stopped_early": p.stopped_early,
        "train_seconds": sum(r.get("seconds") or 0.0 for r in run.history),
    }
    write_json(run.folder / METRICS_FILE, metrics)
    return metrics


def _remove_new(run: _Run) -> None:
    """Remove what this command created when no epoch was saved."""
    if run.created:
        shutil.rmtree(run.folder, ignore_errors=True)
    else:
        for child in run.folder.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def run(args: argparse.Namespace) -> int:
    """Train (or resume) a run; print a line per epoch and the final accuracies."""
    from ..runs import CONFIG_FILE, write_json

    started = time.perf_counter()
    fresh = not args.resume
    run_, dataset, split = _start(args) if fresh else _resume(args)
    s = run_.settings
    bar = _Bar(s.epochs, run_.progress.epoch, len(split.train), quiet=args.quiet)
    try:
        if not fresh:
            write_json(run_.folder / CONFIG_FILE, run_.config)  # the new --epochs
        if fresh:
            bar.write(f"training {_describe(run_)}; saving to {run_.folder}")
        else:
            bar.write(
                f"resuming {run_.folder} after epoch {run_.progress.epoch}: {_describe(run_)}"
            )
        try:
            epochs = _train(run_, dataset, split, bar)
            for saved in epochs:  # each one is safely on disk
                run_ = saved
        finally:
            bar.close()
        metrics = _finish(run_, dataset, split)
    except KeyboardInterrupt:
        if fresh and run_.progress.epoch == 0:
            _remove_new(run_)
            print(
                f"{PROG}: interrupted before the first epoch ended; nothing saved", file=sys.stderr
            )
        else:
            hint = f"{PROG} train --resume {run_.folder} --epochs {s.epochs}"
            print(
                f"{PROG}: interrupted; {run_.folder} holds epoch {run_.progress.epoch} of "
                f"{s.epochs}; continue with: {hint}",
                file=sys.stderr,
            )
        return EXIT_INTERRUPTED
    except BaseException:
        if fresh and run_.progress.epoch == 0:
            _remove_new(run_)
        raise
    print(
        f"Train accuracy: {_pct(metrics['train_accuracy'])}  "
        f"Test accuracy: {_pct(metrics['test_accuracy'])}  "
        f"Training time: {metrics['train_seconds']:.1f} s"
    )
    bar.write(f"saved to {run_.folder} ({time.perf_counter() - started:.1f} s in all)")
    return 0


def _describe(run: _Run) -> str:
    s = run.settings
    sizes = "-".join(str(n) for n in run.config["model"]["sizes"])
    extras = [
        f"{s.schedule} schedule" if s.schedule != "constant" else "",
        f"dropout {s.dropout:g}" if s.dropout else "",
        f"label smoothing {s.label_smoothing:g}" if s.label_smoothing else "",
        f"{s.augment} augmentation" if s.augment != "none" else "",
    ]
    recipe = f"recipe {s.recipe}: " if s.recipe != "default" else ""
    return (
        f"{recipe}{sizes} {s.activation} on {s.dataset} with {s.optimizer} (lr {s.lr:g}), "
        f"{_plural(s.epochs, 'epoch')} of batches of {s.batch_size}"
        + "".join(f", {e}" for e in extras if e)
    )
