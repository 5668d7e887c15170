"""A model card: README.md in the Hugging Face form, from a run and its test set.

The YAML header carries what the Hub reads (license, tags, datasets, metrics and a
``model-index`` with the test accuracy); the Markdown body tells what the model is, what
it was trained on (the data's source and SHA-256, as the run recorded them), with which
settings, how it scores on each class (precision, recall and F1 as ``mlp-functional
evaluate`` computes them, from :mod:`mlp_functional.metrics`) and what it is meant for.
Plain text, no images or links needed: it reads the same offline.

>>> import numpy as np
>>> import mlp_functional as mf
>>> from mlp_functional.runs import Run
>>> params = mf.init(mf.key(0), [4, 3])
>>> config = {"data": {"name": "toy", "classes": ["a", "b", "c"]}, "settings": {"epochs": 1}}
>>> card = model_card(Run(params, config, [], None), np.eye(4), np.array([0, 1, 2, 0]))
>>> card.splitlines()[0], "| a |" in card
('---', True)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

import mlp_functional as mf

from ..data import DATASETS
from ..inputs import class_names
from ..metrics import confusion_matrix, per_class
from .scaling import PIXELS, describe, recorded_scaling

__all__ = ["HUB_DATASETS", "LICENSE", "model_card"]

#: The license the card declares: the package's own (the user may change it).
LICENSE = "mit"
#: The Hugging Face Hub's names of the built-in datasets.
HUB_DATASETS: Mapping[str, str] = MappingProxyType(
    {"mnist": "ylecun/mnist", "fashion-mnist": "zalando-datasets/fashion_mnist"}
)


def _yaml(value: Any) -> str:
    """A scalar in YAML: JSON's quoted strings and numbers are valid YAML flow scalars."""
    return json.dumps(value)


def _cell(text: Any) -> str:
    """Text safe in a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _percent(x: float) -> str:
    return f"{100 * x:.2f}"


def _header(
    name: str, task: str, dataset: str, hub: str | None, accuracy: float, macro_f1: float
) -> list[str]:
    pretty = task.replace("-", " ").capitalize()
    lines = [
        "---",
        f"license: {LICENSE}",
        "tags:",
        *(f"- {t}" for t in ("mlp-functional", "multilayer-perceptron", "numpy", "onnx", task)),
    ]
    if hub:
        lines += ["datasets:", f"- {hub}"]
    lines += [
        "metrics:",
        *(f"- {m}" for m in ("accuracy", "precision", "recall", "f1")),
        f"pipeline_tag: {task}",
        "model-index:",
        f"- name: {_yaml(name)}",
        "  results:",
        "  - task:",
        f"      type: {task}",
        f"      name: {_yaml(pretty)}",
        "    dataset:",
        f"      name: {_yaml(dataset)}",
        f"      type: {_yaml(hub or dataset)}",
        "      split: test",
        "    metrics:",
        "    - type: accuracy",
        f"      value: {accuracy:.6f}",
        "      name: Test accuracy",
        "    - type: f1",
        f"      value: {macro_f1:.6f}",
        "      name: Test macro F1",
        "---",
    ]
    return lines


def _data_lines(data: Mapping[str, Any]) -> list[str]:
    """Where the data came from and their SHA-256, as the run recorded them."""
    source = data.get("source") or {}
    name = str(data.get("name", "unknown"))
    lines = []
    if source:
        lines.append(
            f"Your own data: `{source.get('path', '?')}` ({source.get('format', '?')}), "
            f"shape {tuple(source.get('shape') or ())}."
        )
        lines += ["", "| file | SHA-256 |", "| --- | --- |"]
        lines.append(f"| {_cell(source.get('path', '?'))} | `{source.get('sha256', '?')}` |")
    else:
        spec = DATASETS.get(name)
        where = f", from {', '.join(spec.mirrors)}" if spec is not None else ""
        lines.append(f"The built-in dataset **{name}**{where}.")
        lines += [
            "",
            "| file | SHA-256 (of the decompressed file) |",
            "| --- | --- |",
            *(f"| {_cell(f)} | `{h}` |" for f, h in sorted((data.get("sha256") or {}).items())),
        ]
    counts = [(k, data.get(f"{k}_examples")) for k in ("train", "val", "test")]
    shown = [f"{k} {v:,}" for k, v in counts if isinstance(v, int)]
    if shown:
        lines += ["", "Examples: " + ", ".join(shown) + " (val: held out from training)."]
    return lines


def _settings_lines(settings: Mapping[str, Any]) -> list[str]:
    rows = [f"| {_cell(k)} | `{_cell(json.dumps(v))}` |" for k, v in settings.items()]
    return ["| setting | value |", "| --- | --- |", *rows] if rows else ["(not recorded)"]


def model_card(
    run: Any,
    test_images: Any,
    test_labels: Any,
    *,
    name: str = "mlp-functional model",
) -> str:
    """The README.md of a run (from :func:`mlp_functional.runs.load_run`), scored on its
    test set (``test_images`` as the model reads them, ``test_labels`` as integers).

    The per-class figures are :func:`mlp_functional.metrics.per_class` of the confusion
    matrix of :func:`mlp_functional.predict_proba`'s answers, as ``evaluate`` prints them.
    """
    params, config = run.params, run.config or {}
    data = config.get("data") or {}
    n_classes = params.sizes[-1]
    names = class_names(config, n_classes)
    labels = np.asarray(test_labels)
    predicted = np.asarray(mf.predict_proba(params, test_images)).argmax(axis=1)
    cm = confusion_matrix(labels, predicted, n_classes)
    scores = per_class(cm)
    accuracy = float(cm.trace()) / max(int(cm.sum()), 1)
    macro_f1 = float(np.mean(scores.f1))
    scaling = recorded_scaling(config)
    images = scaling == PIXELS
    task = "image-classification" if images else "tabular-classification"
    dataset = str(data.get("name", "unknown"))
    sizes = " → ".join(map(str, params.sizes))
    lines = _header(name, task, dataset, HUB_DATASETS.get(dataset), accuracy, macro_f1)
    lines += [
        "",
        f"# {name}",
        "",
        f"A multilayer perceptron ({sizes}, {params.activation.name} between the layers, "
        f"softmax at the end; {mf.n_params(params):,} parameters) that tells apart "
        f"{n_classes} classes of {dataset}: {', '.join(names)}. It was trained with "
        "mlp_functional, whose forward pass, back propagation and optimizers are written "
        "out in NumPy.",
        "",
        "## Intended use",
        "",
        (
            "Reading single handwritten digits (or images like the training data), "
            "28x28 grayscale, white ink on black, centred as MNIST's digits are; "
            "`mlp-functional predict` and the exported page bring photos and drawings to "
            "that form first."
            if images and params.sizes[0] == 784
            else "Classifying examples like the training data, given as the same features."
        ),
        "",
        "It is a small model for teaching, experiments and demonstrations. It was not "
        "built or tested for decisions about people, for safety-critical uses, or for "
        "inputs unlike its training data, where its confident-looking probabilities can be "
        "wrong.",
        "",
        "## Input",
        "",
        f"The exported ONNX model reads {describe(scaling)}.",
        "",
        "## Training data",
        "",
        *_data_lines(data),
        "",
        "## Training settings",
        "",
        *_settings_lines(config.get("settings") or {}),
        "",
        "## Results on the test set",
        "",
        f"Test accuracy: **{_percent(accuracy)}%** ({int(cm.trace())} of {int(cm.sum())}); "
        f"macro F1: {_percent(macro_f1)}%. Per class (in percent):",
        "",
        "| class | precision | recall | F1 | support |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(
            f"| {_cell(names[c])} | {_percent(scores.precision[c])} | "
            f"{_percent(scores.recall[c])} | {_percent(scores.f1[c])} | {int(scores.support[c])} |"
            for c in range(n_classes)
        ),
    ]
    lines += _training_lines(run)
    lines += [
        "",
        "## How to use it",
        "",
        "With mlp_functional installed, from the run folder this card describes:",
        "",
        "```sh",
        "mlp-functional predict RUN_DIR digit.png      # the classes of images or CSV rows",
        "mlp-functional export RUN_DIR --format onnx   # model.onnx, for onnxruntime",
        "mlp-functional export RUN_DIR --format html   # a page that reads drawn digits",
        "```",
        "",
        "## Versions",
        "",
        *(f"- {k}: {v}" for k, v in (config.get("versions") or {}).items()),
        f"- card written by mlp_functional {mf.__version__}",
        "",
    ]
    return "\n".join(lines)


def _training_lines(run: Any) -> list[str]:
    """The final figures of metrics.json, when training finished."""
    metrics: Mapping[str, Any] = run.metrics or {}
    shown: Sequence[tuple[str, str]] = [
        (label, _format(metrics[key], kind))
        for key, label, kind in (
            ("epochs", "Epochs", "int"),
            ("train_accuracy", "Training accuracy", "pct"),
            ("train_seconds", "Training time", "s"),
        )
        if isinstance(metrics.get(key), (int, float))
    ]
    if not shown:
        return ["", "Training did not finish: the figures are those of the last saved epoch."]
    return ["", *(f"- {label}: {value}" for label, value in shown)]


def _format(value: float, kind: str) -> str:
    if kind == "pct":
        return f"{_percent(value)}%"
    if kind == "s":
        return f"{value:.1f} s"
    return f"{int(value):,}"
