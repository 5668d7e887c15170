"""``mlp-functional bench``: the epoch against its matmul floor, and against peers.

Prints the configuration, the BLAS NumPy uses, and a table of medians: the floor (the
epoch's matrix products alone, timed in this process at the same shapes), our epoch and
its ratio to the floor, GFLOP/s, the time per step split into forward, backward, update
and the rest, evaluation throughput, the peak memory of a default ``train`` run, and with
``--compare`` scikit-learn's, PyTorch's and JAX's epoch on the same job, alternating,
each with its test accuracy. The fast engine's kernels (compiled with the ``fast``
extra, NumPy without) are named, with the seconds they take to compile from scratch
and to load from the disk cache. With ``--openblas-kernels own,Haswell`` the same bench
runs once per OpenBLAS kernel, each in a process of its own (:mod:`.bench_openblas`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..runs.recipes import OPTIMIZERS
from .argtypes import hidden_sizes, openblas_kernels, positive_int

__all__ = [
    "COMPARABLE_ACCURACY",
    "add_parser",
    "blas_info",
    "blas_pin_note",
    "cpu_model",
    "run",
    "table_lines",
    "train_peak_memory_mb",
]

HELP = "time a training epoch against its matrix products alone (and against peers)"
#: A peer whose test accuracy is below this did not learn the job: its time is no match.
COMPARABLE_ACCURACY = 0.95


def add_parser(sub: Any) -> None:
    """Register ``bench`` with the subcommand parsers."""
    p = sub.add_parser("bench", help=HELP, description=HELP + ".")
    p.add_argument("--hidden", type=hidden_sizes, default=(256, 128), metavar="W1,W2")
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    p.add_argument("--repeats", type=positive_int, default=5, help="rounds, alternating")
    p.add_argument("--compare", action="store_true", help="also time scikit-learn, PyTorch and JAX")
    p.add_argument(
        "--no-memory", action="store_true", help="skip the peak memory of a default train run"
    )
    p.add_argument("--data-dir", metavar="DIR", help="folder holding MNIST's four files")
    p.add_argument(
        "--openblas-kernels",
        type=openblas_kernels,
        metavar="own,CORE",
        help="run this bench once per OpenBLAS kernel, each in a process of its own, and "
        "compare them: own (OpenBLAS's choice: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE "
        "removed) or a core name such as Haswell (OPENBLAS_CORETYPE set to it, "
        "OPENBLAS_L2_SIZE as in this environment)",
    )
    # Where a child of --openblas-kernels writes its figures, as JSON.
    p.add_argument("--result-json", metavar="FILE", help=argparse.SUPPRESS)
    p.set_defaults(run=run)


def table_lines(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table, its first column padded to line up.

    >>> rows = [("floor", "0.2 s"), ("epoch", "1 s")]
    >>> print("\\n".join(table_lines(("measure", "value"), rows)))
    | measure | value |
    |---------|---|
    | floor   | 0.2 s |
    | epoch   | 1 s |
    """
    width = max(len(row[0]) for row in [header, *rows])
    lines = [f"| {header[0]:<{width}} | " + " | ".join(header[1:]) + " |"]
    lines.append(f"|{'-' * (width + 2)}|" + "---|" * (len(header) - 1))
    lines += [f"| {row[0]:<{width}} | " + " | ".join(row[1:]) + " |" for row in rows]
    return lines


def _cpuinfo_field(name: str) -> str | None:
    """The first value of ``name`` in /proc/cpuinfo (None where there is none)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return None
    found = re.search(rf"^{name}\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
    return found.group(1).strip() if found else None


def cpu_model() -> str:
    """The processor's name, as the kernel reports it."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def blas_info() -> str:
    """Which BLAS NumPy calls, its kernel and threads (from threadpoolctl when present)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (pip install threadpoolctl to see it)"
    parts = [
        f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')} kernel, "
        f"{i.get('num_threads')} threads)"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    return "; ".join(parts) or "none found"


def blas_pin_note(
    environ: dict[str, str], flags: set[str], by_openblas_kernels: bool = False
) -> str | None:
    """A line saying that ``OPENBLAS_CORETYPE`` pins OpenBLAS's kernel, when it is set.

    The variable replaces OpenBLAS's own choice for this processor; JAX and PyTorch
    do not read it, so a pin to narrower vectors than the processor has slows our
    products and scikit-learn's, not theirs. A pin that ``--openblas-kernels`` set on
    purpose is named as such, instead of advice to unset it.

    >>> print(blas_pin_note({"OPENBLAS_CORETYPE": "Haswell"}, {"avx2", "avx512f"}))
    ... # doctest: +NORMALIZE_WHITESPACE
    note: OPENBLAS_CORETYPE=Haswell pins OpenBLAS to that kernel on a processor with
    AVX-512; JAX and PyTorch do not read it (unset it to let OpenBLAS choose)
    >>> print(blas_pin_note({"OPENBLAS_CORETYPE": "Haswell"}, set(), by_openblas_kernels=True))
    ... # doctest: +NORMALIZE_WHITESPACE
    note: OPENBLAS_CORETYPE=Haswell pins OpenBLAS to that kernel; JAX and PyTorch do not
    read it (set by --openblas-kernels)
    >>> blas_pin_note({}, {"avx512f"}) is None
    True
    """
    pinned = environ.get("OPENBLAS_CORETYPE")
    if not pinned:
        return None
    vectors = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else None
    on = f" on a processor with {vectors}" if vectors else ""
    return (
        f"note: OPENBLAS_CORETYPE={pinned} pins OpenBLAS to that kernel{on}; JAX and PyTorch "
        "do not read it "
        + (
            "(set by --openblas-kernels)"
            if by_openblas_kernels
            else "(unset it to let OpenBLAS choose)"
        )
    )


#: Runs the command, then prints the process's own peak resident memory in kB. On Linux
#: that is VmHWM, which counts only this program; ru_maxrss would also count the pages
#: the process had from its parent before it started.
_PEAK_SNIPPET = """
import resource, sys
from mlp_functional.cli.main import main
code = main(sys.argv[1:])
try:
    status = open("/proc/self/status").read()
    peak = int(status.split("VmHWM:")[1].split()[0])
except (OSError, IndexError, ValueError):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"peak-kb {peak}")
sys.exit(code)
"""


def train_peak_memory_mb(data_dir: str | None, epochs: int = 1) -> float:
    """Peak resident memory of ``mlp-functional train`` with default settings."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-c", _PEAK_SNIPPET, "train", "--epochs", str(epochs)]
        command += ["--quiet", "--out", str(Path(tmp) / "run")]
        if data_dir:
            command += ["--data-dir", data_dir]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
    return int(done.stdout.split("peak-kb")[-1].split()[0]) / 1024


def run(args: argparse.Namespace) -> int:
    """Measure and print the table (or one per OpenBLAS kernel, with --openblas-kernels)."""
    if args.openblas_kernels:
        from .bench_openblas import run_kernels

        return run_kernels(args)

    import numpy as np

    from ..bench.epoch import run_bench
    from ..bench.peers import PEERS, PeerMissingError, time_peer
    from ..data import load
    from ..runs.recipes import DEFAULT_LR, build
    from ..runs.settings import Settings

    dataset = load("mnist", data_dir=args.data_dir)
    images, labels = dataset.train.images, dataset.train.labels.astype(np.int64)
    peers = {}
    if args.compare:
        for name in PEERS:
            try:
                peers[name] = time_peer(name, args.hidden, args.batch_size, args.data_dir)
            except PeerMissingError as missing:
                print(f"{name}: skipped, {missing}", file=sys.stderr)
    settings = Settings(optimizer=args.optimizer, lr=DEFAULT_LR[args.optimizer])
    optimizer = build(settings, steps_per_epoch=1).optimizer
    result = run_bench(
        images,
        labels,
        dataset.test.images,
        hidden=args.hidden,
        batch_size=args.batch_size,
        optimizer=optimizer,
        optimizer_name=args.optimizer,
        repeats=args.repeats,
        peers=peers,
        test_labels=dataset.test.labels,
    )
    sizes = "-".join(map(str, result.sizes))
    print(
        f"job: one epoch of {sizes} ReLU on MNIST ({result.n_examples} images), "
        f"batch {result.batch_size}, {result.optimizer}, float32; medians of {args.repeats}"
    )
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores; numpy {np.__version__}; "
        f"BLAS {blas_info()}"
    )
    flags = set((_cpuinfo_field("flags") or "").split())
    # a child of --openblas-kernels is the one bench given --result-json
    pin = blas_pin_note(dict(os.environ), flags, by_openblas_kernels=bool(args.result_json))
    if pin:
        print(pin)
    step = result.step
    kernels = (
        "compiled C, built with the package"
        if result.kernels == "native"
        else "pure NumPy (MLP_FUNCTIONAL_KERNELS=numpy, or built without a C compiler)"
    )
    rows = [
        ("fast engine kernels", result.kernels, kernels),
        ("matmul floor (epoch)", f"{result.floor:.3f} s", "1.00x"),
        (
            "fast engine epoch",
            f"{result.epoch:.3f} s",
            f"{result.ratio:.2f}x floor; test accuracy {100 * result.accuracy:.1f}% after "
            f"{result.epochs} epochs",
        ),
        ("  rounds, ratio to floor", " ".join(f"{r:.2f}" for r in result.ratios), ""),
        (
            "textbook engine epoch",
            f"{result.textbook_epoch:.3f} s",
            f"{result.textbook_ratio:.2f}x floor",
        ),
        ("  throughput", f"{result.gflops:.1f} GFLOP/s", ""),
        ("  per step: forward", f"{1e3 * step.forward:.3f} ms", ""),
        ("  per step: backward", f"{1e3 * step.backward:.3f} ms", ""),
        ("  per step: update", f"{1e3 * step.update:.3f} ms", ""),
        ("  per step: the rest", f"{1e3 * result.rest:.3f} ms", "gather, loss, Python"),
        (
            "predict, 10,000 test images",
            f"{result.eval_images_per_second:,.0f} img/s",
            f"{100 * result.eval_floor_fraction:.0f}% of its matmul floor",
        ),
    ]
    for name, seconds in result.peers.items():
        accuracy = result.peer_accuracy[name]
        checked = "" if accuracy >= COMPARABLE_ACCURACY else " BELOW 95%: not comparable"
        rows.append(
            (
                f"{name} epoch",
                f"{seconds:.3f} s",
                f"{seconds / result.floor:.2f}x floor; ours / theirs = "
                f"{result.peer_ratios[name]:.2f}; test accuracy {100 * accuracy:.1f}%{checked}; "
                f"first epoch {result.peer_first_epoch[name]:.2f} s",
            )
        )
    peak = None if args.no_memory else train_peak_memory_mb(args.data_dir)
    if peak is not None:
        rows.append(("peak memory, default train", f"{peak:.0f} MB", "1 epoch, own process"))
    print()
    print("\n".join(table_lines(("measure", "value", "note"), rows)))
    if args.result_json:
        from ..bench.openblas import bench_record

        Path(args.result_json).write_text(json.dumps(bench_record(result, peak)))
    return 0
