"""``mlp-functional bench --openblas-kernels own,Haswell``: the same bench once per
OpenBLAS kernel, each in a process of its own, then a table comparing them.

Each child runs ``bench`` with every other option of this command, in the environment
:func:`~mlp_functional.bench.openblas.child_environ` makes for its kernel, and writes its
figures as JSON beside its table. Its table is printed under a heading naming the kernel
OpenBLAS reported in it, with a note where that is not the kernel asked for; the summary
compares the kernels. Each child alternates its own rounds (ours, the floor, the peers);
the kernels run one after the other, so their ratios compare better than their seconds.

>>> from mlp_functional.cli.main import build_parser
>>> args = build_parser().parse_args(["bench", "--repeats", "1", "--openblas-kernels", "own"])
>>> " ".join(child_argv(args))
'bench --hidden 256,128 --batch-size 128 --optimizer adam --repeats 1'
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from ..bench.openblas import CORETYPE, L2_SIZE, OWN, KernelRun
from .bench import COMPARABLE_ACCURACY, blas_info, table_lines
from .errors import CliError

__all__ = ["child_argv", "environ_note", "heading", "run_kernels", "summary", "unhonoured_note"]

#: The peers, in the summary's order of columns, with the names the columns give them.
PEER_COLUMNS: Mapping[str, str] = MappingProxyType(
    {"jax": "JAX", "pytorch": "PyTorch", "scikit-learn": "scikit-learn"}
)


def child_argv(args: argparse.Namespace) -> list[str]:
    """The command line of one child: this ``bench``'s options, but the kernels."""
    argv = [] if args.threads is None else ["--threads", str(args.threads)]
    argv += ["bench", "--hidden", ",".join(map(str, args.hidden)) or "none"]
    argv += ["--batch-size", str(args.batch_size), "--optimizer", args.optimizer]
    argv += ["--repeats", str(args.repeats)]
    argv += ["--compare"] * args.compare + ["--no-memory"] * args.no_memory
    return argv + (["--data-dir", args.data_dir] if args.data_dir else [])


def environ_note(environ: Mapping[str, str | None]) -> str:
    """How ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are set in ``environ``.

    >>> environ_note({"OPENBLAS_CORETYPE": "Haswell"})
    'OPENBLAS_CORETYPE=Haswell, OPENBLAS_L2_SIZE unset'
    """
    return ", ".join(
        f"{name} unset" if environ.get(name) is None else f"{name}={environ[name]}"
        for name in (CORETYPE, L2_SIZE)
    )


def heading(run: KernelRun) -> str:
    """The heading of one child's table: the kernel OpenBLAS ran in it, and why."""
    asked = "OpenBLAS's own choice" if run.asked == OWN else f"asked for {run.asked}"
    return f"## OpenBLAS kernel {run.kernel} ({asked}; {environ_note(run.environ)})"


def unhonoured_note(run: KernelRun) -> str | None:
    """One line saying that OpenBLAS did not run the kernel asked for (None if it did)."""
    if run.honoured:
        return None
    return (
        f"note: OpenBLAS ran {run.kernel}, not {run.asked}: it ignores a name it does not "
        "know, falls back where the processor lacks the kernel's instructions, and some "
        "builds map a core onto another's kernels; these figures are for "
        f"{run.kernel}"
    )


def summary(runs: Sequence[KernelRun]) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The header and rows comparing the kernels; a peer's ratio is in brackets when its
    test accuracy fell below 95% (not comparable). Peers and peak memory have columns
    only where some run measured them."""
    peers = [name for name in PEER_COLUMNS if any(name in run.peer_ratios for run in runs)]
    memory = any(run.peak_memory_mb is not None for run in runs)
    header = (
        "asked",
        "OpenBLAS kernel",
        "floor",
        "fast epoch / floor",
        *(f"ours / {PEER_COLUMNS[name]}" for name in peers),
        "the rest per step",
        *(("peak memory, default train",) if memory else ()),
    )
    rows = []
    for run in runs:
        kernel = run.kernel if run.honoured else f"{run.kernel} (not {run.asked})"
        cells = [run.asked, kernel, f"{run.floor:.3f} s", f"{run.ratio:.2f}x"]
        for name in peers:
            ratio = run.peer_ratios.get(name)
            comparable = run.peer_accuracy.get(name, 0.0) >= COMPARABLE_ACCURACY
            cells.append(
                "" if ratio is None else f"{ratio:.2f}" if comparable else f"({ratio:.2f})"
            )
        cells.append(f"{1e3 * run.rest:.3f} ms")
        if memory:
            peak = run.peak_memory_mb
            cells.append("" if peak is None else f"{peak:.0f} MB")
        rows.append(tuple(cells))
    return header, rows


def _killed(kernel: str, returncode: int) -> CliError:
    try:
        how = signal.Signals(-returncode).name
    except ValueError:
        how = f"signal {-returncode}"
    return CliError(
        f"the bench for OpenBLAS kernel {kernel} was killed by {how}; leave {kernel} out of "
        "--openblas-kernels, or run it alone with OPENBLAS_VERBOSE=2 to see what OpenBLAS does"
    )


def run_kernels(args: argparse.Namespace) -> int:
    """Run one child per kernel asked for; print each table, then the summary."""
    import numpy  # noqa: F401  (threadpoolctl sees only the libraries already loaded)

    from ..bench.openblas import BenchChildError, child_environ, openblas_in_use, run_child

    if not openblas_in_use():
        raise CliError(
            f"NumPy here calls {blas_info()}, not OpenBLAS; --openblas-kernels needs a NumPy "
            "built with OpenBLAS (as its wheels from PyPI are): leave the option out"
        )
    print(
        f"OpenBLAS kernels: {', '.join(args.openblas_kernels)}, each timed by a bench process "
        f"of its own; this environment has {environ_note(os.environ)}"
    )
    runs = []
    for kernel in args.openblas_kernels:
        sys.stdout.flush()  # what is printed so far comes before the child's stderr
        try:
            table, run = run_child(kernel, child_argv(args), child_environ(kernel))
        except BenchChildError as failed:
            if failed.returncode < 0:
                raise _killed(kernel, failed.returncode) from None
            return failed.returncode  # the child has said why on stderr
        print()
        print(heading(run))
        note = unhonoured_note(run)
        if note:
            print(note)
        print()
        print(table, end="")
        runs.append(run)
    header, rows = summary(runs)
    print()
    print("## OpenBLAS kernels compared")
    print()
    print("\n".join(table_lines(header, rows)))
    if any(cell.startswith("(") for row in rows for cell in row):
        print("(in brackets: the peer's test accuracy was below 95%, not comparable)")
    return 0
