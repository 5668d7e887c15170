"""``mlp-functional serve RUN_DIR``: a local page to draw digits on and watch the model read them.

Registered with the command line like the other subcommands: ``add_parser(subparsers)``
declares the options and ``run(args) -> int`` serves until Ctrl-C.

>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> add_parser(sub)
>>> args = sub.choices["serve"].parse_args(["runs/demo", "--port", "0"])
>>> args.host, args.port, args.open, args.allow_host
('127.0.0.1', 0, False, [])
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .errors import CliError

__all__ = ["add_parser", "port_number", "run"]

HELP = "serve a page to draw digits on and watch the trained model read them"


def port_number(text: str) -> int:
    """A TCP port, 0-65535 (0 picks a free one).

    >>> port_number("8080")
    8080
    """
    try:
        value = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port must lie in 0-65535, got {value}")
    return value


def add_parser(sub: Any) -> None:
    """Register ``serve`` with the subcommand parsers."""
    p = sub.add_parser("serve", help=HELP, description=HELP + ".")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by `train`")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    p.add_argument(
        "--port", type=port_number, default=8000, help="port (default 8000; 0 picks a free one)"
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests for this host name (the Host header), e.g. the machine's "
        "name when --host is not loopback; repeatable. By default only the --host address, "
        "localhost and 127.0.0.1 are answered, which keeps web pages elsewhere out",
    )
    p.add_argument("--open", action="store_true", help="open the page in a web browser")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load the run, listen, print the address, serve until Ctrl-C."""
    from ..runs import MODEL_FILE, load_run
    from ..serve.api import make_app
    from ..serve.server import Server, is_loopback

    run_ = load_run(args.run_dir)
    _check_mnist_like(args.run_dir, run_.config)
    model = f"{args.run_dir}/{MODEL_FILE}"
    app = make_app(run_.params, run_.config, run_.metrics, name=model)
    try:
        server = Server(app, args.host, args.port, allow_hosts=args.allow_host)
    except OSError as e:
        reason = e.strerror or str(e)
        raise CliError(
            f"cannot listen on {args.host} port {args.port} ({reason}); "
            "choose another --port (0 picks a free one) or --host"
        ) from None
    with server:
        if not is_loopback(args.host):
            print(
                f"warning: listening on {args.host}: other machines can reach this page "
                "and its API (there is no login); use --host 127.0.0.1 to keep it local, "
                "and --allow-host NAME for each name other machines use to reach this one",
                file=sys.stderr,
            )
        if not app.card["png"]:
            print(
                "warning: Pillow is missing, so the page cannot send drawings: "
                "pip install 'mlp-functional[images]'",
                file=sys.stderr,
            )
        print(f"Serving {args.run_dir} at {server.url}  (Ctrl-C to stop)", flush=True)
        if args.open:
            import webbrowser

            webbrowser.open(server.url)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopped", flush=True)
    return 0


def _check_mnist_like(run_dir: str, config: Any) -> None:
    """Refuse a run on data other than 28x28 grayscale images: the page draws digits."""
    from ..data import describe_examples, mnist_like
    from ..runs import data_source

    source = data_source(config, f"{run_dir}/config.json")
    if source is None or mnist_like(source.shape[1:]):
        return
    raise CliError(
        f"{run_dir}: trained on {describe_examples(source.shape[1:])} ({source.path}); "
        "serve draws 28x28 grayscale digits, so it needs a run on such images "
        f"(MNIST-like): use `predict {run_dir} FILE...`"
    )
