"""The HTTP side: a standard-library HTTP server handing each request to :func:`.api.handle`.

This module only moves bytes: it reads a bounded body, asks :func:`.api.handle` for the
answer and writes it with protective headers. What a client can cost is bounded:

- a fixed pool of ``WORKERS`` threads answers connections; up to ``QUEUE`` more wait, for
  at most ``QUEUE_WAIT`` seconds, and any beyond get 503 at once;
- a connection silent for ``TIMEOUT`` seconds is closed, and so is one whose request
  (from the wait for its first line to its last body byte) takes over ``DEADLINE``
  seconds, however slowly it trickles in; an idle keep-alive connection is closed at
  once when others are waiting;
- only requests naming an allowed ``Host`` (the bound address, ``localhost``,
  ``127.0.0.1``, ``::1`` and any given) are answered, so a web page elsewhere cannot
  reach this server through DNS rebinding, and a POST must be
  ``Content-Type: application/json`` (which a page elsewhere cannot send without the
  browser asking first); a request with several ``Content-Length`` headers is refused.

A client that sends too much, too little, too slowly or nonsense gets a JSON error;
nothing a client does stops the server.

>>> import json, urllib.request
>>> from mlp_functional import key
>>> from mlp_functional import init
>>> from mlp_functional.serve.api import make_app
>>> with running(make_app(init(key(0), [784, 16, 10]))) as url:
...     card = json.load(urllib.request.urlopen(url + "api/model"))
>>> card["sizes"]
[784, 16, 10]
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import logging
import math
import queue
import socket
import socketserver
import threading
import time
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from . import api

__all__ = [
    "DEADLINE",
    "DRAIN_LIMIT",
    "HEADERS",
    "QUEUE",
    "QUEUE_WAIT",
    "TIMEOUT",
    "WORKERS",
    "Server",
    "host_name",
    "is_loopback",
    "running",
    "url_for",
]

_log = logging.getLogger(__name__)

#: Threads answering connections.
WORKERS = 8
#: Connections that may wait for a free worker; more get 503 at once.
QUEUE = 64
#: Seconds a connection may wait for a worker before it gets 503.
QUEUE_WAIT = 5.0
#: Seconds a connection may stay silent (mid-request or idle between requests).
TIMEOUT = 5.0
#: Seconds one request may take, from waiting for its first line to its last body byte.
DEADLINE = 15.0
#: An over-long body up to this size is read and dropped so the client sees the 413.
DRAIN_LIMIT = 16_000_000
#: Sent with every response.
HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
)
_JSON = "application/json"


class _DeadlineReader(io.RawIOBase):
    """A socket's bytes, each wait bounded by the silence limit and the request's deadline."""

    def __init__(self, sock: socket.socket, silence: float) -> None:
        self._sock = sock
        self._silence = silence
        self.deadline = math.inf

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request took longer than its deadline")
        self._sock.settimeout(min(self._silence, left))
        return self._sock.recv_into(buffer)


class _Handler(BaseHTTPRequestHandler):
    """One connection: parse each request, answer it through ``api.handle``."""

    server: Server
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # even an unparsable request gets a status line
    server_version = "mlp-functional"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms delayed-ACK stall

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        self.request.settimeout(self.server.silence)
        super().setup()
        self.rfile.close()  # replaced by a reader that keeps the request's deadline
        self._reader = _DeadlineReader(self.connection, self.server.silence)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        self._reader.deadline = time.monotonic() + self.server.deadline
        super().handle_one_request()

    def do_GET(self) -> None:
        self._answer(b"")

    def do_HEAD(self) -> None:
        self._answer(b"", head=True)

    def do_POST(self) -> None:
        refusal = self._refusal()
        if refusal is not None:
            self._drain(self._announced())  # so the client reads the answer, not a reset
            self._send(refusal, close=True)
            return
        body = self._read_body()
        if body is not None:
            self._answer(body, checked=True)

    def _refuse_with_body(self) -> None:
        """Other methods: answer (405 or 404) and close, since the body was not read."""
        self._answer(b"", close=True)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_with_body  # noqa: N815

    def _refusal(self) -> api.Response | None:
        """Why a request's headers alone get it refused, or ``None``."""
        hosts = self.headers.get_all("Host") or []
        if len(hosts) > 1:
            return api.error(400, "the request has several Host headers; send one")
        if hosts and host_name(hosts[0]) not in self.server.allowed_hosts:
            shown = hosts[0][:80]
            return api.error(
                403,
                f"this server does not answer for Host {shown!r}; open {self.server.url}, "
                f"or start serve with --allow-host {host_name(shown) or 'NAME'}",
            )
        if len(self.headers.get_all("Content-Length") or []) > 1:
            return api.error(400, "the request has several Content-Length headers; send one")
        if self.command == "POST":
            kind = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
            if kind != _JSON:
                return api.error(
                    415, f"send the body as Content-Type: {_JSON}, not {kind[:60] or 'none'!r}"
                )
        return None

    def _read_body(self) -> bytes | None:
        """The request body, or ``None`` after answering why it cannot be read."""
        if self.headers.get("Transfer-Encoding"):
            self._send(
                api.error(411, "send the body with a Content-Length (no chunks)"), close=True
            )
            return None
        raw = self.headers.get("Content-Length")
        if raw is None:
            self._send(api.error(411, "a POST needs a Content-Length header"), close=True)
            return None
        if not (raw.strip().isascii() and raw.strip().isdigit()):
            self._send(api.error(400, f"bad Content-Length {raw[:40]!r}"), close=True)
            return None
        length = int(raw)
        if length > api.MAX_BODY:
            self._drain(length)
            message = f"the request body is {length:,} bytes, over the limit of {api.MAX_BODY:,}"
            self._send(api.error(413, message), close=True)
            return None
        body = self.rfile.read(length)
        if len(body) < length:  # the client hung up mid-body
            self.close_connection = True
            return None
        return body

    def _announced(self) -> int:
        """The smallest well-formed Content-Length sent (0 when there is none)."""
        values = [v.strip() for v in self.headers.get_all("Content-Length") or []]
        return min((int(v) for v in values if v.isascii() and v.isdigit()), default=0)

    def _drain(self, length: int) -> None:
        """Read and drop an announced body up to ``DRAIN_LIMIT`` bytes, within the deadline."""
        if length > DRAIN_LIMIT or self.headers.get("Transfer-Encoding"):
            return
        left = length
        with contextlib.suppress(OSError):
            while left > 0 and (chunk := self.rfile.read(min(1 << 16, left))):
                left -= len(chunk)

    def _answer(
        self, body: bytes, *, head: bool = False, close: bool = False, checked: bool = False
    ) -> None:
        refusal = None if checked else self._refusal()
        has_body = not checked and bool(
            self.headers.get("Transfer-Encoding") or self.headers.get("Content-Length")
        )
        if has_body:  # a body this method does not read: drop it, answer, then close
            self._drain(self._announced())
        if refusal is not None:
            self._send(refusal, head=head, close=True)
            return
        try:
            response = api.handle(self.server.app, self.command, self.path, body)
        except Exception:
            _log.exception("error answering %s %s", self.command, self.path[:200])
            response = api.error(500, "internal error; the server is still running")
        self._send(response, head=head, close=close or has_body)

    def _send(self, response: api.Response, *, head: bool = False, close: bool = False) -> None:
        self.connection.settimeout(self.server.silence)
        if self.server.busy():  # others wait for a worker: do not keep this one idle
            close = True
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in (*HEADERS, *response.headers):
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not head:
            self.wfile.write(response.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol errors found by the base class (bad request line, headers too long...)."""
        text = message or HTTPStatus(code).phrase
        self._send(api.error(code, text), head=self.command == "HEAD", close=True)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the command prints the address, not one line per request."""


def host_name(header: str) -> str:
    """The host in a ``Host`` header, without its port, lower case.

    >>> host_name("LocalHost:8000"), host_name("[::1]:8000"), host_name("127.0.0.1")
    ('localhost', '::1', '127.0.0.1')
    """
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Server(HTTPServer):
    """An HTTP server holding the :class:`~.api.App` it answers from, with bounded workers.

    Args:
      app: what to serve.
      host, port: where to listen (port 0 picks a free one).
      allow_hosts: ``Host`` names answered besides the bound address and loopback names.
      workers, queue_size, silence, deadline: see ``WORKERS``, ``QUEUE``, ``TIMEOUT`` and
        ``DEADLINE``.
    """

    request_queue_size = 64

    def __init__(
        self,
        app: api.App,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        allow_hosts: Iterable[str] = (),
        workers: int = WORKERS,
        queue_size: int = QUEUE,
        silence: float = TIMEOUT,
        deadline: float = DEADLINE,
    ) -> None:
        self.app = app
        self.silence = silence
        self.deadline = deadline
        self.queue_size = queue_size
        self.allowed_hosts = frozenset(
            host_name(h) for h in ("localhost", "127.0.0.1", "[::1]", f"[{host}]", *allow_hosts)
        )
        self._pending: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []  # server_close may run if binding fails
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)
        self._workers = [
            threading.Thread(target=self._work, name=f"mlp-functional-serve-{i}", daemon=True)
            for i in range(workers)
        ]
        for worker in self._workers:
            worker.start()

    def server_bind(self) -> None:
        """Bind without the reverse DNS lookup ``HTTPServer`` does (it can stall)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def busy(self) -> bool:
        """Whether connections are waiting for a worker."""
        return not self._pending.empty()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Queue the connection for a worker, or answer 503 when the queue is full."""
        if self._pending.qsize() >= self.queue_size:
            self._refuse(request)
            return
        self._pending.put((request, client_address, time.monotonic()))

    def _work(self) -> None:
        while (item := self._pending.get()) is not None:
            request, client_address, queued = item
            if time.monotonic() - queued > QUEUE_WAIT:
                self._refuse(request)
                continue
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)

    def _refuse(self, request: socket.socket) -> None:
        """Tell a connection no worker is free (without waiting on it) and close it."""
        body = api.error(503, "the server is busy; try again in a moment").body
        head = (
            f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: {_JSON}\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            request.setblocking(False)
            request.send(head.encode() + body)
        self.shutdown_request(request)

    def server_close(self) -> None:
        """Stop listening, drop waiting connections and let the workers finish."""
        super().server_close()
        with contextlib.suppress(queue.Empty):
            while True:
                item = self._pending.get_nowait()
                if item is not None:
                    self.shutdown_request(item[0])
        for _ in self._workers:
            self._pending.put(None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that vanished is routine; anything else is logged, and serving goes on."""
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        _log.exception("error on a connection from %s", client_address)

    @property
    def url(self) -> str:
        """The address to open in a browser, e.g. ``http://127.0.0.1:8000/``."""
        return url_for(str(self.server_address[0]), int(self.server_address[1]))


def url_for(host: str, port: int) -> str:
    """``http://host:port/``, with IPv6 addresses in brackets.

    >>> url_for("127.0.0.1", 8000), url_for("::1", 8080)
    ('http://127.0.0.1:8000/', 'http://[::1]:8080/')
    """
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def running(app: api.App, host: str = "127.0.0.1", port: int = 0, **options: Any) -> Iterator[str]:
    """Serve ``app`` from a background thread for the ``with`` block; yields the base URL.

    Port 0 picks a free port; ``options`` go to :class:`Server`.
    """
    server = Server(app, host, port, **options)
    thread = threading.Thread(target=server.serve_forever, name="mlp-functional-serve")
    thread.daemon = True
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
