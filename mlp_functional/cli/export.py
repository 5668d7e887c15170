"""``mlp-functional export RUN_DIR --format onnx|html|card``: the model in a form to ship.

- ``onnx``: ``model.onnx``, the network with the run's input scaling inside, checked by
  ``onnx`` and loadable by the installed onnxruntime (the ``onnx`` extra);
- ``html``: ``model.html``, serve's drawing page with the model inside, for a browser with
  no server and no network (runs on 28x28 images);
- ``card``: ``README.md``, a Hugging Face model card with per-class test figures (reads
  the run's test set, as ``evaluate`` does).

Files go to ``RUN_DIR/export/`` unless ``--out`` names a file (or a folder to put it in);
each is written atomically: complete under its name, or not at all.

>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> add_parser(sub)
>>> sub.choices["export"].parse_args(["runs/demo", "--format", "card"]).format
'card'
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = ["FILE_NAMES", "add_parser", "run"]

HELP = "write a trained model as ONNX, as a self-contained web page, or as a model card"
#: The file each format writes, in RUN_DIR/export/ unless --out says otherwise.
FILE_NAMES: Mapping[str, str] = MappingProxyType(
    {"onnx": "model.onnx", "html": "model.html", "card": "README.md"}
)


def add_parser(sub: Any) -> None:
    """Register ``export`` with the subcommand parsers."""
    p = sub.add_parser("export", help=HELP, description=HELP + ".")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by `train`")
    p.add_argument(
        "--format",
        choices=tuple(FILE_NAMES),
        default="onnx",
        help="onnx (model.onnx), html (model.html: a page that reads drawn digits) or "
        "card (README.md); default onnx",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="where to write (default RUN_DIR/export/ and the format's file name; a folder "
        "gets that file name)",
    )
    p.add_argument(
        "--data-dir", metavar="DIR", help="card: the folder holding the dataset's four files"
    )
    p.set_defaults(run=run)


def _destination(args: argparse.Namespace) -> Path:
    name = FILE_NAMES[args.format]
    out = Path(args.out) if args.out else Path(args.run_dir) / "export" / name
    return out / name if out.is_dir() else out


def _content(args: argparse.Namespace, run_: Any) -> bytes:
    """The bytes of the exported file (nothing is written yet)."""
    model = f"{args.run_dir}/model.safetensors"
    if args.format == "onnx":
        from ..export import run_to_onnx

        return bytes(run_to_onnx(run_, name=Path(args.run_dir).name).SerializeToString())
    if args.format == "html":
        from ..export import page_html

        return page_html(run_.params, run_.config, run_.metrics, name=model).encode("utf-8")
    from ..export import model_card
    from .evaluate import run_dataset

    test = run_dataset(run_.config, data_dir=args.data_dir).test
    card = model_card(run_, test.images, test.labels, name=Path(args.run_dir).resolve().name)
    return card.encode("utf-8")


def run(args: argparse.Namespace) -> int:
    """Write the exported file; print where, and its size."""
    from ..files import atomic_file
    from ..inputs import check_model
    from ..runs import load_run

    run_ = load_run(args.run_dir)
    check_model(run_.params, f"{args.run_dir}/model.safetensors")
    content = _content(args, run_)
    out = _destination(args)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as (f, _):
        f.write(content)
    print(f"{args.format} written to {out} ({len(content) / 1e3:,.1f} kB)")
    return 0
