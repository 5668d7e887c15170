"""``mlp-functional train``: train a network, checkpoint every epoch, resume exactly.

Settings come from three places, in increasing priority: the defaults, the recipe named
by ``--recipe`` and the flags actually given; the flags are generated from
:data:`mlp_functional.runs.settings.SPECS`, and every one defaults to ``None`` so that
"not given" differs from "given the default value". The run itself is
:mod:`mlp_functional.runs.lifecycle`; this module parses, prints and turns Ctrl-C or
SIGTERM into a clean stop at the last committed epoch.

>>> s = resolve(build_parser_for_tests().parse_args(["--optimizer", "sgd"]))
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
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..runs.errors import RunError
from ..runs.settings import SPECS, Settings, SettingsError
from ..runs.settings import resolve as resolve_settings
from .errors import PROG, Parser, UsageError

if TYPE_CHECKING:
    from ..engine.epochs import EpochLog
    from ..runs.divergence import Growth
    from ..runs.lifecycle import Session

__all__ = ["add_parser", "build_parser_for_tests", "flag", "in_flags", "resolve", "run"]

HELP = "train a network on MNIST, Fashion-MNIST or your own data and save it in a run folder"
#: Settings ``--resume`` takes from the command line; the rest come from config.json.
RESUMABLE = ("epochs", "data_dir", "data")


def flag(name: str) -> str:
    """The command-line flag of a setting.

    >>> flag("label_smoothing")
    '--label-smoothing'
    """
    return "--" + name.replace("_", "-")


def _argtype(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return convert


def add_parser(sub: Any) -> None:
    """Register ``train`` with the subcommand parsers."""
    p = sub.add_parser("train", help=HELP, description=HELP + ".")
    _add_arguments(p)
    p.set_defaults(run=run)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    for name, spec in SPECS.items():
        if spec.help is None:  # reserved, not offered yet
            continue
        if spec.switch:
            p.add_argument(flag(name), action="store_true", default=None, help=spec.help)
        elif spec.choices is not None:
            p.add_argument(flag(name), choices=spec.choices, help=spec.help)
        else:
            p.add_argument(
                flag(name), type=_argtype(spec.parse), metavar=spec.metavar, help=spec.help
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


def _given(args: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k, v in vars(args).items() if k in SPECS and v is not None}


def in_flags(text: str) -> str:
    """A message of the run library in the command's words: `name` becomes its flag.

    >>> in_flags("`batch_size` 0 is too small; `seed` too")
    '--batch-size 0 is too small; --seed too'
    """
    return re.sub(r"`([a-z_]+)`", lambda m: flag(m[1]) if m[1] in SPECS else m[1], text)


def _usage(e: SettingsError) -> UsageError:
    return UsageError(in_flags(str(e)))


def resolve(args: argparse.Namespace) -> Settings:
    """The settings: defaults, overridden by the recipe, overridden by the flags given."""
    try:
        return resolve_settings(_given(args))
    except SettingsError as e:
        raise _usage(e) from None


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

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None

    def start(self, epochs: int, done: int, per_epoch: int) -> None:
        if not self.quiet and sys.stderr.isatty():
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

    def warn(self, line: str) -> None:
        """A warning on stderr, even when quiet, without breaking the bar."""
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def advance(self, examples: int) -> None:
        if self.bar is not None:
            self.bar.update(examples)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _note(text: str) -> None:
    print(f"{PROG}: note: {text}", file=sys.stderr)


@contextlib.contextmanager
def _stop_signals() -> Iterator[list[int]]:
    """Turn the first Ctrl-C or SIGTERM into a request to stop at the last committed
    epoch (recorded in the yielded list); a second Ctrl-C interrupts at once."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: Any) -> None:
        received.append(signum)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _describe(session: Session) -> str:
    s = session.settings
    sizes = "-".join(str(n) for n in session.config["model"]["sizes"])
    extras = [
        f"{s.schedule} schedule" if s.schedule != "constant" else "",
        f"dropout {s.dropout:g}" if s.dropout else "",
        f"input dropout {s.input_dropout:g}" if s.input_dropout else "",
        f"max-norm {s.max_norm:g}" if s.max_norm is not None else "",
        f"label smoothing {s.label_smoothing:g}" if s.label_smoothing else "",
        f"{s.augment} augmentation" if s.augment != "none" else "",
    ]
    recipe = f"recipe {s.recipe}: " if s.recipe != "default" else ""
    return (
        f"{recipe}{sizes} {s.activation} on {session.dataset.name} with {s.optimizer} "
        f"(lr {s.lr:g}), "
        f"{_plural(s.epochs, 'epoch')} of batches of {s.batch_size}"
        + "".join(f", {e}" for e in extras if e)
    )


# ---- the command -----------------------------------------------------------------------


def _open(args: argparse.Namespace, events: Any) -> Any:
    from ..runs import lifecycle

    if not args.resume:
        return lifecycle.start(resolve(args), args.out, events=events)
    fixed = [k for k in _given(args) if k not in RESUMABLE]
    if args.out is not None:
        fixed.append("out")
    if fixed:
        raise UsageError(
            f"{', '.join(flag(k) for k in fixed)} cannot change when resuming; the run's "
            "settings are in its config.json (only --epochs, and --data-dir or --data if the "
            "data moved, may be given)"
        )
    return lifecycle.resume(
        args.resume, epochs=args.epochs, data_dir=args.data_dir, data=args.data, events=events
    )


def run(args: argparse.Namespace) -> int:
    """Train (or resume) a run; print a line per epoch and the final accuracies."""
    from ..runs.divergence import loss_growth
    from ..runs.lifecycle import EARLY_STOP, STOPPED, Events, finish, train

    started = time.perf_counter()
    bar = _Bar(quiet=args.quiet)
    last: list[Session] = []

    def epoch_done(session: Session, log: EpochLog) -> None:
        last[:] = [session]
        bar.write(_epoch_line(session.progress.epoch, session.settings.epochs, log))
        growth = loss_growth(session.history, session.config["model"]["sizes"][-1])
        if growth is not None:
            bar.warn(_growth_warning(growth, session.settings.lr))

    with _stop_signals() as signals:
        events = Events(bar.advance, epoch_done, _note, lambda: bool(signals))
        try:
            with _open(args, events) as session:
                last[:] = [session]
                s, done = session.settings, session.progress.epoch
                bar.start(s.epochs, done, len(session.split.train))
                if args.resume:
                    bar.write(f"resuming {session.folder} after epoch {done}: {_describe(session)}")
                else:
                    bar.write(f"training {_describe(session)}; saving to {session.folder}")
                try:
                    session, outcome = train(session)
                finally:
                    bar.close()
                if outcome == STOPPED:
                    return _stopped(session, signals[0] if signals else signal.SIGINT)
                if outcome == EARLY_STOP:
                    bar.write(
                        f"early stop: validation loss has not improved for "
                        f"{_plural(s.patience or 0, 'epoch')}; keeping epoch "
                        f"{session.progress.best_epoch}"
                    )
                session, metrics = finish(session)
        except SettingsError as e:
            raise _usage(e) from None
        except RunError as e:
            raise RunError(in_flags(str(e))) from None
        except KeyboardInterrupt:
            return _stopped(last[-1], signal.SIGINT) if last else 128 + signal.SIGINT
    print(
        f"Train accuracy: {_pct(metrics['train_accuracy'])}  "
        f"Test accuracy: {_pct(metrics['test_accuracy'])}  "
        f"Training time: {metrics['train_seconds']:.1f} s"
    )
    bar.write(f"saved to {session.folder} ({time.perf_counter() - started:.1f} s in all)")
    return 0


def _growth_warning(growth: Growth, lr: float) -> str:
    """The warning for a loss that grew by orders of magnitude in an epoch.

    >>> from mlp_functional.runs.divergence import Growth
    >>> print(_growth_warning(Growth(1, 2.3, 5.6e22), 1e10))
    mlp-functional: warning: epoch 1: the training loss grew from 2.3 to 5.6e+22 (22 orders
    of magnitude); training is diverging: lower --lr (now 1e+10)
    """
    orders = math.floor(math.log10(growth.after / growth.before))
    return (
        f"{PROG}: warning: epoch {growth.epoch}: the training loss grew from "
        f"{growth.before:.3g} to {growth.after:.3g} ({orders} orders of magnitude); training "
        f"is diverging: lower --lr (now {lr:g})"
    )


def _stopped(session: Session, signum: int) -> int:
    """Say what is saved and how to continue; the exit status of the signal."""
    what = "interrupted" if signum == signal.SIGINT else "terminated"
    if session.manifest is None and session.progress.epoch == 0:
        print(f"{PROG}: {what} before the first epoch ended; nothing saved", file=sys.stderr)
    else:
        s = session.settings
        hint = f"{PROG} train --resume {session.folder} --epochs {s.epochs}"
        print(
            f"{PROG}: {what}; {session.folder} holds epoch {session.progress.epoch} of "
            f"{s.epochs}; continue with: {hint}",
            file=sys.stderr,
        )
    return 128 + int(signum)
