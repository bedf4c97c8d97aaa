"""Preprocess a folder dataset once and keep the result in one tensor file.

The cache file is keyed by the file list (relative paths, sizes, mtimes) and the preprocessing
config, so a second run with the same files and config decodes nothing, and any change to either
builds a new cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from digitrec.data.folder import FolderIndex
from digitrec.data.images import ImageReadError, read_image
from digitrec.preprocess import VERSION as PREPROCESS_VERSION
from digitrec.preprocess import build_preprocessor
from digitrec.utils.parallel import threaded_map
from digitrec.utils.tensor_cache import load_or_build_tensors

log = logging.getLogger(__name__)

CACHE_FORMAT = 2
#: images smaller than this on a side hold no readable digit (a 1x1 image would otherwise be
#: resized into a blank training sample)
MIN_IMAGE_SIDE = 8
_MAX_NAMED_WARNINGS = 20


class TooManyBadImagesError(RuntimeError):
    """More images than allowed could not be read or preprocessed."""


@dataclass(frozen=True)
class DigitTensors:
    """Preprocessed digits: ``uint8`` images ``(N, 28, 28)``, labels and relative paths."""

    images: torch.Tensor
    labels: torch.Tensor
    relpaths: tuple[str, ...]
    skipped: tuple[str, ...] = ()


def cache_key(index: FolderIndex, preprocess: Mapping[str, Any]) -> str:
    """A digest of the file list (names, sizes, mtimes) and the preprocessing config."""
    digest = hashlib.sha256()
    header = {"format": CACHE_FORMAT, "code": PREPROCESS_VERSION, "preprocess": preprocess}
    digest.update(json.dumps(header, sort_keys=True).encode())
    root = str(index.root)
    for relpath in index.relpaths:
        stat = os.stat(os.path.join(root, relpath))
        digest.update(f"\0{relpath}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def preprocess_file(path: Path, preprocess) -> np.ndarray | str:
    """Read and preprocess one image file: the digit, or the reason it must be skipped."""
    try:
        image = read_image(path)
        if min(image.shape[:2]) < MIN_IMAGE_SIDE:
            height, width = image.shape[:2]
            return (
                f"image {str(path)!r} is too small to hold a digit ({width}x{height} px; "
                f"at least {MIN_IMAGE_SIDE} px a side)"
            )
        digit = preprocess(image)
    except ImageReadError as err:
        return str(err)
    except (ValueError, TypeError) as err:
        return f"cannot preprocess image {str(path)!r}: {err}"
    if digit is None:
        return f"no digit found in image {str(path)!r}"
    return digit


def preprocess_folder(
    index: FolderIndex,
    preprocess: Mapping[str, Any],
    max_bad_fraction: float = 0.05,
    workers: int | None = None,
) -> DigitTensors:
    """Decode and preprocess every image of ``index`` (threads: OpenCV releases the GIL).

    Unreadable or unusable images are skipped with a warning naming each; if more than
    ``max_bad_fraction`` of them fail, :class:`TooManyBadImagesError` is raised.
    """
    preprocessor = build_preprocessor(preprocess)
    paths = [index.root / relpath for relpath in index.relpaths]
    results = list(
        threaded_map(
            lambda p: preprocess_file(p, preprocessor),
            paths,
            f"preprocessing {len(paths)} images",
            workers=workers,
        )
    )
    kept = [i for i, r in enumerate(results) if not isinstance(r, str)]
    reasons = [r for r in results if isinstance(r, str)]
    for reason in reasons[:_MAX_NAMED_WARNINGS]:
        log.warning("skipped: %s", reason)
    if len(reasons) > _MAX_NAMED_WARNINGS:
        log.warning("skipped %d more images", len(reasons) - _MAX_NAMED_WARNINGS)
    if reasons:
        log.warning("skipped %d of %d images under %s", len(reasons), len(paths), index.root)
    if len(reasons) > max_bad_fraction * len(paths) or not kept:
        raise TooManyBadImagesError(
            f"{len(reasons)} of {len(paths)} images under {str(index.root)!r} could not be used "
            f"(more than data.max_bad_fraction={max_bad_fraction}); first: {reasons[0]}"
        )
    images = np.stack([results[i] for i in kept])
    shapes = {tuple(results[i].shape) for i in kept}
    if len(shapes) != 1 or images.dtype != np.uint8:
        raise ValueError(
            f"the preprocessor returned mixed shapes or dtypes: {shapes}, {images.dtype}"
        )
    return DigitTensors(
        images=torch.from_numpy(images),
        labels=torch.tensor([index.labels[i] for i in kept], dtype=torch.long),
        relpaths=tuple(index.relpaths[i] for i in kept),
        skipped=tuple(index.relpaths[i] for i, r in enumerate(results) if isinstance(r, str)),
    )


def cache_path(cache_dir: str | Path, index: FolderIndex, preprocess: Mapping[str, Any]) -> Path:
    """Where the cache of ``index`` under ``preprocess`` lives."""
    return Path(cache_dir) / f"digits-{cache_key(index, preprocess)}.pt"


def load_or_build_cache(
    index: FolderIndex,
    preprocess: Mapping[str, Any],
    cache_dir: str | Path,
    max_bad_fraction: float = 0.05,
) -> DigitTensors:
    """Load the cached tensors of ``index`` or build (and save) them first.

    A cache is used only when it was built from exactly these files: its key, count and every
    relative path are checked, and any mismatch rebuilds it with a warning saying what was
    wrong (a cache copied from another dataset, cut short, or written by other code)."""
    key = cache_key(index, preprocess)

    def build() -> dict[str, Any]:
        tensors = preprocess_folder(index, preprocess, max_bad_fraction)
        log.info("caching %d preprocessed images", len(tensors.labels))
        return {
            "key": key,
            "images": tensors.images,
            "labels": tensors.labels,
            "relpaths": list(tensors.relpaths),
            "skipped": list(tensors.skipped),
        }

    def check(stored: dict[str, Any]) -> str | None:
        missing = {"key", "images", "labels", "relpaths", "skipped"} - set(stored)
        if missing:
            return f"it lacks {sorted(missing)}"
        if stored["key"] != key:
            return "it was built from other files or another preprocessing"
        count = len(stored["relpaths"])
        if not len(stored["images"]) == len(stored["labels"]) == count:
            return (
                f"it holds {len(stored['images'])} images and {len(stored['labels'])} labels "
                f"for {count} files"
            )
        if sorted([*stored["relpaths"], *stored["skipped"]]) != sorted(index.relpaths):
            files = count + len(stored["skipped"])
            return f"its {files} files are not the {len(index.relpaths)} under {index.root}"
        return None

    stored = load_or_build_tensors(cache_path(cache_dir, index, preprocess), build, check)
    return DigitTensors(
        images=stored["images"],
        labels=stored["labels"],
        relpaths=tuple(stored["relpaths"]),
        skipped=tuple(stored["skipped"]),
    )
