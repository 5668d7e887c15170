"""Time the `serve` API's work per prediction, in-process: no sockets, no threads.

Calls :func:`mlp_functional.serve.api.handle` on the load test's predictions (784 floats
and PNG data URLs of MNIST test digits), one BLAS thread, and prints the median time per
request of each kind over ``--repeats`` passes. Run it from two checkouts (with
``PYTHONPATH``) to compare versions of the API alternately. Usage:

    python benchmarks/serve_handle.py RUN_DIR [--digits 20] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from threadpoolctl import threadpool_info, threadpool_limits

from mlp_functional.data import load
from mlp_functional.runs import load_run
from mlp_functional.serve.api import handle, make_app

try:  # the load test's cases moved from serve/ to bench/
    from mlp_functional.bench.loadtest import standard_cases
except ImportError:
    from mlp_functional.serve.loadtest import standard_cases  # type: ignore[no-redef]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--digits", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    run = load_run(args.run_dir)
    app = make_app(run.params, run.config, run.metrics)
    digits = load("mnist").test.images[: args.digits]
    cases = [c for c in standard_cases(app, digits) if c.status == 200 and c.label]
    kinds = {"pixels": [c for c in cases if b'"pixels"' in (c.body or b"")]}
    kinds["png"] = [c for c in cases if b'"image"' in (c.body or b"")]
    medians = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for kind, group in kinds.items():
            times = []
            for _ in range(args.repeats):
                began = time.perf_counter()
                for case in group:
                    assert handle(app, case.method, case.path, case.body or b"").status == 200
                times.append((time.perf_counter() - began) / len(group))
            medians[f"{kind}_ms"] = round(1000 * statistics.median(times), 3)
    blas = [f"{i['internal_api']} {i['version']}" for i in threadpool_info()]
    print(json.dumps({**medians, "requests_per_kind": len(cases) // 2, "blas": blas}))


if __name__ == "__main__":
    main()
