"""Training digits re-photographed: each rendered as a synthetic webcam photo of paper and brought
back through the preprocessing, so the net learns from the crops it will see live."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from digitrec.preprocess import VERSION as PREPROCESS_VERSION
from digitrec.preprocess import DigitFinder, build_preprocessor
from digitrec.synthesis.render import PhotoRenderer
from digitrec.utils.parallel import threaded_map
from digitrec.utils.tensor_cache import load_or_build_digits

log = logging.getLogger(__name__)


def box_intersection(box: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> int:
    """The area two ``(x, y, w, h)`` boxes share."""
    ix = max(0, min(box[0] + box[2], other[0] + other[2]) - max(box[0], other[0]))
    iy = max(0, min(box[1] + box[3], other[1] + other[3]) - max(box[1], other[1]))
    return ix * iy


def box_iou(box: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> float:
    """The intersection over union of two ``(x, y, w, h)`` boxes."""
    inter = box_intersection(box, other)
    return inter / max(1, box[2] * box[3] + other[2] * other[3] - inter)


def boxes_overlap(
    box: tuple[int, int, int, int], truth: tuple[int, int, int, int], iou: float = 0.5
) -> bool:
    """Is the intersection over union of two (x, y, w, h) boxes at least ``iou``?"""
    return box_iou(box, truth) >= iou


def found_digits(results: Sequence[np.ndarray | None], what: str) -> list[int]:
    """The indices of ``results`` in which the preprocessing found a digit; how many of
    ``what`` it did not is logged (they are dropped)."""
    kept = [k for k, r in enumerate(results) if r is not None]
    if len(kept) < len(results):
        log.info(
            "no digit found in %d of %d %s (dropped)", len(results) - len(kept), len(results), what
        )
    return kept


def render_photo_copies(
    images: torch.Tensor,
    labels: torch.Tensor,
    copies: int,
    levels: Sequence[str],
    preprocess: Mapping[str, Any],
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``copies`` photos of every digit (28x28 white on black) at random ``levels``,
    preprocessed back to 28x28; photos in which the digit is not found where it was drawn
    are dropped."""
    preprocessor = build_preprocessor(preprocess)
    renderers = [PhotoRenderer(level=level) for level in levels]
    jobs = [(i, c) for c in range(copies) for i in range(len(labels))]

    def one(job: tuple[int, int]) -> np.ndarray | None:
        i, c = job
        rng = np.random.default_rng([seed, i, c])
        renderer = renderers[int(rng.integers(len(renderers)))]
        frame = renderer.render([images[i].numpy()], [int(labels[i])], rng)
        if not isinstance(preprocessor, DigitFinder):
            return preprocessor(frame.image)
        # the renderer knows where the digit is: a crop of anything else (a shadow's rim, a
        # line) would teach the net a wrong label, so it is dropped
        crop = preprocessor.extract(frame.image)
        return crop.image if crop is not None and boxes_overlap(crop.box, frame.boxes[0]) else None

    results = list(threaded_map(one, jobs, f"photographing {len(jobs)} digits"))
    kept = found_digits(results, "synthetic photos")
    out_images = torch.from_numpy(np.stack([results[k] for k in kept])) if kept else images[:0]
    out_labels = torch.stack([labels[jobs[k][0]] for k in kept]) if kept else labels[:0]
    return out_images, out_labels


def load_or_render_photo_copies(
    images: torch.Tensor,
    labels: torch.Tensor,
    copies: int,
    levels: Sequence[str],
    preprocess: Mapping[str, Any],
    cache_dir: str | Path,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`render_photo_copies`, cached by the source pixels and every setting."""
    settings = {
        "copies": copies,
        "levels": list(levels),
        "preprocess": preprocess,
        "code": PREPROCESS_VERSION,
        "filter": "iou0.5",
        "seed": seed,
    }
    return load_or_build_digits(
        cache_dir,
        "photos",
        settings,
        lambda: render_photo_copies(images, labels, copies, levels, preprocess, seed),
        sources=(images, labels),
    )
