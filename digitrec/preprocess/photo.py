"""Bring a photo of a handwritten digit into MNIST's form (``preprocess=photo``).

The steps, each robust to what webcams and phones do to paper, and each in its own module:

1. gray, and a working copy no larger than ``work_size`` (speed; the digit ends up 20 px anyway);
2. ink polarity: the ground (paper, board) is the median tone, the image's border weighing more,
   and the ink is whichever extreme lies further from it in contrast (a ratio, so shadows do not
   count as ink): dark ink on paper or light ink on a dark ground (MNIST, chalk);
3. illumination: divide by an estimate of the paper (a morphological closing wider than any
   stroke, at quarter resolution), which removes gradients, vignetting, shadows and the table;
4. threshold: Otsu on the normalised ink, capped at 25% contrast (faint pencil survives dark
   table edges) and never below ``min_contrast`` (a blank or uniform frame has no ink: "no digit");
   on a page of five or more ruled lines, just above the lines' own strength where the pen is
   clearly stronger (a grid nearly as dark as a thin pen would net the digit in), the pen's
   rims beside the strokes kept at the frame's threshold;
5. clean-up: ruled lines (:mod:`.ruled_lines`); a 3x3 closing that joins faint ink's speckles
   back into strokes, specks, and the bands a page edge or table leaves at the border
   (steps 1-5: :mod:`.ink`);
6. the digit (:mod:`.choice`): the component scoring best on size, centrality, ink strength,
   keeping clear of the border and sharp edges (a shadow's tip left as ink has soft ones),
   merged with nearby pieces of similar ink (broken strokes) that do not reach in from the
   border; a small digit of a large photo (a phone's whole notebook page) is looked at again
   in the region around it at the photo's own resolution (:mod:`.closer_look`), where a thin
   pen and the rules it crosses come apart; then its own ink (:mod:`.digit_ink`):
   re-thresholded at half its own ink strength, and rid of soft-edged shading (a shadow's
   tip joined to a stroke);
7. MNIST's form (:mod:`.mnist_form`): strokes thickened (or thinned) towards MNIST's
   stroke-to-size ratio, the longest side fitted into ``box`` px keeping the aspect ratio
   (anti-aliased), padded to ``size`` and shifted so that the centre of mass is the centre.
   Optional deskew.

``segment`` finds every digit of a written number, left to right; ``segment_runs`` also the
places where digits whose strokes touch may be cut (:mod:`.runs`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from digitrec.preprocess.basic import checked_size
from digitrec.preprocess.choice import (
    digit_height,
    group_columns,
    line_digits,
    number_digits,
    pick_digit,
    tall_enough,
)
from digitrec.preprocess.closer_look import closer_region
from digitrec.preprocess.digit_ink import DigitInk, rim_sharpness
from digitrec.preprocess.ink import POLARITIES, Component, InkFinder, InkFound
from digitrec.preprocess.mnist_form import MnistForm, fit_and_centre
from digitrec.preprocess.runs import DigitCrop, InkRun, Renderer

__all__ = ["PhotoPreprocessor", "fit_and_centre"]


class PhotoPreprocessor:
    """Photo (whole webcam frame, tight crop or phone photo) -> 28x28 MNIST-style digit or None.

    Args:
        size: output side (28 for MNIST).
        box: the longest side of the digit inside the output (MNIST: 20).
        work_size: images larger than this (longest side) are analysed at this size.
        polarity: ``auto``, ``dark_on_light`` (ink on paper) or ``light_on_dark`` (chalk, MNIST).
        min_contrast: ink must be at least this much darker than the local paper (0-1).
        remove_lines: drop ruled lines and other thin structures spanning most of the width.
        stroke_ratio: target stroke width relative to the digit's longest side (MNIST: ~0.11);
            ``null`` keeps the strokes as written.
        deskew: shear the digit upright using its second moments.
        merge_distance: pieces closer than this fraction of the digit's size join the digit.
        min_edge_sharpness: ink whose nearest edge rises by less than this fraction of its
            strength per pixel is shading (a shadow's tip), not ink; ``null`` keeps it.
        ink_level: each digit is re-thresholded at this fraction of its own ink strength (the
            90th percentile), so strong ink keeps its stroke width and loops; ``null`` keeps
            the frame's threshold.
    """

    def __init__(
        self,
        size: int = 28,
        box: int = 20,
        work_size: int = 480,
        polarity: str = "auto",
        min_contrast: float = 0.18,
        remove_lines: bool = True,
        stroke_ratio: float | None = 0.11,
        deskew: bool = False,
        merge_distance: float = 0.25,
        min_edge_sharpness: float | None = 0.12,
        ink_level: float | None = 0.5,
    ) -> None:
        if polarity not in POLARITIES:
            raise ValueError(f"preprocess.polarity must be one of {POLARITIES}, got {polarity!r}")
        if not 0 < box <= size:
            raise ValueError(f"preprocess.box must be in (0, size={size}], got {box}")
        if ink_level is not None and not 0 <= ink_level < 1:
            raise ValueError(f"preprocess.ink_level must be in [0, 1) or null, got {ink_level}")
        if not 0 <= min_contrast < 1:
            raise ValueError(f"preprocess.min_contrast must be in [0, 1), got {min_contrast}")
        if work_size < 32:
            raise ValueError(f"preprocess.work_size must be at least 32 px, got {work_size}")
        if merge_distance < 0:
            raise ValueError(f"preprocess.merge_distance must be >= 0, got {merge_distance}")
        if stroke_ratio is not None and not 0 < stroke_ratio <= 0.5:
            raise ValueError(
                f"preprocess.stroke_ratio must be in (0, 0.5] or null, got {stroke_ratio}"
            )
        if min_edge_sharpness is not None and min_edge_sharpness <= 0:
            raise ValueError(
                f"preprocess.min_edge_sharpness must be positive or null, got {min_edge_sharpness}"
            )
        self.size = checked_size(size)
        self.merge_distance = float(merge_distance)
        self.find_ink = InkFinder(int(work_size), polarity, float(min_contrast), remove_lines)
        self.digit_ink = DigitInk(ink_level, min_edge_sharpness)
        self.mnist_form = MnistForm(self.size, int(box), stroke_ratio, deskew)

    def __call__(self, image: np.ndarray) -> np.ndarray | None:
        crop = self.extract(image)
        return None if crop is None else crop.image

    def extract(self, image: np.ndarray) -> DigitCrop | None:
        """The one digit of ``image`` (its box and rendering), or None when there is no digit."""
        found = self.find_ink(image)
        if found is None:
            return None
        digit = self._pick(found)
        if not digit:
            return None
        closer = self._look_closer(image, found, digit)
        if closer is not None and (parts := self._pick(closer)):
            return self._render(closer, parts)
        return self._render(found, digit)

    def segment(self, image: np.ndarray) -> list[DigitCrop]:
        """Every digit of a written number, left to right (an empty list when there is none):
        the longest line of digit-sized ink (see :func:`.choice.longest_line`)."""
        found, digits = self._number(image)
        return [self._render(found, parts) for parts in digits]

    def segment_runs(self, image: np.ndarray) -> list[InkRun]:
        """Like :meth:`segment`, each run of ink with the places where it may be cut into
        touching digits (a reader chooses the cuts: see ``Recognizer.read``)."""
        found, digits = self._number(image)
        if not digits:
            return []
        render = self._renderer(found)
        return [
            InkRun.of(*self.digit_ink(found.labels, found.strength, parts), found.scale, render)
            for parts in digits
        ]

    def _pick(self, found: InkFound) -> list[Component]:
        return pick_digit(
            found.components,
            found.labels.shape,
            self.merge_distance,
            lambda piece: rim_sharpness(found.labels, found.strength, piece),
        )

    def _number(self, image: np.ndarray) -> tuple[InkFound | None, list[list[Component]]]:
        """The ink of a written number (looked at closer where it is small in a large photo)
        and its digits' pieces, left to right (none: no ink, or no digit)."""
        found = self.find_ink(image)
        if found is None:
            return None, []
        # the region: around every digit-sized piece (fragments of the number's digits at
        # this resolution need not line up yet); the number's line is found in it
        groups = group_columns(found.components)
        candidates = tall_enough(groups)
        if not candidates:
            return found, []
        tallest = max(digit_height(g) for g in candidates)
        closer = self._look_closer(image, found, [c for g in candidates for c in g], tallest)
        if closer is not None and (digits := number_digits(closer.components)):
            return closer, digits
        return found, line_digits(groups)

    def _look_closer(
        self, image: np.ndarray, found: InkFound, parts: list[Component], size: int | None = None
    ) -> InkFound | None:
        """The ink of the region around ``parts`` (digits of ``size``: see
        :func:`.closer_region`) at (up to) the input's resolution, where they are small in a
        large photo (see :mod:`.closer_look`); else None."""
        region = closer_region(parts, found.labels.shape, found.scale, size)
        if region is None:
            return None
        x1, y1, x2, y2 = region
        closer = self.find_ink(image[y1:y2, x1:x2])
        return None if closer is None else replace(closer, origin=(x1, y1))

    def _renderer(self, found: InkFound) -> Renderer:
        """Renders ``found``'s digits with their boxes in the input's pixels."""
        if found.origin == (0, 0):
            return self.mnist_form
        dx, dy = found.origin

        def render(mask: np.ndarray, left: int, top: int, scale: float) -> DigitCrop:
            return self.mnist_form(mask, left, top, scale).moved(dx, dy)

        return render

    def _render(self, found: InkFound, parts: list[Component]) -> DigitCrop:
        mask, left, top = self.digit_ink(found.labels, found.strength, parts)
        return self._renderer(found)(mask, left, top, found.scale)
