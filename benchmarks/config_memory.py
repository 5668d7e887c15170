"""Peak memory of `evaluate` on a run whose config.json was inflated to hundreds of MB.

Trains a tiny run on generated data (28x28 noise with a bar whose place is the class),
adds a padding field of ``--megabytes`` MB to its config.json and rewrites its manifest to
vouch for the new file (as a hostile or careless writer would), then runs
``mlp-functional evaluate`` on it and on the intact run, each in a process of its own,
and prints per run: the exit status, the first line of stderr, the peak resident memory
(``ru_maxrss`` from ``wait4``) and the bytes the process read through ``read()`` calls
(``rchar`` of ``/proc/self/io`` when the command returned). Linux only. Usage:

    python benchmarks/config_memory.py [--megabytes 300]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# Runs the command in this process, then records how many bytes the process read.
_MEASURED = """
import sys
from mlp_functional.cli.main import main
status = main(sys.argv[2:])
with open("/proc/self/io") as io, open(sys.argv[1], "w") as out:
    out.write(next(line for line in io if line.startswith("rchar:")).split()[1])
sys.exit(status)
"""


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlp_functional", "--threads", "1", *args]


def train_tiny(folder: Path) -> Path:
    """A 2-epoch run on 300 generated images, in ``folder/run``."""
    rng = np.random.default_rng(0)
    labels = np.arange(300) % 10
    images = rng.integers(0, 120, (300, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
        images[i, 2 * label : 2 * label + 8, 4:24] = 255
    np.savez(folder / "digits.npz", x=images, y=labels)
    run = folder / "run"
    args = ["train", "--data", str(folder / "digits.npz"), "--hidden", "16", "--epochs", "2"]
    subprocess.run(_command(*args, "--quiet", "--out", str(run)), check=True)
    return run


# Pads config.json and commits it, the manifest vouching for it. Run in a process of its
# own: a child forked from a parent that held the padding would count it in its peak.
_INFLATE = """
import json, pathlib, sys
from mlp_functional.runs.commit import commit, read_manifest
run, megabytes = pathlib.Path(sys.argv[1]), int(sys.argv[2])
config = json.loads((run / "config.json").read_text())
config["padding"] = "x" * (megabytes * 10**6)
manifest = read_manifest(run)
keep = {n: e for n, e in manifest.files.items() if n != "config.json"}
commit(run, {"config.json": json.dumps(config).encode()}, epoch=manifest.epoch, keep=keep)
"""


def inflate_config(run: Path, megabytes: int) -> None:
    """Pad config.json to about ``megabytes`` MB and commit it, the manifest vouching."""
    subprocess.run([sys.executable, "-c", _INFLATE, str(run), str(megabytes)], check=True)


def evaluate_measured(run: Path) -> dict[str, object]:
    """Exit status, first stderr line, peak RSS and bytes read of `evaluate RUN`."""
    with tempfile.NamedTemporaryFile("r") as rchar:
        args = [sys.executable, "-c", _MEASURED, rchar.name, "--threads", "1", "evaluate"]
        process = subprocess.Popen(
            [*args, str(run)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        assert process.stderr is not None
        err = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        read = rchar.read().strip()
    return {
        "exit": process.returncode,
        "stderr": err.strip().splitlines()[0][:160] if err.strip() else "",
        "peak_rss_mb": round(usage.ru_maxrss * 1024 / 1e6, 1),
        "bytes_read_mb": round(int(read) / 1e6, 1) if read else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=300, help="padding added (MB)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        run = train_tiny(Path(d))
        intact = evaluate_measured(run)
        inflate_config(run, args.megabytes)
        size = (run / "config.json").stat().st_size
        inflated = evaluate_measured(run)
    print(json.dumps({"intact": intact, f"config.json of {size / 1e6:.0f} MB": inflated}))


if __name__ == "__main__":
    main()
