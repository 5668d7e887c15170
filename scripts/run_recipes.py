"""Rerun recipes with the real command, over one or more seeds, and write the results table.

Each recipe is trained with ``mlp-functional train --recipe NAME --seed S`` into
``runs/recipes/NAME/seed-S``, for seeds ``0 .. N-1`` (``--seeds N``, default 1) or the
seeds listed with ``--seed``. The table (recipe, dataset, architecture, epochs, each
seed's test accuracy and training time, their mean and standard deviation, the mean train
and validation accuracy and training time, the machine) is read back from each run's files and
written to ``docs/recipes.json``, ``docs/recipes.md`` and into README.md between the
``recipes`` markers. No number in it is typed by hand. With ``--committee``, the seeds
are also scored together, as a committee (the mean of their class probabilities,
``mlp-functional evaluate RUN_DIR RUN_DIR ...``), on a row of its own below the recipe's.

The runs are long, so the script picks up where it stopped: a seed whose folder holds a
finished run of the recipe's current settings is read, not retrained; one that was
interrupted after a committed epoch is continued with ``--resume`` (bit-identical to an
uninterrupted run); anything else in the folder (another version of the recipe, nothing
committed) is trained afresh. ``--fresh`` retrains every seed asked for. A recipe's row
holds the seeds asked for (run the same command again to fill in the missing ones);
``--table`` only writes the table again from ``docs/recipes.json``.

Usage: python scripts/run_recipes.py [NAME ...] [--seeds N | --seed S ...] [--fresh] [--committee]
       (default: every recipe, one seed)
       python scripts/run_recipes.py --table
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from mlp_functional.cli.bench import blas_info, cpu_model
from mlp_functional.fast import backend
from mlp_functional.runs.recipes import RECIPES
from mlp_functional.runs.settings import SettingsError, from_record, recipe_settings

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- recipes:start -->", "<!-- recipes:end -->"
COMMITTEE = " (committee)"  # the key of a recipe's committee row in docs/recipes.json


def machine() -> str:
    """The processor, its cores, the BLAS (kernel and threads) and the fast engine's kernels."""
    return f"{cpu_model()}, {os.cpu_count()} cores, {blas_info()}, {backend.name()} kernels"


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def state_of(folder: Path, name: str, seed: int) -> str:
    """``"finished"``, ``"interrupted"`` (an epoch committed, no final figures) or
    ``"other"`` (missing, nothing committed, or trained with other settings)."""
    config = _json(folder / "config.json")
    if config is None or not (folder / "manifest.json").exists():
        return "other"
    try:
        same = from_record(config.get("settings")) == recipe_settings(name)._replace(seed=seed)
    except SettingsError:
        same = False
    if not same:
        return "other"
    return "finished" if (folder / "metrics.json").exists() else "interrupted"


def train(name: str, seed: int, fresh: bool) -> tuple[Path, bool]:
    """The finished run of recipe ``name`` with ``seed`` (read, continued or trained), and
    whether it trained now."""
    folder = ROOT / "runs" / "recipes" / name / f"seed-{seed}"
    state = "other" if fresh else state_of(folder, name, seed)
    command = [sys.executable, "-m", "mlp_functional", "train"]
    if state == "finished":
        print(f"{name}, seed {seed}: finished in {folder}, read as it is", flush=True)
        return folder, False
    if state == "interrupted":
        print(f"{name}, seed {seed}: continuing {folder}", flush=True)
        subprocess.run([*command, "--resume", str(folder)], check=True, cwd=ROOT)
        return folder, True
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    recipe = ["--recipe", name, "--seed", str(seed), "--out", str(folder)]
    subprocess.run([*command, *recipe], check=True, cwd=ROOT)
    return folder, True


def seed_row(folder: Path, earlier: list[dict], trained_now: bool) -> dict:
    """One seed's figures from its run folder; the machine is this one if it trained now,
    else the one recorded with the same figures before (this one when none was)."""
    config = json.loads((folder / "config.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    history = json.loads((folder / "history.json").read_text())
    kept = next(h for h in history if h["epoch"] == metrics["best_epoch"])
    row = {
        "seed": config["settings"]["seed"],
        "train_accuracy": metrics["train_accuracy"],
        "val_accuracy": kept["val_accuracy"],
        "test_accuracy": metrics["test_accuracy"],
        "train_seconds": metrics["train_seconds"],
    }
    same = (e for e in earlier if all(e.get(k) == v for k, v in row.items()))
    recorded = None if trained_now else next(same, {}).get("machine")
    return {**row, "machine": recorded or machine()}


def recipe_row(name: str, runs: list[tuple[Path, bool]], earlier: dict | None) -> dict:
    """A recipe's row: its seeds' figures, and their means (test accuracy with its spread)."""
    folders = [folder for folder, _ in runs]
    config = json.loads((folders[0] / "config.json").read_text())
    before = with_seeds(earlier)["seeds"] if earlier is not None else []
    seeds = [seed_row(folder, before, now) for folder, now in runs]
    tests = [s["test_accuracy"] for s in seeds]
    return {
        "recipe": name,
        "dataset": config["settings"]["dataset"],
        "architecture": "-".join(map(str, config["model"]["sizes"]))
        + f" {config['settings']['activation']}",
        "epochs": json.loads((folders[0] / "metrics.json").read_text())["epochs"],
        "seeds": seeds,
        "train_accuracy": statistics.fmean(s["train_accuracy"] for s in seeds),
        "val_accuracy": _mean_or_none([s["val_accuracy"] for s in seeds]),
        "test_accuracy": statistics.fmean(tests),
        "test_accuracy_sd": statistics.stdev(tests) if len(tests) > 1 else None,
        "train_seconds": statistics.fmean(s["train_seconds"] for s in seeds),
        "machine": "; ".join(dict.fromkeys(s["machine"] for s in seeds)),
    }


def committee_row(name: str, runs: list[tuple[Path, bool]]) -> dict:
    """The recipe's seeds as one committee: the test accuracy of the mean of their class
    probabilities, and the training time of them all (a row of its own: a recipe's goal is
    for one network)."""
    import numpy as np

    from mlp_functional.cli.evaluate import run_dataset
    from mlp_functional.engine.table import committee_proba
    from mlp_functional.runs import load_run

    members = [load_run(folder) for folder, _ in runs]
    test = run_dataset(members[0].config).test
    predicted = committee_proba([m.params for m in members], test.images).argmax(axis=1)
    seconds = [json.loads((f / "metrics.json").read_text())["train_seconds"] for f, _ in runs]
    first = members[0].config
    return {
        "recipe": name,
        "committee": [m.config["settings"]["seed"] for m in members],
        "dataset": first["settings"]["dataset"],
        "architecture": "-".join(map(str, first["model"]["sizes"]))
        + f" {first['settings']['activation']}",
        "epochs": json.loads((runs[0][0] / "metrics.json").read_text())["epochs"],
        "test_accuracy": float(np.mean(predicted == test.labels)),
        "train_seconds": sum(seconds),
        "machine": machine(),
    }


def with_seeds(row: dict) -> dict:
    """A row as written before seeds were recorded (one run, seed 0) in today's form."""
    if "seeds" in row:
        return row
    one = {k: row[k] for k in ("train_accuracy", "val_accuracy", "test_accuracy")}
    seed = {"seed": 0, **one, "train_seconds": row["train_seconds"], "machine": row["machine"]}
    return {"dataset": "mnist", **row, "seeds": [seed], "test_accuracy_sd": None}


def _mean_or_none(values: list[float | None]) -> float | None:
    """The mean, or None when a seed has no figure (a recipe that holds out no validation)."""
    return None if None in values else statistics.fmean(values)


def _pct(x: float | None) -> str:
    return "none held out" if x is None else f"{100 * x:.2f}%"


def _clock(seconds: float) -> str:
    """Minutes and seconds, ``m:ss``."""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


def table(rows: list[dict]) -> str:
    lines = [
        "| recipe | dataset | architecture | epochs | test accuracy by seed (training m:ss) "
        "| mean test accuracy | train accuracy | validation accuracy | training m:ss | machine |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "committee" in r:
            seeds = ", ".join(map(str, r["committee"]))
            lines.append(
                f"| `{r['recipe']}`, committee | {r['dataset']} | {len(r['committee'])} x "
                f"{r['architecture']} | {r['epochs']} | seeds {seeds}: the mean of their class "
                f"probabilities | {_pct(r['test_accuracy'])} | | | "
                f"{_clock(r['train_seconds'])} in all | {r['machine']} |"
            )
            continue
        r = with_seeds(r)
        by_seed = ", ".join(
            f"{s['seed']}: {_pct(s['test_accuracy'])} ({_clock(s['train_seconds'])})"
            for s in r["seeds"]
        )
        sd = r["test_accuracy_sd"]
        mean = _pct(r["test_accuracy"]) + (f" ± {100 * sd:.2f}" if sd is not None else "")
        lines.append(
            f"| `{r['recipe']}` | {r['dataset']} | {r['architecture']} | {r['epochs']} | "
            f"{by_seed} | {mean} | {_pct(r['train_accuracy'])} | {_pct(r['val_accuracy'])} | "
            f"{_clock(r['train_seconds'])} | {r['machine']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", choices=[[], *sorted(RECIPES)], default=[])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--seeds", type=int, default=1, help="train seeds 0 .. N-1 (default 1)")
    which.add_argument("--seed", type=int, nargs="+", help="train these seeds")
    parser.add_argument("--fresh", action="store_true", help="retrain finished seeds too")
    parser.add_argument("--table", action="store_true", help="only write the table again")
    parser.add_argument(
        "--committee",
        action="store_true",
        help="also score the seeds together, as a committee (a row of its own)",
    )
    args = parser.parse_args()
    seeds = args.seed if args.seed is not None else list(range(args.seeds))
    if not seeds or min(seeds) < 0:
        parser.error("seeds must be integers >= 0, at least one")
    results_path = ROOT / "docs" / "recipes.json"
    results = _json(results_path) or {}
    for name in [] if args.table else args.names or list(RECIPES):
        runs = [train(name, seed, args.fresh) for seed in seeds]
        results[name] = recipe_row(name, runs, results.get(name))
        if args.committee and len(runs) > 1:
            results[name + COMMITTEE] = committee_row(name, runs)
        results_path.write_text(json.dumps(results, indent=2) + "\n")
    rows = [results[k] for n in RECIPES for k in (n, n + COMMITTEE) if k in results]
    text = (
        f"{START}\n{table(rows)}\n\nWritten by `python scripts/run_recipes.py` (test accuracy "
        "on the 10,000 test images, only reported, for each seed with its training time, "
        "then the mean ± the standard deviation over the seeds; train accuracy on the "
        "training rows and validation on the 5,000 training images the command holds out "
        "(none for a recipe with `val_size` 0, which trains on them all), not the 5,000 the "
        "search in `docs/search` chose on, and the training time: means "
        "over the seeds; a committee row scores the seeds together, the mean of their class "
        f"probabilities, and sums their training times).\n{END}"
    )
    (ROOT / "docs" / "recipes.md").write_text("# Recipe results\n\n" + text + "\n")
    readme = ROOT / "README.md"
    if readme.exists() and START in readme.read_text():
        old = readme.read_text()
        new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: text, old, flags=re.S)
        readme.write_text(new)


if __name__ == "__main__":
    main()
