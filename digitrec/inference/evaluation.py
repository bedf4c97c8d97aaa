"""Scoring a recognizer on labelled images: a per-digit folder, a CSV list, or a split of a
data module. Library code shared by ``digitrec-eval``, the training run's report and the
benchmarks."""

from __future__ import annotations

import csv
import difflib
import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from digitrec.data.datamodule import DigitDataModule
from digitrec.data.folder import scan_digit_folder
from digitrec.data.images import ImageReadError, read_image
from digitrec.data.split import Side
from digitrec.inference.decision import UNSURE, decide
from digitrec.inference.recognizer import Recognizer
from digitrec.preprocess import to_gray_uint8
from digitrec.report import NO_DIGIT_LABEL, EvaluatedImages

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


def digits_in_place(truth: str, read: str) -> int:
    """How many of ``truth``'s digits ``read`` has, in order (a longest-matching alignment):
    a number read with one digit lost or misread still has the others in place."""
    matcher = difflib.SequenceMatcher(a=truth, b=read, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks())
