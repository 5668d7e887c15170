"""A bounded load test of the serve API: threads of mixed good and bad requests on loopback.

Every request has an expected status (and, for predictions, an expected label, computed
in-process with the same functions); the test reports throughput and latency, lists any
answer that differed, and checks the server still answers afterwards.

It prints nothing; ``benchmarks/serve_load.py`` runs it against a trained run and prints
the report (the numbers in BENCHMARKS.md come from it)::

    python benchmarks/serve_load.py runs/demo --threads 8 --requests 50

>>> from mlp_functional import key
>>> from mlp_functional import init
>>> from mlp_functional.serve.api import make_app
>>> from mlp_functional.serve.server import running
>>> cases = [Case("GET", "/api/model", None, 200), Case("GET", "/nope", None, 404)]
>>> with running(make_app(init(key(0), [784, 8, 10]))) as url:
...     report = load_test(url, cases, threads=2, requests=5)
>>> report.requests, report.failures, report.answers_after
(10, [], True)
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
import urllib.parse
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["Case", "LoadReport", "load_test", "standard_cases"]


class Case(NamedTuple):
    """One kind of request and what must come back.

    Attributes:
      method, path, body: the request (``body`` is sent as JSON content when not ``None``).
      status: the expected status code.
      label: for a prediction, the expected ``label`` in the answer.
    """

    method: str
    path: str
    body: bytes | None
    status: int
    label: str | None = None


class LoadReport(NamedTuple):
    """What a load test measured.

    Attributes:
      requests: how many were sent; ``seconds``: wall time of the whole run.
      requests_per_second: ``requests / seconds``.
      p50_ms, p95_ms, max_ms: latency percentiles of single requests, in milliseconds.
      failures: a description of each answer that was not the expected one.
      answers_after: whether ``GET /api/model`` still succeeds after the run.
    """

    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    failures: list[str]
    answers_after: bool


def _connect(url: str, timeout: float) -> http.client.HTTPConnection:
    parts = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)


def _send(
    conn: http.client.HTTPConnection, case: Case
) -> tuple[int, bytes, http.client.HTTPResponse]:
    headers = {"Content-Type": "application/json"} if case.body is not None else {}
    conn.request(case.method, case.path, body=case.body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read(), response


def _check(case: Case, status: int, body: bytes) -> str | None:
    """Why an answer is wrong, or ``None``."""
    if status != case.status:
        return f"{case.method} {case.path[:60]}: status {status}, expected {case.status}"
    try:
        answer = json.loads(body) if body else None
    except ValueError:
        answer = None
    if status >= 400 and not (isinstance(answer, dict) and "error" in answer):
        return f"{case.method} {case.path[:60]}: status {status} without a JSON error"
    if case.label is not None and (not isinstance(answer, dict) or answer["label"] != case.label):
        got = answer.get("label") if isinstance(answer, dict) else None
        return f"{case.method} {case.path}: label {got!r}, expected {case.label!r}"
    return None


def load_test(
    url: str,
    cases: Sequence[Case],
    *,
    threads: int = 8,
    requests: int = 50,
    timeout: float = 30.0,
) -> LoadReport:
    """Send ``threads x requests`` requests, cycling through ``cases``, and check each answer.

    Each thread keeps one connection open (reconnecting when the server closes it, as it
    does after an error) and sends its share one after another.

    Args:
      url: the server's base URL, e.g. ``http://127.0.0.1:8000/``.
      cases: the requests to cycle through; thread ``t`` sends case ``(t * requests + i)``.
      threads, requests: concurrency and requests per thread.
      timeout: seconds to wait for any one answer.
    """
    if threads < 1 or requests < 1 or not cases:
        raise ValueError(
            f"need threads >= 1, requests >= 1 and some cases, got threads={threads}, "
            f"requests={requests} and {len(cases)} cases"
        )
    latencies = np.zeros((threads, requests))
    failures: list[list[str]] = [[] for _ in range(threads)]
    start = threading.Barrier(threads + 1)

    def worker(t: int) -> None:
        conn = _connect(url, timeout)
        start.wait()
        for i in range(requests):
            case = cases[(t * requests + i) % len(cases)]
            began = time.perf_counter()
            try:
                status, body, response = _send(conn, case)
                problem = _check(case, status, body)
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as e:
                problem = f"{case.method} {case.path[:60]}: {type(e).__name__}: {e}"
                conn.close()
            latencies[t, i] = time.perf_counter() - began
            if problem:
                failures[t].append(problem)
        conn.close()

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    start.wait()
    began = time.perf_counter()
    for w in workers:
        w.join()
    seconds = time.perf_counter() - began
    conn = _connect(url, timeout)
    try:
        answers_after = _send(conn, Case("GET", "/api/model", None, 200))[0] == 200
    except (OSError, http.client.HTTPException):
        answers_after = False
    finally:
        conn.close()
    ms = latencies.reshape(-1) * 1000
    n = threads * requests
    return LoadReport(
        n,
        seconds,
        n / seconds,
        float(np.percentile(ms, 50)),
        float(np.percentile(ms, 95)),
        float(ms.max()),
        [f for fs in failures for f in fs],
        answers_after,
    )


def _png(image: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def standard_cases(app: object, digits: np.ndarray, *, png: bool = True) -> list[Case]:
    """The mix the benchmark uses: per digit a float and a PNG prediction, then bad requests.

    Expected labels are what :func:`~mlp_functional.serve.api.predict` answers in-process
    for the very same request, so the check is of the server, whatever the model's
    accuracy.

    Args:
      app: the :class:`~.api.App` being served.
      digits: MNIST-form uint8 digits ``(N, 28, 28)``.
      png: include PNG drawings (needs Pillow to encode them).
    """
    from ..serve.api import MAX_BODY, PNG_PREFIX, App, predict

    assert isinstance(app, App)

    def label(body: bytes) -> str:
        return str(predict(app, json.loads(body))["label"])

    cases: list[Case] = []
    for digit in digits:
        pixels = (digit.reshape(-1) / 255.0).round(4)
        body = json.dumps({"pixels": pixels.tolist()}).encode()
        cases.append(Case("POST", "/api/predict", body, 200, label(body)))
        if png:
            page = 255 - np.kron(digit, np.ones((8, 8), np.uint8))  # dark ink on white, x8
            data = _png(np.pad(page, 40, constant_values=255))
            body = json.dumps({"image": PNG_PREFIX + base64.b64encode(data).decode()}).encode()
            cases.append(Case("POST", "/api/predict", body, 200, label(body)))
    bad = [
        Case("POST", "/api/predict", b'{"pixels": [0.5, ', 400),
        Case("POST", "/api/predict", json.dumps({"pixels": [0.5] * 783}).encode(), 400),
        Case("POST", "/api/predict", b'{"pixels": [NaN]}', 400),
        Case("POST", "/api/predict", b'{"image": "data:image/gif;base64,R0lGODlh"}', 400),
        Case("POST", "/api/predict", b'{"image": "data:image/png;base64,iVBORw0KGgo="}', 400),
        Case("POST", "/api/predict", b"x" * (MAX_BODY + 1), 413),
        Case("GET", "/api/predict", None, 405),
        Case("GET", "/%2e%2e/%2e%2e/etc/passwd", None, 404),
        Case("GET", "/api/model", None, 200),
        Case("GET", "/", None, 200),
    ]
    return [c for pair in zip(cases, bad * len(cases), strict=False) for c in pair]
