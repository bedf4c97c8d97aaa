"""Training crops from photos of two touching digits: what a number reader must judge.

``Recognizer.read`` cuts a run of ink that may hold touching digits into the pieces the net
reads most confidently, so the net must be confident only of whole single digits. A net trained
on single digits alone is not: it reads two touching digits squashed into one crop, or half a
digit, as some digit with high confidence. So pairs of training digits are photographed
touching or overlapping (the synthetic camera), brought back through the preprocessing's
run segmentation, and every candidate piece is labelled by where the digits were drawn:

- a piece holding one digit whole (a sliver of its neighbour allowed) is that digit;
- the run whole, or a piece holding no digit whole (a fragment), is :data:`NOT_ONE_DIGIT`,
  which the training loss pulls towards equal probabilities for all classes (outlier exposure,
  Hendrycks et al. 2019); the net's ten outputs and its architecture are unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from digitrec.data.labels import NOT_ONE_DIGIT
from digitrec.data.photo import box_intersection, box_iou
from digitrec.preprocess import VERSION as PREPROCESS_VERSION
from digitrec.preprocess import DigitFinder, build_preprocessor
from digitrec.preprocess.runs import VERSION as RUNS_VERSION
from digitrec.synthesis.render import PhotoRenderer
from digitrec.utils.counts import count_range
from digitrec.utils.parallel import threaded_map
from digitrec.utils.tensor_cache import load_or_build_digits

#: bump whenever the labelling of the pieces changes (the cached crops are keyed by it)
LABELS_VERSION = 2
# neighbours from a clear overlap to barely apart, in digit heights (the renderer's ``gap``)
PAIR_GAP = (-0.15, 0.02)
# a piece is a digit when its box matches the digit's this well (intersection over union) and
# its neighbour's no better than _OTHER; a fragment when it matches neither better than _FRAGMENT;
# two digits when it holds at least _HALF of each of two digits' boxes
_HALF = 0.5
_MATCH = 0.75
_OTHER = 0.25
_FRAGMENT = 0.5
# boxes are matched as if no narrower than this fraction of the digit's height: a 1 is a few
# pixels wide, and a sliver of its neighbour must not cost its piece the label (the net would
# learn that a 1 cut from a number is no digit, and read "15" as 5)
_NARROWEST = 0.5
# crops kept per run of touching digits: the digits found whole, the run whole, and at most
# this many fragments
_FRAGMENTS_PER_RUN = 2


def label_piece(
    piece: tuple[int, int, int, int], digits: Sequence[tuple[int, int, int, int]]
) -> int | None:
    """Which of the written ``digits`` (boxes, left to right) a piece's box holds (all boxes
    ``x, y, w, h``): its index, ``NOT_ONE_DIGIT`` for a piece holding at least half of two
    digits' boxes or a fragment, None where it is neither clearly (left out). A narrow digit
    is matched as if wider (``_NARROWEST``); how much of a neighbour a piece holds is judged by
    the boxes as they are (a 1 pressed against a 5 is two digits, not a 5)."""
    if sum(_covered(piece, d) >= _HALF for d in digits) >= 2:
        return NOT_ONE_DIGIT
    matches = [box_iou(*_widened(piece, d)) for d in digits]
    best = int(np.argmax(matches))
    if matches[best] >= _MATCH and all(
        box_iou(piece, d) <= _OTHER for k, d in enumerate(digits) if k != best
    ):
        return best
    if matches[best] <= _FRAGMENT:
        return NOT_ONE_DIGIT
    return None


def touching_digit_range(digits: int | Sequence[int]) -> tuple[int, int]:
    """``data.touching_digits`` as ``(fewest, most)``: an int or ``[min, max]``, at least 2."""
    return count_range(digits, "data.touching_digits", least=2)


def _widened(
    piece: tuple[int, int, int, int], digit: tuple[int, int, int, int]
) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """A piece's box and a digit's, each widened about its centre to at least ``_NARROWEST``
    times the digit's height."""
    least = _NARROWEST * digit[3]

    def widen(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        x, y, w, h = box
        extra = max(0.0, least - w)
        return round(x - extra / 2), y, round(w + extra), h

    return widen(piece), widen(digit)


def _covered(piece: tuple[int, int, int, int], digit: tuple[int, int, int, int]) -> float:
    """The share of a digit's box inside a piece's box."""
    return box_intersection(piece, digit) / max(1, digit[2] * digit[3])


def render_touching_pairs(
    images: Tensor,
    labels: Tensor,
    count: int,
    levels: Sequence[str],
    preprocess: Mapping[str, Any],
    seed: int = 0,
    digits: int | Sequence[int] = 2,
) -> tuple[Tensor, Tensor]:
    """Crops (``uint8 (N, 28, 28)``) and labels from ``count`` photos of random digits of
    ``images`` (28x28 white on black) written touching or overlapping (see the module):
    ``digits`` per photo, or ``[min, max]``. With three, the middle digit's pieces carry
    slivers of neighbours on both sides, as inside a longer number."""
    fewest, most = touching_digit_range(digits)
    preprocessor = build_preprocessor(preprocess)
    if not isinstance(preprocessor, DigitFinder):
        raise ValueError(
            "data.touching_pairs needs a preprocessing that segments numbers "
            f"(preprocess=photo), not {preprocess.get('_target_', preprocess)!r}"
        )
    renderers = [PhotoRenderer(level=level) for level in levels]

    def one(k: int) -> list[tuple[np.ndarray, int]]:
        rng = np.random.default_rng([seed, k])
        size = fewest if fewest == most else int(rng.integers(fewest, most + 1))
        chosen = rng.choice(len(labels), size=size, replace=False)
        renderer = renderers[int(rng.integers(len(renderers)))]
        frame = renderer.render(
            [images[i].numpy() for i in chosen], [int(labels[i]) for i in chosen], rng, PAIR_GAP
        )
        crops = []
        for run in preprocessor.segment_runs(frame.image):
            if label_piece(run.whole.box, frame.boxes) != NOT_ONE_DIGIT:
                continue  # a digit found alone (or not clearly): nothing to judge
            pieces = [
                (piece.image, label_piece(piece.box, frame.boxes))
                for i in range(len(run.cuts) - 1)
                for j in range(i + 1, len(run.cuts))
                if (i, j) != (0, len(run.cuts) - 1) and (piece := run.piece(i, j)) is not None
            ]
            fragments = [image for image, w in pieces if w == NOT_ONE_DIGIT]
            picked = rng.permutation(len(fragments))[:_FRAGMENTS_PER_RUN]
            found = [(image, w) for image, w in pieces if w is not None and w >= 0]
            crops += [(image, int(labels[chosen[w]])) for image, w in found]
            crops += [(run.whole.image, NOT_ONE_DIGIT)]
            crops += [(fragments[f], NOT_ONE_DIGIT) for f in picked]
        return crops

    results = list(threaded_map(one, range(count), f"photographing {count} touching pairs"))
    crops = [crop for result in results for crop in result]
    if not crops:
        return images[:0], labels[:0]
    return (
        torch.from_numpy(np.stack([c for c, _ in crops])),
        torch.tensor([label for _, label in crops], dtype=torch.long),
    )


def load_or_render_touching_pairs(
    images: Tensor,
    labels: Tensor,
    count: int,
    levels: Sequence[str],
    preprocess: Mapping[str, Any],
    cache_dir: str | Path,
    seed: int = 0,
    digits: int | Sequence[int] = 2,
) -> tuple[Tensor, Tensor]:
    """:func:`render_touching_pairs`, cached by the source pixels, every setting and the
    preprocessing's and the cuts' code versions."""
    settings = {
        "count": count,
        "levels": list(levels),
        "preprocess": dict(preprocess),
        "code": PREPROCESS_VERSION,
        "runs_code": RUNS_VERSION,
        "labels_code": LABELS_VERSION,
        "gap": PAIR_GAP,
        "seed": seed,
        "digits": list(touching_digit_range(digits)),
    }
    return load_or_build_digits(
        cache_dir,
        "touching",
        settings,
        lambda: render_touching_pairs(images, labels, count, levels, preprocess, seed, digits),
        sources=(images, labels),
    )
