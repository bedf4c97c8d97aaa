"""``digitrec-eval``: evaluate a model on a per-digit folder or on a data config's held-out split.

Writes ``metrics.json`` (accuracy, per-digit precision/recall/F1, confusion matrix, worst errors),
``confusion_matrix.png`` and ``worst_errors.png`` to its run dir. See ``conf/eval.yaml``.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import hydra
import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from digitrec.config import config_dir, register_resolvers
from digitrec.data.datamodule import DigitDataModule
from digitrec.data.folder import scan_digit_folder
from digitrec.data.images import ImageReadError, read_image
from digitrec.data.split import Side
from digitrec.inference import Recognizer
from digitrec.inference.decision import UNSURE, decide
from digitrec.preprocess import to_gray_uint8
from digitrec.report import NO_DIGIT_LABEL, EvaluatedImages, print_report, write_report

register_resolvers()
log = logging.getLogger(__name__)


def _thumbnail(image: np.ndarray, size: int = 28) -> np.ndarray:
    return cv2.resize(to_gray_uint8(image), (size, size), interpolation=cv2.INTER_AREA)


def evaluate_folder(recognizer: Recognizer, root: str | Path) -> EvaluatedImages:
    """Read every image of a per-digit folder (``root/<digit>/<file>``) as a photo.

    Unreadable files are skipped with a warning naming them; an image where no digit is found
    counts as an error (predicted "none").
    """
    index = scan_digit_folder(root)
    return evaluate_files(recognizer, index.root, index.relpaths, index.labels)


def read_labels_csv(path: str | Path) -> tuple[list[str], list[int]]:
    """The ``path`` and ``label`` columns of a CSV file listing labelled images (paths relative
    to the CSV's folder; other columns are ignored)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such labels file: {str(path)!r}")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"path", "label"} <= set(rows[0]):
        raise ValueError(f"{str(path)!r} needs a header with 'path' and 'label' columns")
    relpaths, labels = [], []
    for line, row in enumerate(rows, start=2):
        label = (row["label"] or "").strip()
        if not (label.isdigit() and len(label) == 1):
            raise ValueError(f"{str(path)!r} line {line}: label {row['label']!r} is not 0-9")
        relpaths.append(row["path"])
        labels.append(int(label))
    return relpaths, labels


def evaluate_files(
    recognizer: Recognizer, root: str | Path, relpaths: Sequence[str], labels: Sequence[int]
) -> EvaluatedImages:
    """Read the images ``root/<relpath>`` as photos and compare with their ``labels``.

    Unreadable files are skipped with a warning naming them; an image where no digit is found
    counts as an error (predicted "none").
    """
    kept_labels, crops, thumbnails, sources = [], [], [], []
    for relpath, label in zip(relpaths, labels, strict=True):
        try:
            image = read_image(Path(root) / relpath)
        except ImageReadError as err:
            log.warning("skipped: %s", err)
            continue
        crop = recognizer.locate(image)
        kept_labels.append(label)
        crops.append(crop)
        thumbnails.append(crop.image if crop is not None else _thumbnail(image))
        sources.append(relpath)
    predictions = recognizer.classify_crops(crops)
    return EvaluatedImages(
        labels=np.asarray(kept_labels, dtype=np.int64),
        predicted=np.asarray([NO_DIGIT_LABEL if p.digit is None else p.digit for p in predictions]),
        confidences=np.asarray([p.confidence for p in predictions]),
        images=np.stack(thumbnails) if thumbnails else np.zeros((0, 28, 28), np.uint8),
        sources=sources,
    )


def evaluate_split(
    recognizer: Recognizer, datamodule: DigitDataModule, side: Side = Side.TEST
) -> EvaluatedImages:
    """Classify one split of a set-up DataModule (its images are already preprocessed)."""
    dataset = datamodule.split(side)
    images = dataset.images.numpy()
    probabilities = recognizer.probabilities(images)
    digits, confidences = decide(probabilities, recognizer.min_confidence)
    predicted = np.where(digits == UNSURE, NO_DIGIT_LABEL, digits)
    return EvaluatedImages(
        labels=dataset.labels.numpy().astype(np.int64),
        predicted=predicted,
        confidences=confidences,
        images=images,
        sources=[f"{side.name.lower()}[{i}]" for i in range(len(images))],
    )


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate ``cfg.model_path`` and write the report into the run dir; return the report."""
    recognizer = Recognizer.load(
        cfg.model_path, device=cfg.get("device"), min_confidence=cfg.min_confidence
    )
    about: dict[str, Any] = {"model": str(cfg.model_path)}
    if cfg.get("labels"):
        relpaths, labels = read_labels_csv(cfg.labels)
        result = evaluate_files(recognizer, Path(cfg.labels).parent, relpaths, labels)
        about["data"] = f"labels {cfg.labels}"
    elif cfg.get("folder"):
        result = evaluate_folder(recognizer, cfg.folder)
        about["data"] = f"folder {cfg.folder}"
    else:
        sides = {"train": Side.TRAIN, "val": Side.VAL, "test": Side.TEST}
        if cfg.split not in sides:
            raise ValueError(f"split={cfg.split!r} is not one of {', '.join(sides)}")
        data_cfg = OmegaConf.to_container(cfg.data, resolve=True)
        # the split's images are preprocessed as in training; no augmentation or photo copies
        data_cfg.update(preprocess=recognizer.trained_preprocess_config, augment=None)
        for extra in ("photo_copies", "synthetic_per_digit", "touching_pairs"):  # training only
            if extra in data_cfg:
                data_cfg[extra] = 0
        datamodule = instantiate(data_cfg, _recursive_=False)
        datamodule.prepare_data()
        datamodule.setup("test")
        result = evaluate_split(recognizer, datamodule, sides[cfg.split])
        about["data"] = f"{datamodule.describe()} {cfg.split} split (seed {cfg.seed})"
    return write_report(result, cfg.paths.output_dir, about, worst=cfg.worst)


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="eval")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: evaluate, print the table and where the report went."""
    console = Console(soft_wrap=True, highlight=False)
    try:
        report = evaluate(cfg)
    except (FileNotFoundError, ValueError) as err:
        Console(stderr=True, soft_wrap=True, highlight=False).print(f"[red]error:[/red] {err}")
        raise SystemExit(1) from None
    print_report(report, console)
    console.print(f"[bold]report[/bold] {cfg.paths.output_dir}")


if __name__ == "__main__":
    main()
