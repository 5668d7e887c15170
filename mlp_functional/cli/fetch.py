"""``mlp-functional fetch``: download a dataset, or import local files, into the cache.

Without ``--from``, files already in ``$MLP_FUNCTIONAL_DATA/<name>/`` are imported
(verified) instead of downloaded, so the command also works offline where that is set.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ..data.registry import DATASETS

__all__ = ["add_parser", "local_source", "run"]

HELP = "download a dataset (or import verified files from a folder) into the cache"


def add_parser(sub: Any) -> None:
    """Register ``fetch`` with the subcommand parsers."""
    p = sub.add_parser("fetch", help=HELP, description=HELP + ".")
    p.add_argument(
        "--dataset",
        choices=tuple(DATASETS),
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


def local_source(name: str) -> Path | None:
    """``$MLP_FUNCTIONAL_DATA/<name>`` if it holds all of the dataset's files, else None."""
    from ..data import DATA_ENV, get_spec

    root = os.environ.get(DATA_ENV)
    if not root:
        return None
    folder = Path(root) / name
    files = get_spec(name).files
    if all(any((folder / n).is_file() for n in f.names) for f in files):
        return folder
    return None


def run(args: argparse.Namespace) -> int:
    """Fetch the dataset into the cache and say where it is."""
    from ..data import DownloadOptions, fetch, get_spec
    from .progress import download_bar

    source = args.source or local_source(args.dataset)
    folder = fetch(
        args.dataset, source_dir=source, download_options=DownloadOptions(progress=download_bar)
    )
    count = len(get_spec(args.dataset).files)
    how = f"copied from {source}" if source else "verified"
    print(f"{args.dataset}: {count} files {how} in {folder}")
    return 0
