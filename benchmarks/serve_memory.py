"""Peak memory of a `serve` process answering many large drawings at once.

Starts ``mlp-functional serve RUN_DIR`` in a process of its own, sends ``--clients``
simultaneous ``POST /api/predict`` requests, each a PNG data URL of a white
``--side`` x ``--side`` page with one dark stroke (a few kB of PNG that decodes to
megabytes), and reads the server's resident memory from the kernel: ``VmRSS`` before,
``VmHWM`` (the peak) and ``VmRSS`` after. Linux only. Usage:

    python benchmarks/serve_memory.py RUN_DIR [--clients 50] [--side 2000]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import signal
import subprocess
import sys
import threading
import urllib.parse
from collections import Counter

import numpy as np


def page_png(side: int) -> bytes:
    """A white ``side`` x ``side`` page with a dark vertical stroke, as PNG bytes."""
    from PIL import Image

    page = np.full((side, side), 255, np.uint8)
    page[side // 5 : side - side // 5, side // 2 - side // 40 : side // 2 + side // 40] = 0
    buf = io.BytesIO()
    Image.fromarray(page).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def memory_kib(pid: int) -> dict[str, int]:
    """The process's ``VmRSS`` and ``VmHWM`` in KiB, from ``/proc/PID/status``."""
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return {key: int(fields[key].split()[0]) for key in ("VmRSS", "VmHWM")}


def post_all(url: str, body: bytes, clients: int) -> Counter[int]:
    """Send ``body`` from ``clients`` threads released together; count the statuses."""
    parts = urllib.parse.urlsplit(url)
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        try:
            start.wait()
            conn.request(
                "POST", "/api/predict", body=body, headers={"Content-Type": "application/json"}
            )
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0  # the connection failed
        finally:
            conn.close()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Counter(statuses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--side", type=int, default=2000, help="pixels per side of each page")
    args = parser.parse_args()

    png = page_png(args.side)
    data_url = "data:image/png;base64," + base64.b64encode(png).decode()
    body = json.dumps({"image": data_url}).encode()
    command = [sys.executable, "-m", "mlp_functional", "--threads", "1", "serve"]
    server = subprocess.Popen(
        [*command, args.run_dir, "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        url = line.split(" at ", 1)[1].split()[0]
        before = memory_kib(server.pid)
        statuses = post_all(url, body, args.clients)
        after = memory_kib(server.pid)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    report = {
        "clients": args.clients,
        "image": f"{args.side}x{args.side}",
        "png_bytes": len(png),
        "statuses": dict(sorted(statuses.items())),
        "rss_before_mib": round(before["VmRSS"] / 1024, 1),
        "peak_rss_mib": round(after["VmHWM"] / 1024, 1),
        "rss_after_mib": round(after["VmRSS"] / 1024, 1),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
