"""``mlp-functional fetch``: download a dataset, or import local files, into the cache."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]

HELP = "download a dataset (or import verified files from a folder) into the cache"


def add_parser(sub: Any) -> None:
    """Register ``fetch`` with the subcommand parsers."""
    p = sub.add_parser("fetch", help=HELP, description=HELP + ".")
    p.add_argument(
        "--dataset",
        choices=("mnist", "fashion-mnist"),
        default="mnist",
        help="which dataset (default mnist)",
    )
    p.add_argument(
        "--from",
        dest="source",
        metavar="DIR",
        help="copy the four files from DIR (each verified) instead of downloading",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Fetch the dataset into the cache and say where it is."""
    from ..data import fetch, get_spec

    folder = fetch(args.dataset, source_dir=args.source)
    count = len(get_spec(args.dataset).files)
    how = f"copied from {args.source}" if args.source else "verified"
    print(f"{args.dataset}: {count} files {how} in {folder}")
    return 0
