"""``python -m mlp_functional.cli.peer NAME``: time one epoch of a peer library and print
the seconds, its test accuracy and the warm-up epoch's seconds; ``bench --compare`` runs
it in a process of its own (see :func:`mlp_functional.bench.peers.time_peer`).

>>> build_parser().parse_args(["pytorch", "--batch-size", "64"]).batch_size
64
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..bench.peers import EXIT_MISSING, PEERS, PeerMissingError, time_one_epoch

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The worker's arguments: the peer, its hidden widths, batch size and data folder."""
    parser = argparse.ArgumentParser(prog="python -m mlp_functional.cli.peer")
    parser.add_argument("name", choices=sorted(PEERS))
    parser.add_argument("--hidden", default="256,128")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--data-dir")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Time one epoch of a peer, after a warm-up epoch; print seconds, accuracy, warm-up."""
    from ..data import load

    args = build_parser().parse_args(argv)
    data = load("mnist", data_dir=args.data_dir)
    hidden = [int(h) for h in args.hidden.split(",") if h]
    try:
        run = time_one_epoch(
            args.name,
            data.train.images,
            data.train.labels,
            hidden,
            args.batch_size,
            data.test.images,
            data.test.labels,
        )
    except PeerMissingError as missing:
        print(missing, file=sys.stderr)
        return EXIT_MISSING
    print(f"{run.seconds:.6f} {run.accuracy:.6f} {run.first_epoch:.6f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
