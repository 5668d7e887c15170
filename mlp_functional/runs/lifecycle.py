"""A training run's life, as a library: start or resume, train epoch by epoch with a
commit after each, stop early, stop when asked, finish with the final figures.

Nothing here prints; everything worth telling is reported through :class:`Events`.
The run is a pure function of its settings: one key from ``seed`` is split into the keys
that initialise the weights, shuffle the batches and carve the validation split, so a
resumed run ends bit-identical to one that was never stopped. The folder is locked for
the whole life of a run (:mod:`~mlp_functional.runs.lock`), and every epoch is committed
at once (:mod:`~mlp_functional.runs.commit`).

>>> import tempfile, numpy as np
>>> from mlp_functional.data import Dataset, Split
>>> rng = np.random.default_rng(0)
>>> def toy_split(n):
...     return Split(rng.integers(0, 256, (n, 28, 28), np.uint8), np.arange(n, dtype=np.uint8) % 10)
>>> toy = Dataset(toy_split(200), toy_split(50), tuple("0123456789"), "mnist")
>>> settings = Settings(hidden=(16,), epochs=2, batch_size=50, val_size=40)
>>> with tempfile.TemporaryDirectory() as d:
...     with start(settings, f"{d}/run", dataset=toy) as run:
...         run, outcome = train(run)
...         run, metrics = finish(run)
...     with resume(f"{d}/run", epochs=3, dataset=toy) as run:
...         run, outcome = train(run)
>>> outcome, run.progress.epoch, sorted(metrics)[:3]
('finished', 3, ['best_epoch', 'best_val_loss', 'epochs'])
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..engine.stopping import Criterion, Standing, judge, validation_loss, watch
from . import lock
from .commit import (
    MANIFEST_FILE,
    Fault,
    Manifest,
    commit,
    read_manifest,
    recover,
    remove_leftovers,
)
from .folder import (
    CONFIG_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    RUN_FILES,
    STATE_FILE,
    RunError,
    json_bytes,
    new_run_dir,
    parse_file,
    read_file,
    unmanifested,
)
from .recipes import DECAYING_SCHEDULES, Training, build, steps_per_epoch
from .resources import (
    EVAL_CHUNK,
    apply_recorded_scaling,
    check_augment,
    check_memory,
    fit_table_scaling,
    keys,
    load_data,
)
from .resources import split as split_rows
from .schema import check_config, check_history, check_progress
from .settings import Settings, SettingsError, check, from_record

if TYPE_CHECKING:
    import numpy as np

    from ..data import Dataset, Split, TrainVal
    from ..engine.epochs import EpochLog
    from ..textbook.params import Params
    from ..textbook.train import TrainState

__all__ = [
    "CONFIG_VERSION",
    "Events",
    "Progress",
    "Session",
    "finish",
    "resume",
    "start",
    "train",
]

CONFIG_VERSION = 1
#: What ``train`` returns as its outcome.
FINISHED, EARLY_STOP, STOPPED = "finished", "early_stop", "stopped"


def _nothing(*args: Any) -> None:
    return None


def _never() -> bool:
    return False


class Events(NamedTuple):
    """How a run reports, and how it is asked to stop; every callback is optional.

    Attributes:
      examples: called after each batch with the number of examples it held.
      epoch: called after each committed epoch with the session and the epoch's log.
      note: called with a one-line notice (a re-planned schedule, say).
      stop: asked after every batch and every epoch; ``True`` ends the run cleanly at
        the last committed epoch (an unfinished epoch is discarded).
    """

    examples: Callable[[int], None] = _nothing
    epoch: Callable[[Session, EpochLog], None] = _nothing
    note: Callable[[str], None] = _nothing
    stop: Callable[[], bool] = _never


class Progress(NamedTuple):
    """Where a run stands after an epoch: saved with the training state.

    The :class:`~mlp_functional.stopping.Standing` of the validation loss, field for
    field, under the names the state file records.
    """

    epoch: int = 0
    best_val_loss: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    stopped_early: bool = False


class Session(NamedTuple):
    """A run being trained: its folder (locked), settings, data and last committed epoch."""

    folder: Path
    settings: Settings
    config: dict[str, Any]
    state: TrainState
    progress: Progress
    history: list[dict[str, Any]]
    dataset: Dataset
    split: TrainVal
    manifest: Manifest | None
    events: Events
    fault: Fault | None = None


class _StopRequestedError(Exception):
    """Raised from the batch callback when a stop was asked for."""


def _training(settings: Settings, split: TrainVal) -> Training:
    return build(settings, steps_per_epoch(len(split.train), settings.batch_size))


def _data_record(dataset: Dataset, split: TrainVal) -> dict[str, Any]:
    """config.json's ``data``: classes, counts, and where the data came from (the built-in
    dataset's file checksums, or your own data's :func:`~mlp_functional.data.source_record`)."""
    from ..data import get_spec, source_record

    if dataset.source is not None:
        origin: dict[str, Any] = {"source": source_record(dataset.source)}
    else:
        origin = {"sha256": {f.name: f.sha256 for f in get_spec(dataset.name).files}}
    return {
        "name": dataset.name,
        "classes": list(dataset.classes),
        **origin,
        "dtype": str(dataset.train.images.dtype),
        "train_examples": len(split.train),
        "val_examples": len(split.val),
        "test_examples": len(dataset.test.labels),
    }


def _config(settings: Settings, sizes: list[int], dataset: Dataset, split: TrainVal) -> dict:
    import numpy as np

    from ..version import __version__

    return {
        "format_version": CONFIG_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "settings": settings._asdict(),
        "model": {"sizes": sizes, "activation": settings.activation, "dtype": "float32"},
        "data": _data_record(dataset, split),
        "versions": {
            "mlp_functional": __version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }


def _read_data(settings: Settings, dataset: Dataset | None, events: Events) -> Dataset:
    """The run's data (``dataset`` when given), checked against the settings; files left
    out by ``skip_bad`` are told through ``events.note``."""
    data = dataset if dataset is not None else load_data(settings)
    check_augment(settings, data)
    skipped = data.source.skipped if data.source is not None else ()
    if skipped:
        where = data.source.path if data.source is not None else data.name
        events.note(
            f"{where}: skipped {len(skipped)} file(s) that are not images (the first: {skipped[0]})"
        )
    return data


# ---- starting and resuming -------------------------------------------------------------

#: What a folder may hold and still count as "nothing committed" (so it can be restarted):
#: what a kill before the first commit, or an earlier version's kill before its state file,
#: leaves. A finished run (metrics.json) or any other file makes it someone's work.
_RESTARTABLE = frozenset({CONFIG_FILE, MODEL_FILE, HISTORY_FILE, lock.LOCK_FILE})


def _claim(out: str | os.PathLike[str] | None, root: str | os.PathLike[str]) -> Path:
    if out is None:
        return new_run_dir(root)
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise RunError(f"{folder} is a file, not a folder; choose another folder for the run")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _clear_uncommitted(folder: Path) -> None:
    """Empty a folder that holds no committed epoch, or refuse if it holds anything else."""
    remove_leftovers(folder)
    names = {child.name for child in folder.iterdir()}
    if read_manifest(folder) is not None or STATE_FILE in names or names - _RESTARTABLE:
        raise RunError(
            f"{folder} already exists and is not empty; choose another folder, delete it, "
            f"or continue that run with --resume {folder}"
        )
    for name in names - {lock.LOCK_FILE}:
        (folder / name).unlink()


def _remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` if nothing is in it (a ``runs/`` made for a run that failed)."""
    with contextlib.suppress(OSError):
        folder.rmdir()


def _remove_uncommitted(folder: Path, created: bool) -> None:
    """After a run that committed nothing: remove what it wrote (the folder if it made it)."""
    if read_manifest(folder) is not None:
        return
    if created:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for name in (*RUN_FILES, lock.LOCK_FILE):  # the folder is left as empty as it was
        (folder / name).unlink(missing_ok=True)
    remove_leftovers(folder)


@contextlib.contextmanager
def start(
    settings: Settings,
    out: str | os.PathLike[str] | None = None,
    *,
    root: str | os.PathLike[str] = "runs",
    events: Events = Events(),  # noqa: B008 - immutable
    dataset: Dataset | None = None,
    fault: Fault | None = None,
) -> Iterator[Session]:
    """A new run in ``out`` (or a fresh folder under ``root``), locked for the block.

    ``out`` may be missing, empty, or a folder where a run started but committed no
    epoch (it is started afresh). If the block commits no epoch, what it wrote is removed.
    ``dataset`` replaces :func:`load_data` (tests, callers holding their data in memory).

    Raises:
      SettingsError: a setting is invalid.
      RunError: ``out`` holds another run, is locked by another process, the data are
        missing, or the model would not fit in memory.
    """
    from ..engine.api import init
    from ..textbook.train import init_state

    check(settings)
    created = out is None or not Path(out).exists()
    root_created = out is None and not Path(root).exists()
    folder = _claim(out, root)
    with contextlib.ExitStack() as cleanup:
        if root_created:  # registered first, so it runs last: after the run folder is gone
            cleanup.callback(_remove_if_empty, Path(root))
        cleanup.enter_context(lock.hold(folder))
        _clear_uncommitted(folder)
        try:
            data = _read_data(settings, dataset, events)
            split = split_rows(settings, data)
            data, scaling = fit_table_scaling(data, split)
            sizes = [data.train.images[0].size, *settings.hidden, len(data.classes)]
            check_memory(settings, sizes)
            init_key, shuffle_key, _ = keys(settings.seed)
            params = init(init_key, sizes, activation=settings.activation)
            state = init_state(shuffle_key, params, _training(settings, split).optimizer)
            config = _config(settings, sizes, data, split)
            if scaling is not None:
                config["data"]["scaling"] = scaling
            yield Session(
                folder, settings, config, state, Progress(), [], data, split, None, events, fault
            )
        finally:
            _remove_uncommitted(folder, created)


def decode_state(folder: Path, data: bytes, optimizer: Any) -> tuple[Any, Progress]:
    """The training state and progress in ``data``, the bytes of the folder's
    ``state.safetensors``, checked for ``optimizer``."""
    from .checkpoint import CheckpointError, decode_train_state

    path = folder / STATE_FILE
    try:
        state, raw = decode_train_state(data, str(path), optimizer)
    except CheckpointError as e:
        raise RunError(str(e)) from None
    return state, checked_progress(path, raw)


def checked_progress(path: Path, raw: Any) -> Progress:
    """The progress record saved in the state file ``path``, checked."""
    try:
        check_progress(raw)
    except ValueError as e:
        raise RunError(f"{path}: progress {e}; train a new run") from None
    return Progress(**{k: raw[k] for k in Progress._fields if k in raw})


@contextlib.contextmanager
def resume(
    run_dir: str | os.PathLike[str],
    *,
    epochs: int | None = None,
    data_dir: str | None = None,
    data: str | None = None,
    events: Events = Events(),  # noqa: B008 - immutable
    dataset: Dataset | None = None,
    fault: Fault | None = None,
) -> Iterator[Session]:
    """The run in ``run_dir`` at its last committed epoch, locked for the block.

    Args:
      run_dir: the run folder.
      epochs: the new total number of epochs (``None``: the run's own).
      data_dir: where a built-in dataset's files are now, if they moved.
      data: where your own data are now, if they moved (by default the recorded path);
        they must be the same data (same SHA-256 and shape).

    Raises:
      RunError: nothing was committed, a file is damaged or inconsistent.
      DataChangedError: the run's own data have changed (the message names the file).
      SettingsError: ``epochs`` is below the epochs already trained.
    """
    folder = Path(run_dir)
    if not folder.is_dir():
        raise RunError(f"{folder}: no such run folder; check the path")
    with lock.hold(folder):
        yield _reopen(folder, epochs, (data_dir, data), events, dataset, fault)


def _moved_data(folder: Path, saved: Settings, config: dict, moved: tuple) -> Settings:
    """The saved settings with the data's place now: ``moved`` is ``(data_dir, data)``
    as given on resume; own data are read from their recorded absolute path by default."""
    data_dir, data = moved
    if saved.data is None:
        if data is not None:
            raise RunError(
                f"{folder} was trained on the built-in dataset {saved.dataset}, not on your "
                "own data; leave out `data` (or train a new run)"
            )
        return saved._replace(data_dir=saved.data_dir if data_dir is None else data_dir)
    if data_dir is not None:
        raise RunError(
            f"{folder} was trained on your own data ({saved.data}); `data_dir` is for "
            "built-in datasets: give `data` if the data moved"
        )
    source = (config.get("data") or {}).get("source")
    if not isinstance(source, dict) or not isinstance(source.get("path"), str):
        raise RunError(
            f"{folder / CONFIG_FILE}: data.source, the record of the run's data, is missing; "
            "train a new run"
        )
    return saved._replace(data=source["path"] if data is None else data)


def _reopen(
    folder: Path,
    epochs: int | None,
    moved: tuple[str | None, str | None],
    events: Events,
    dataset: Dataset | None,
    fault: Fault | None,
) -> Session:
    manifest = recover(folder)
    remove_leftovers(folder)
    if manifest is None:
        if not (folder / STATE_FILE).is_file():
            raise RunError(
                f"{folder}: no epoch was committed, so there is nothing to resume; start the "
                f"run again with the command that started it (same --out {folder})"
            )
        raise unmanifested(folder)
    config_bytes = read_file(folder, manifest, CONFIG_FILE)
    config = parse_file(folder / CONFIG_FILE, config_bytes, check_config)
    try:
        saved = from_record(config.get("settings"))
    except SettingsError as e:
        plain = str(e).replace("`", "")
        raise RunError(f"{folder / CONFIG_FILE}: settings: {plain}; train a new run") from None
    settings = check(
        _moved_data(folder, saved, config, moved)._replace(
            epochs=saved.epochs if epochs is None else epochs
        )
    )
    data = _read_data(settings, dataset, events)
    if settings.data is not None and data.source is not None:
        from ..data import check_same_data

        check_same_data(config["data"]["source"], data.source)
    split = split_rows(settings, data)
    data = apply_recorded_scaling(data, config, folder / CONFIG_FILE)
    state_bytes = read_file(folder, manifest, STATE_FILE)
    state, progress = decode_state(folder, state_bytes, _training(settings, split).optimizer)
    recorded = config["model"]["sizes"]
    if list(state.params.sizes) != recorded:
        raise RunError(
            f"{folder}: {STATE_FILE} holds a {_shape(state.params.sizes)} model, "
            f"{CONFIG_FILE} describes {_shape(recorded)}; the folder mixes two runs: "
            "train a new run"
        )
    sizes = [data.train.images[0].size, *settings.hidden, len(data.classes)]
    if sizes != recorded:
        raise RunError(
            f"{folder}: {CONFIG_FILE} describes a {_shape(recorded)} model, its settings and "
            f"data give {_shape(sizes)}; the file is inconsistent: restore it or train a new run"
        )
    if MODEL_FILE in manifest.files:
        _read_model(folder, manifest, recorded)
    check_memory(settings, sizes)
    if settings.epochs < progress.epoch:
        raise SettingsError(
            f"{folder} has already trained {progress.epoch} epochs; pass `epochs` "
            f"{progress.epoch} or more"
        )
    history = []
    if HISTORY_FILE in manifest.files:
        history = parse_file(
            folder / HISTORY_FILE, read_file(folder, manifest, HISTORY_FILE), check_history
        )
    if len(history) < progress.epoch and HISTORY_FILE not in manifest.files:
        # A run that trained an epoch always commits its history: the list lost it.
        raise RunError(
            f"{folder / MANIFEST_FILE}: lists no {HISTORY_FILE} for {progress.epoch} trained "
            "epochs; the file is damaged: restore it or train a new run"
        )
    if len(history) < progress.epoch:
        raise RunError(f"{folder / HISTORY_FILE}: missing epochs; train a new run")
    recorded = config.get("data", {})
    if (recorded.get("train_examples"), recorded.get("val_examples")) != (
        len(split.train),
        len(split.val),
    ):
        raise RunError(f"{folder}: the data differ from the data this run started with")
    if (
        settings.epochs != saved.epochs
        and settings.schedule in DECAYING_SCHEDULES
        and progress.epoch < settings.epochs
    ):
        events.note(
            f"the {settings.schedule} schedule now spans {settings.epochs} epochs instead of "
            f"{saved.epochs}, so the result differs from a straight run of {settings.epochs} epochs"
        )
    config = {**config, "settings": settings._asdict()}
    if settings.data is not None and data.source is not None:  # the same data, maybe moved
        from ..data import source_record

        config["data"] = {**config["data"], "source": source_record(data.source)}
    return Session(
        folder,
        settings,
        config,
        state,
        progress,
        history[: progress.epoch],
        data,
        split,
        manifest,
        events,
        fault,
    )


# ---- training --------------------------------------------------------------------------


def _record(epoch: int, log: EpochLog) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "train_loss": log.loss,
        "train_accuracy": log.accuracy,
        "val_loss": log.val_loss,
        "val_accuracy": log.val_accuracy,
        "learning_rate": log.learning_rate,
        "seconds": log.seconds,
    }


def _criterion(patience: int | None) -> Criterion:
    """A run's early stopping: ``patience`` epochs without a lower validation loss."""
    return Criterion(validation_loss, patience)


def advance(progress: Progress, epoch: int, val_loss: float, patience: int | None) -> Progress:
    """The early-stopping bookkeeping after epoch ``epoch`` (pure): one step of
    :func:`~mlp_functional.stopping.judge`, as :func:`train` takes it.

    >>> p = advance(Progress(), 1, 0.5, patience=1)
    >>> advance(p, 2, 0.6, patience=1).stopped_early
    True
    """
    before = Standing(*progress._replace(epoch=epoch - 1))
    return Progress(*judge(_criterion(patience), before, val_loss))


def _commit(session: Session, files: Mapping[str, bytes], epoch: int) -> Manifest:
    """Commit ``files``, keeping the last commit's others (metrics.json is dropped)."""
    old = session.manifest.files if session.manifest is not None else {}
    keep = {n: e for n, e in old.items() if n not in files and n != METRICS_FILE}
    try:
        return commit(session.folder, files, epoch=epoch, keep=keep, fault=session.fault)
    except OSError as e:
        saved = session.progress.epoch
        kept = (
            f"{session.folder} keeps epoch {saved}; free space or fix the folder, then "
            f"continue with --resume {session.folder}"
            if saved
            else "no epoch was saved"
        )
        raise RunError(f"{e.filename or session.folder}: {e.strerror or e}; {kept}") from None


def train(session: Session) -> tuple[Session, str]:
    """Train up to ``settings.epochs`` in total, committing every epoch.

    Returns:
      ``(session, outcome)``: the session at its last committed epoch, and ``"finished"``,
      ``"early_stop"`` (patience ran out; the best epoch's model is kept) or ``"stopped"``
      (``events.stop()`` said so).

    Raises:
      RunError: training diverged (the folder keeps the last committed epoch), or a file
        could not be written.
    """
    from ..engine.epochs import DivergenceError
    from ..engine.table import fit
    from .checkpoint import encode_params, encode_train_state

    s, events = session.settings, session.events
    remaining = 0 if session.progress.stopped_early else s.epochs - session.progress.epoch

    def batch_done(examples: int) -> None:
        events.examples(examples)
        if events.stop():
            raise _StopRequestedError

    regimen = _training(s, session.split).regimen
    training_data = session.dataset.train
    stream = fit(
        session.state,
        training_data.images,
        training_data.labels,
        epochs=remaining,
        # the validation rows are scored where they lie: a copy would be the largest
        # allocation of a default run after the data itself
        validation=(training_data.images, training_data.labels, session.split.val)
        if len(session.split.val)
        else None,
        **regimen._replace(rows=session.split.train, progress=batch_done)._asdict(),
    )
    try:
        for state, log, standing in watch(
            stream, _criterion(s.patience), Standing(*session.progress)
        ):
            progress = Progress(*standing)
            epoch = progress.epoch
            history = [*session.history, _record(epoch, log)]
            files = {
                CONFIG_FILE: json_bytes(session.config),
                HISTORY_FILE: json_bytes(history),
                STATE_FILE: encode_train_state(state, progress._asdict()),
            }
            if s.patience is None or progress.best_epoch == epoch:
                files = {MODEL_FILE: encode_params(state.params), **files}
            manifest = _commit(session, files, epoch)
            session = session._replace(
                state=state, progress=progress, history=history, manifest=manifest
            )
            events.epoch(session, log)
            if progress.stopped_early:
                return session, EARLY_STOP
            if events.stop():
                return session, STOPPED
    except _StopRequestedError:
        return session, STOPPED
    except DivergenceError as e:
        saved = f"; {session.folder} keeps epoch {session.progress.epoch}"
        raise RunError(
            f"training diverged in epoch {session.progress.epoch + 1} (loss {e.loss} at step "
            f"{e.step}); try a smaller `lr` than {s.lr:g}"
            + (saved if session.progress.epoch else "")
        ) from None
    return session, FINISHED


def _shape(sizes: Any) -> str:
    """Layer sizes as the command line writes them: ``784-32-10``."""
    return "-".join(map(str, sizes))


def _read_model(folder: Path, manifest: Manifest | None, sizes: list[int]) -> Params:
    """The committed model, checked against the architecture config.json records."""
    from .checkpoint import CheckpointError, decode_params

    try:
        params = decode_params(read_file(folder, manifest, MODEL_FILE), str(folder / MODEL_FILE))
    except CheckpointError as e:
        raise RunError(str(e)) from None
    if list(params.sizes) != sizes:
        raise RunError(
            f"{folder}: {MODEL_FILE} holds a {_shape(params.sizes)} model, "
            f"{CONFIG_FILE} describes {_shape(sizes)}; the folder mixes two runs: "
            "train a new run"
        )
    return params


def _evaluate_rows(params: Params, data: Split, rows: np.ndarray) -> tuple[float, float]:
    """Loss and accuracy on ``data``'s ``rows``, a chunk at a time (no full copy)."""
    from ..engine.table import evaluate

    loss_sum = correct = 0.0
    for begin in range(0, len(rows), EVAL_CHUNK):
        idx = rows[begin : begin + EVAL_CHUNK]
        loss, acc = evaluate(params, data.images[idx], data.labels[idx])
        loss_sum += loss * len(idx)
        correct += acc * len(idx)
    n = max(len(rows), 1)
    return loss_sum / n, correct / n


def finish(session: Session) -> tuple[Session, dict[str, Any]]:
    """Evaluate the kept model on the training and test sets; commit metrics.json."""
    from ..engine.table import evaluate

    folder = session.folder
    params = _read_model(folder, session.manifest, session.config["model"]["sizes"])
    data, split, p = session.dataset, session.split, session.progress
    train_loss, train_acc = _evaluate_rows(params, data.train, split.train)
    test_loss, test_acc = evaluate(params, data.test.images, data.test.labels)
    metrics = {
        "train_accuracy": train_acc,
        "test_accuracy": test_acc,
        "train_loss": train_loss,
        "test_loss": test_loss,
        "epochs": p.epoch,
        "best_epoch": p.best_epoch if session.settings.patience is not None else p.epoch,
        "best_val_loss": p.best_val_loss,
        "stopped_early": p.stopped_early,
        "train_seconds": sum(r.get("seconds") or 0.0 for r in session.history),
    }
    old = dict(session.manifest.files) if session.manifest is not None else {}
    old.pop(METRICS_FILE, None)
    try:
        manifest = commit(
            folder,
            {METRICS_FILE: json_bytes(metrics)},
            epoch=p.epoch,
            keep=old,
            fault=session.fault,
        )
    except OSError as e:
        raise RunError(
            f"{e.filename or folder}: {e.strerror or e}; {folder} keeps epoch {p.epoch}; free "
            f"space, then write the figures with --resume {folder}"
        ) from None
    return session._replace(manifest=manifest), metrics
