"""What a default one-epoch ``train`` holds in memory: its peak, and at the end how much is
private (the arrays, Python's objects) and how much is pages of shared library files.

The peak of ``mlp-functional bench`` (``VmHWM``) counts both. The file pages are the same
bytes on every machine, but how many of them a process maps depends on which of them are
already in the page cache (what other programs using the same files have touched), so the
peak of the same command in the same checkout moves with the environment it runs in.

Usage: python benchmarks/resident_parts.py [--runs 3]   (with MLP_FUNCTIONAL_DATA set)
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import tempfile

_CHILD = r"""
import collections, re, sys
from mlp_functional.cli.main import main
main(["train", "--epochs", "1", "--quiet", "--out", sys.argv[1]])
status = open("/proc/self/status").read()
field = lambda name: int(status.split(name + ":")[1].split()[0])
files = collections.Counter()
name = None
for line in open("/proc/self/smaps"):
    if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
        parts = line.split()
        name = parts[5].rsplit("/", 1)[-1] if len(parts) > 5 and parts[5].startswith("/") else None
    elif line.startswith("Rss:") and name:
        files[name] += int(line.split()[1])
print("peak", field("VmHWM"), "anon", field("RssAnon"), "file", field("RssFile"))
for lib, kb in files.most_common(5):
    print("lib", lib, kb)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    libraries: dict[str, list[int]] = collections.defaultdict(list)
    print(f"python: {sys.executable}")
    print("| run | peak (MB) | private at the end (MB) | library files at the end (MB) |")
    print("|---|---|---|---|")
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, f"{tmp}/run"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        line = next(line for line in out.splitlines() if line.startswith("peak "))
        peak, anon, file = (int(v) / 1024 for v in line.split()[1::2])
        for lib, kb in re.findall(r"^lib (\S+) (\d+)$", out, re.M):
            libraries[lib].append(int(kb))
        print(f"| {run + 1} | {peak:.1f} | {anon:.1f} | {file:.1f} |")
    print("\nlargest library files resident at the end (MB, each run):")
    for lib, kbs in libraries.items():
        print(f"- {lib}: {', '.join(f'{kb / 1024:.1f}' for kb in kbs)}")


if __name__ == "__main__":
    main()
