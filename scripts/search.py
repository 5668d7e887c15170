"""Try training settings on a validation split and record every result.

Each candidate is a recipe with some fields changed. It trains on the recipe's dataset
(``fashion-best``: Fashion-MNIST), on the training set minus a validation split carved by
a fixed key (never on the test set; a recipe's own ``val_size``, which its final runs
use, plays no part here), and its validation accuracy after every epoch goes
into ``docs/search/<target>.jsonl`` (one line per run, appended) and the table
``docs/search/<target>.md`` (rewritten from all lines). Choosing among them is done on
those validation figures alone.

Usage: python scripts/search.py TARGET [--only INDEX ...]   (--list: the candidates)
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

import mlp_functional as mf
from mlp_functional.cli.bench import cpu_model
from mlp_functional.data import load, train_val_split
from mlp_functional.runs import recipes
from mlp_functional.runs.settings import recipe_settings

ROOT = Path(__file__).resolve().parent.parent
VAL_SIZE = 5000
SPLIT_SEED = 12345

CANDIDATES: dict[str, list[dict]] = {
    "quick": [
        {},
        {"lr": 2e-3},
        {"lr": 5e-4},
        {"batch_size": 64},
        {"batch_size": 256, "lr": 2e-3},
        {"hidden": (2048, 1024)},
        {"label_smoothing": 0.1},
        {"schedule": "one_cycle", "lr": 2e-3},
        {"hidden": (1024, 1024), "label_smoothing": 0.1},
        {"optimizer": "adamw", "weight_decay": 0.05},
        {"dropout": 0.2},
        {"hidden": (2048, 1024), "label_smoothing": 0.1, "batch_size": 64},
    ],
    "best": [
        {"hidden": (1500, 1000, 500)},
        {"epochs": 120},
        {"max_rotation": 10.0, "max_shear": 0.15},
        {"max_shear": 0.0, "max_scale": 0.15, "alpha": 36.0, "sigma": 6.0},
        {
            "hidden": (2048, 1024, 512),
            "max_shear": 0.0,
            "max_scale": 0.15,
            "alpha": 36.0,
            "sigma": 6.0,
        },
        {"epochs": 150},
        {"epochs": 150, "max_rotation": 10.0, "max_scale": 0.2},
        {"max_norm": 3.5},
        {"max_norm": 3.5, "dropout": 0.2},
        {"max_norm": 3.5, "dropout": 0.2, "hidden": (2048, 1024, 512)},
        # Ciresan et al. (2010)'s fourth-largest network: 0.41% against 0.46% at 1500-1000-500
        {"hidden": (2000, 1500, 1000, 500)},
        # the network fits 99.87% of its (distorted) training images: a little dropout
        {"dropout": 0.1},
        # Ciresan et al. trained online (one image a step): twice the steps of batch 128
        {"batch_size": 64},
    ],
    # Srivastava et al. (2014): dropout with max-norm, c from 3 to 4; wider and longer; and
    # their 20% input dropout (appended: the logs name candidates by index).
    "best-noaug": [
        {},
        {"max_norm": 2.5},
        {"max_norm": 4.5},
        {"max_norm": None},
        {"dropout": 0.3},
        {"label_smoothing": 0.1},
        {"lr": 3e-4},
        {"hidden": (2048, 2048)},
        {"epochs": 200},
        {"optimizer": "momentum", "lr": 0.05, "nesterov": True, "momentum": 0.95},
        {"input_dropout": 0.2},
        {"input_dropout": 0.2, "epochs": 150},
        {"input_dropout": 0.2, "max_norm": 3.0},
        # their 3 x 2048 network: 1.04% against 1.06% at 3 x 1024
        {"hidden": (2048, 2048, 2048)},
    ],
    "fashion-best": [
        {},
        {"augment": "none"},
        {"max_shift": 1.0},
        {"label_smoothing": 0.0},
        {"dropout": 0.3},
        {"max_norm": 2.5},
        {"max_norm": None},
        {"hidden": (2048, 2048)},
        {"epochs": 200},
        {"max_rotation": 5.0, "max_scale": 0.05},
        # with dropout 0.3 the network classified only 92% of its own training images
        {"dropout": 0.2},
        {"dropout": 0.1},
    ],
    "seed": [
        {"epochs": 5},
        {"epochs": 5, "lr": 0.05},
        {"epochs": 10},
        {"epochs": 5, "hidden": (32,)},
    ],
}


def run(target: str, changes: dict, data) -> dict:
    base = recipe_settings(recipes.get_recipe(target).name)
    recipe = base._replace(**changes)
    split = train_val_split(mf.key(SPLIT_SEED), data.train.images, data.train.labels, VAL_SIZE)
    images, labels = data.train.images, data.train.labels.astype(np.int64)
    val = (images[split.val], labels[split.val])
    steps = recipes.steps_per_epoch(len(split.train), recipe.batch_size)
    sizes = [int(np.prod(images.shape[1:])), *recipe.hidden, len(data.classes)]
    params = mf.init(mf.key(1), sizes, activation=recipe.activation)
    optimizer, regimen = recipes.build(recipe, steps)
    state = mf.init_state(mf.key(2), params, optimizer)
    history = []
    started = time.perf_counter()
    for _, log in mf.fit(
        state,
        images,
        labels,
        epochs=recipe.epochs,
        validation=val,
        **regimen._replace(rows=split.train)._asdict(),
    ):
        history.append({"epoch": log.epoch, "val_accuracy": log.val_accuracy, "loss": log.loss})
        print(f"  epoch {log.epoch}: val {log.val_accuracy:.4f} ({log.seconds:.1f} s)", flush=True)
    return {
        "target": target,
        "changes": {k: list(v) if isinstance(v, tuple) else v for k, v in changes.items()},
        "recipe": {k: list(v) if isinstance(v, tuple) else v for k, v in recipe._asdict().items()},
        "val_accuracy": history[-1]["val_accuracy"],
        "best_val_accuracy": max(h["val_accuracy"] for h in history),
        "history": history,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": f"{cpu_model()}, {os.cpu_count()} cores",
    }


def write_table(target: str, lines: list[dict]) -> None:
    rows = [
        f"| {i} | {json.dumps(r['changes']) or '{}'} | {r['val_accuracy']:.4f} | "
        f"{r['best_val_accuracy']:.4f} | {r['seconds']} |"
        for i, r in enumerate(lines)
    ]
    text = (
        f"# Search log: `{target}`\n\n"
        f"Every run of `python scripts/search.py {target}`, in order. Each changes the fields "
        f"shown from the `{target}` recipe in `mlp_functional/runs/recipes.py` as it stood when "
        f"the run was made (the recipe changes as the search goes on; the full settings of each "
        f"run are in `{target}.jsonl`); "
        f"validation is {VAL_SIZE} images of the recipe's dataset "
        f"(`{recipe_settings(target).dataset}`) carved from the training set with key "
        f"{SPLIT_SEED}. The test set is not used here.\n\n"
        "| run | changes | final val acc | best val acc | seconds |\n|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n"
    )
    (ROOT / "docs" / "search" / f"{target}.md").write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", choices=sorted(CANDIDATES))
    parser.add_argument("--only", type=int, nargs="*", help="candidate indices to run")
    parser.add_argument("--list", action="store_true", help="print the candidates and stop")
    args = parser.parse_args()
    candidates = CANDIDATES[args.target]
    if args.list:
        for index, changes in enumerate(candidates):
            print(f"{index}: {json.dumps(changes)}")
        return
    data = load(recipe_settings(args.target).dataset or "mnist")
    log_path = ROOT / "docs" / "search" / f"{args.target}.jsonl"
    for index in args.only if args.only is not None else range(len(candidates)):
        changes = candidates[index]
        print(f"{args.target} candidate {index}: {changes}", flush=True)
        result = run(args.target, changes, data)
        with log_path.open("a") as f:
            f.write(json.dumps(result) + "\n")
        lines = [json.loads(line) for line in log_path.read_text().splitlines()]
        write_table(args.target, lines)


if __name__ == "__main__":
    main()
