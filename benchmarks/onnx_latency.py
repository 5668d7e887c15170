"""Time onnxruntime on an exported run beside `mlp_functional.predict`, alternately.

For one image (the median of ``--calls`` calls per round) and for the 10,000 MNIST test
images (one call per round), each round times the engine's ``predict`` and then the
ONNX model (``run_to_onnx``) in onnxruntime, so both see the same machine load; the
figures are medians over ``--repeats`` rounds. BLAS and onnxruntime get the same number
of threads. Prints the processor, the BLAS library and kernel, and a JSON line. Usage:

    python benchmarks/onnx_latency.py RUN_DIR [--repeats 7] [--calls 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import onnxruntime as ort
from threadpoolctl import threadpool_info, threadpool_limits

import mlp_functional as mf
from mlp_functional.data import load
from mlp_functional.export import run_to_onnx
from mlp_functional.runs import load_run


def processor() -> str:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def seconds(call, times: int) -> float:
    began = time.perf_counter()
    for _ in range(times):
        call()
    return (time.perf_counter() - began) / times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    run = load_run(args.run_dir)
    images = load("mnist").test.images
    rows = images.reshape(len(images), -1).astype(np.float32)
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        run_to_onnx(run).SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    engine = {"one": lambda: mf.predict(run.params, images[:1])}
    engine["all"] = lambda: mf.predict(run.params, images)
    onnx = {"one": lambda: session.run(["label"], {"input": rows[:1]})}
    onnx["all"] = lambda: session.run(["label"], {"input": rows})
    assert (onnx["all"]()[0] == engine["all"]()).all()
    times: dict[str, list[float]] = {f"{w}_{n}": [] for w in ("predict", "onnx") for n in engine}
    with threadpool_limits(limits=args.threads, user_api="blas"):
        for _ in range(args.repeats):
            for n in engine:
                calls = args.calls if n == "one" else 1
                times[f"predict_{n}"].append(seconds(engine[n], calls))
                times[f"onnx_{n}"].append(seconds(onnx[n], calls))
    medians = {k: round(1000 * statistics.median(v), 4) for k, v in times.items()}
    blas = sorted(
        {
            f"{i['internal_api']} {i['version']} ({i.get('architecture')} kernels)"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        }
    )
    print(f"processor: {processor()}")
    print(f"BLAS: {', '.join(blas)}; onnxruntime {ort.__version__}; threads {args.threads}")
    print(f"sizes: {'-'.join(map(str, run.params.sizes))}; rounds {args.repeats}")
    print(json.dumps({**{f"{k}_ms": v for k, v in medians.items()}}))


if __name__ == "__main__":
    main()
