"""The evaluation report: accuracy, per-class precision/recall/F1, a confusion matrix and a
gallery of the worst errors, as JSON and PNGs in one folder (``digitrec-eval``, ``train``)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from digitrec.utils.plotting import pyplot

NUM_DIGITS = 10
#: the label standing for "no digit read" in reports (an image in which no digit was found, or
#: one below the confidence threshold); unrelated to ``digitrec.inference.NO_DIGIT``, the
#: recognizer's empty Prediction
NO_DIGIT_LABEL = NUM_DIGITS


@dataclass(frozen=True)
class EvaluatedImages:
    """What a model made of labelled images.

    ``predicted`` holds :data:`NO_DIGIT_LABEL` where no digit was read; ``images`` are what the
    net saw (28x28 ``uint8`` crops; a thumbnail of the input where no digit was found).
    """

    labels: np.ndarray
    predicted: np.ndarray
    confidences: np.ndarray
    images: np.ndarray
    sources: Sequence[str]

    def __post_init__(self) -> None:
        n = len(self.labels)
        if not (len(self.predicted) == len(self.confidences) == len(self.images) == n):
            raise ValueError("labels, predictions, confidences and images differ in length")
        if n == 0:
            raise ValueError("nothing to evaluate: no labelled images")


def classification_metrics(labels: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Accuracy, per-digit precision/recall/F1/support, macro F1 and the confusion matrix
    (rows: true digit; columns: predicted digit, then "no digit")."""
    target = torch.as_tensor(labels, dtype=torch.long)
    preds = torch.as_tensor(predicted, dtype=torch.long)
    classes = NUM_DIGITS + 1
    per_class = {
        name: metric(num_classes=classes, average="none")(preds, target)[:NUM_DIGITS]
        for name, metric in (
            ("precision", MulticlassPrecision),
            ("recall", MulticlassRecall),
            ("f1", MulticlassF1Score),
        )
    }
    confusion = MulticlassConfusionMatrix(num_classes=classes)(preds, target)[:NUM_DIGITS]
    support = confusion.sum(dim=1)
    present = support > 0
    return {
        "count": len(labels),
        "accuracy": float(MulticlassAccuracy(num_classes=classes, average="micro")(preds, target)),
        "no_digit": int((preds == NO_DIGIT_LABEL).sum()),
        "macro_f1": float(per_class["f1"][present].mean()) if present.any() else 0.0,
        "per_class": {
            str(d): {
                **{name: round(float(values[d]), 6) for name, values in per_class.items()},
                "support": int(support[d]),
            }
            for d in range(NUM_DIGITS)
        },
        "confusion_matrix": confusion.tolist(),
    }


def worst_errors(result: EvaluatedImages, limit: int) -> list[int]:
    """Indices of wrong readings, the most confident first (misses without a digit last)."""
    wrong = np.flatnonzero(result.predicted != result.labels)
    order = np.argsort(-result.confidences[wrong], kind="stable")
    return [int(i) for i in wrong[order][:limit]]


def plot_confusion(confusion: list[list[int]], path: Path, title: str) -> None:
    """The confusion matrix as a PNG, counts written in the cells."""
    plt = pyplot()

    matrix = np.asarray(confusion)
    figure, axes = plt.subplots(figsize=(7.5, 6.5))
    shown = axes.imshow(np.log1p(matrix), cmap="Blues")
    columns = [str(d) for d in range(NUM_DIGITS)] + ["none"]
    axes.set_xticks(range(len(columns)), columns)
    axes.set_yticks(range(NUM_DIGITS), [str(d) for d in range(NUM_DIGITS)])
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title, fontsize=10)
    threshold = np.log1p(matrix).max() / 2
    for (row, col), count in np.ndenumerate(matrix):
        if count:
            colour = "white" if np.log1p(count) > threshold else "black"
            axes.text(col, row, str(count), ha="center", va="center", fontsize=7, color=colour)
    figure.colorbar(shown, ax=axes, label="log(1 + count)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_gallery(result: EvaluatedImages, indices: Sequence[int], path: Path) -> None:
    """The given images in a grid, each titled true / predicted / confidence."""
    plt = pyplot()

    columns = min(8, max(1, len(indices)))
    rows = max(1, math.ceil(len(indices) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.9 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, index in zip(axes.flat, indices, strict=False):
        axis.imshow(result.images[index], cmap="gray", vmin=0, vmax=255)
        predicted = int(result.predicted[index])
        shown = "none" if predicted == NO_DIGIT_LABEL else str(predicted)
        axis.set_title(
            f"true {result.labels[index]} → {shown}\n{result.confidences[index]:.0%}", fontsize=8
        )
    if not indices:
        axes.flat[0].text(0.5, 0.5, "no errors", ha="center", va="center")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(
    result: EvaluatedImages, out_dir: str | Path, about: dict[str, Any], worst: int = 32
) -> dict[str, Any]:
    """Write ``metrics.json``, ``confusion_matrix.png`` and ``worst_errors.png`` to ``out_dir``
    and return the metrics; ``about`` (model, data, ...) is stored beside them."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = classification_metrics(result.labels, result.predicted)
    errors = worst_errors(result, worst)
    metrics["worst_errors"] = [
        {
            "source": result.sources[i],
            "true": int(result.labels[i]),
            "predicted": (
                None if result.predicted[i] == NO_DIGIT_LABEL else int(result.predicted[i])
            ),
            "confidence": round(float(result.confidences[i]), 6),
        }
        for i in errors
    ]
    report = {**about, **metrics}
    (out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    title = f"{about.get('data', '')}  accuracy {metrics['accuracy']:.4f} (n={metrics['count']})"
    plot_confusion(metrics["confusion_matrix"], out / "confusion_matrix.png", title.strip())
    plot_gallery(result, errors, out / "worst_errors.png")
    return report


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    """A per-digit table and the overall numbers on the terminal."""
    console = console or Console()
    table = Table(title=f"accuracy {report['accuracy']:.4f} on {report['count']} images")
    for column in ("digit", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="right")
    for digit, row in report["per_class"].items():
        table.add_row(
            digit,
            f"{row['precision']:.3f}",
            f"{row['recall']:.3f}",
            f"{row['f1']:.3f}",
            str(row["support"]),
        )
    console.print(table)
    console.print(f"macro F1 {report['macro_f1']:.4f}; no digit found in {report['no_digit']}")
