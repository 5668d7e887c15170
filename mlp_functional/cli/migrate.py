"""``mlp-functional migrate RUN_DIR``: check a run folder without a manifest and adopt it.

Every reader refuses a folder without ``manifest.json`` (nothing in it could be checked);
this command checks each file on its own and writes the manifest that vouches for them
(:mod:`mlp_functional.runs.migrate`).

>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> add_parser(sub)
>>> sub.choices["migrate"].parse_args(["runs/old"]).run_dir
'runs/old'
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]

HELP = "check a run folder written without a manifest (an earlier version's) and adopt it"


def add_parser(sub: Any) -> None:
    """Register ``migrate`` with the subcommand parsers."""
    p = sub.add_parser(
        "migrate",
        help=HELP,
        description=HELP
        + ". Each file is checked on its own (shapes, names, dtypes, finite weights, the "
        "sizes config.json records); a changed but plausible weight cannot be told apart, so "
        "adopt only folders you trust.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by `train`")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Adopt the folder; say what the new manifest vouches for."""
    from ..runs import STATE_FILE
    from ..runs.commit import MANIFEST_FILE
    from ..runs.migrate import migrate

    manifest = migrate(args.run_dir)
    if manifest is None:
        print(f"{args.run_dir}: already has {MANIFEST_FILE}; nothing to do")
        return 0
    print(
        f"{args.run_dir}: checked and adopted: {MANIFEST_FILE} now vouches for "
        f"{', '.join(sorted(manifest.files))} (epoch {manifest.epoch})"
    )
    if STATE_FILE not in manifest.files and (Path(args.run_dir) / STATE_FILE).exists():
        print(
            f"note: {STATE_FILE} is in an earlier version's layout and was left out: the run "
            "evaluates and predicts, but cannot be resumed"
        )
    return 0
