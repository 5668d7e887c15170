"""Load-test the `serve` API: a run served on a free loopback port, threads of mixed requests.

Half the requests are predictions (784 floats or a PNG data URL of an MNIST test digit,
each with the label the model gives in-process), half are bad requests with their
expected error status; prints the report of :func:`mlp_functional.bench.loadtest.load_test`
as JSON and exits 1 when any answer was wrong. Usage:

    python benchmarks/serve_load.py RUN_DIR [--threads 8] [--requests 50] [--digits 20]
"""

from __future__ import annotations

import argparse
import json
import sys

from mlp_functional.bench.loadtest import load_test, standard_cases
from mlp_functional.data import load
from mlp_functional.runs import load_run
from mlp_functional.serve.api import make_app
from mlp_functional.serve.server import running


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--requests", type=int, default=50, help="per thread")
    parser.add_argument("--digits", type=int, default=20, help="MNIST test digits to send")
    parser.add_argument("--data-dir", default=None, help="where MNIST is (as for `train`)")
    args = parser.parse_args()

    run = load_run(args.run_dir)
    app = make_app(run.params, run.config, run.metrics)
    digits = load("mnist", data_dir=args.data_dir).test.images[: args.digits]
    cases = standard_cases(app, digits, png=bool(app.card["png"]))
    with running(app) as url:
        report = load_test(url, cases, threads=args.threads, requests=args.requests)
    summary = report._asdict()
    summary["failures"] = report.failures[:20]
    summary.update(threads=args.threads, requests_per_thread=args.requests)
    print(json.dumps(summary, indent=2))
    return 0 if not report.failures and report.answers_after else 1


if __name__ == "__main__":
    sys.exit(main())
