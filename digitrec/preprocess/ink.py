"""Where the ink is in a photo: steps 1-5 of ``preprocess=photo`` (see :mod:`.photo`).

A working copy of the image in gray, the ink's polarity, its strength against the local paper,
a threshold, ruled lines and border bands removed, and the connected pieces of ink that are left,
each measured (box, area, mean strength).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from digitrec.preprocess.basic import quantiles, to_gray_uint8
from digitrec.preprocess.ruled_lines import (
    RULE_SPAN,
    level_above_rules,
    lines_at_best_tilt,
    without_ruled_lines,
)

POLARITIES = ("auto", "dark_on_light", "light_on_dark")

# a camera never records pure black: the offset in ratios of tones (polarity)
_BLACK_LEVEL = 64.0
# the share of the image's border in the tone taken for the ground (polarity)
_BORDER_WEIGHT = 0.3
# the tails of the tone histogram taken for the extremes of ink and ground (polarity)
_EXTREMES = (0.001, 0.999)
# the paper is estimated at this fraction of the working resolution (images at least
# _PAPER_MIN_SIDE px on their short side), by a closing 1/_PAPER_CLOSING of the longest side
_PAPER_FACTOR = 4
_PAPER_MIN_SIDE = 64
_PAPER_CLOSING = 7
# Otsu separates strong ink well, but dark table edges and lines can pull it above faint pencil:
# the threshold never demands more than this contrast
_MAX_THRESHOLD = 0.25
# more ink than this share of the image: no page with a digit on it
_MAX_INK_SHARE = 0.75
# pieces smaller than this share of the image (and never under _MIN_SPECK px) are specks
_SPECK_SHARE = 1e-4
_MIN_SPECK = 6
_SPECKLE_CLOSING = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
# the four pixels beside one
_ADJACENT = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))


@dataclass
class Component:
    """A connected piece of ink in the working image: its box, area, label in the label image,
    and mean ink strength (0-1: pen ~0.8, pencil ~0.5, a shadow's rim ~0.3)."""

    x: int
    y: int
    w: int
    h: int
    area: int
    label: int
    ink: float = 1.0

    @property
    def x2(self) -> int:
        return self.x + self.w

    @property
    def y2(self) -> int:
        return self.y + self.h

    def borders_touched(self, shape: tuple[int, int]) -> int:
        """How many of the image's four borders (``shape``: height, width) this piece reaches."""
        h, w = shape
        return (self.x <= 1) + (self.y <= 1) + (self.x2 >= w - 1) + (self.y2 >= h - 1)


def bounds(parts: Sequence[Component]) -> tuple[int, int, int, int]:
    """The box ``(x1, y1, x2, y2)`` around ``parts`` (x2, y2 past the last pixel)."""
    return (
        min(c.x for c in parts),
        min(c.y for c in parts),
        max(c.x2 for c in parts),
        max(c.y2 for c in parts),
    )


@dataclass(frozen=True)
class InkFound:
    """The ink of a photo at the working resolution: ``strength`` (uint8, 0 on paper, 255 for
    ink black against its local paper), ``labels`` (the connected-component image), the
    ``components`` worth considering, ``scale`` (working image / input) and ``origin``, the
    input's pixel at the working image's top-left (a region of a larger photo looked at
    closer: see :mod:`.closer_look`)."""

    strength: np.ndarray
    labels: np.ndarray
    components: list[Component]
    scale: float
    origin: tuple[int, int] = (0, 0)


def odd(n: float) -> int:
    """``n`` rounded to an odd kernel size of at least 1."""
    n = max(1, round(n))
    return n if n % 2 else n + 1


def working_gray(image: np.ndarray, work_size: int) -> tuple[np.ndarray, float]:
    """``image`` in gray, no larger than ``work_size`` on its longest side, and the scale used."""
    gray = to_gray_uint8(image)
    if gray.size == 0:
        raise ValueError("empty image")
    longest = max(gray.shape)
    if longest <= work_size:
        return gray, 1.0
    scale = work_size / longest
    size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
    # area averaging against aliasing where it matters; a mild shrink is fine (and faster)
    # with bilinear interpolation
    interpolation = cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR
    return cv2.resize(gray, size, interpolation=interpolation), scale


def ink_is_dark(small: np.ndarray) -> bool:
    """Is the ink of the gray image ``small`` darker than its ground? (A downscaled, denoised
    copy is judged.)

    The ground (paper, board) is the median tone, with the image's border weighing more (in a
    tight crop of a thick digit the ink may cover most of the image, but rarely most of its
    border); the ink is whichever extreme departs further from it in contrast, i.e. in ratio
    (light multiplies what the page reflects, so a shadow over half the page must not outweigh
    the ink). The black level keeps a pure black ground (MNIST) finite.
    """
    border = np.concatenate((small[0], small[-1], small[1:-1, 0], small[1:-1, -1]))
    tones = np.bincount(small.ravel(), minlength=256) * ((1 - _BORDER_WEIGHT) / small.size)
    tones += np.bincount(border, minlength=256) * (_BORDER_WEIGHT / border.size)
    ground = float(np.searchsorted(np.cumsum(tones), 0.5))
    low, high = quantiles(small, _EXTREMES).astype(np.float64)
    low, ground, high = np.log(np.array([low, ground, high]) + _BLACK_LEVEL)
    return ground - low >= high - ground


def ink_strength(gray: np.ndarray, polarity: str) -> np.ndarray:
    """Ink strength as uint8: 0 on paper, 255 for ink black against its local paper."""
    h, w = gray.shape
    factor = _PAPER_FACTOR if min(h, w) >= _PAPER_MIN_SIDE else 1
    small = cv2.resize(
        gray, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA
    )
    dark = ink_is_dark(small) if polarity == "auto" else polarity == "dark_on_light"
    if not dark:
        gray, small = 255 - gray, 255 - small
    # the paper: a closing wider than any stroke removes the ink but follows gradients,
    # vignetting, shadows and the table
    k = odd(max(small.shape) / _PAPER_CLOSING)
    paper = cv2.morphologyEx(
        small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    )
    if factor > 1:
        paper = cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR)
    # gray / paper, saturating at the paper's own brightness
    return cv2.subtract(255, cv2.divide(gray, cv2.max(paper, 1), scale=255))


def is_border_band(x: int, y: int, cw: int, ch: int, w: int, h: int) -> bool:
    """A long thing hugging one side of the ``w`` x ``h`` frame: a page edge, the table, a
    shadow's rim (the piece's box is ``x, y, cw, ch``)."""
    along_x = (y <= 1 or y + ch >= h - 1) and cw >= 0.5 * w and ch <= 0.3 * h
    along_y = (x <= 1 or x + cw >= w - 1) and ch >= 0.5 * h and cw <= 0.3 * w
    if along_x or along_y:
        return True
    # a long thin horizontal thing: a page edge, the rim of a shadow, a line
    if cw >= 0.6 * w and ch <= 0.2 * cw:
        return True
    # a page edge crossing the frame from border to border, away from the centre
    across_y = y <= 1 and y + ch >= h - 1 and (x + cw / 2 < 0.25 * w or x + cw / 2 > 0.75 * w)
    across_x = x <= 1 and x + cw >= w - 1 and (y + ch / 2 < 0.25 * h or y + ch / 2 > 0.75 * h)
    if across_x or across_y:
        return True
    # something cut by two borders and reaching into a corner (the table in a corner)
    touches = (x <= 1) + (y <= 1) + (x + cw >= w - 1) + (y + ch >= h - 1)
    fills_the_frame = cw >= 0.9 * w and ch >= 0.9 * h  # a tight crop of the digit itself
    return touches >= 3 and not fills_the_frame


@dataclass(frozen=True)
class InkFinder:
    """Steps 1-5 of ``preprocess=photo`` with its settings (see ``PhotoPreprocessor``)."""

    work_size: int = 480
    polarity: str = "auto"
    min_contrast: float = 0.18
    remove_lines: bool = True

    def __call__(self, image: np.ndarray) -> InkFound | None:
        """The ink of ``image``, or None when it holds none (a blank or uniform frame, a frame
        that is mostly ink)."""
        gray, scale = working_gray(image, self.work_size)
        darkest, brightest, _, _ = cv2.minMaxLoc(gray)
        if brightest - darkest < self.min_contrast * 255:
            return None  # a uniform frame: nothing written on it
        strength = ink_strength(gray, self.polarity)
        if cv2.minMaxLoc(strength)[1] < self.min_contrast * 255:
            return None
        mask = self._mask(strength)
        if cv2.countNonZero(mask) > _MAX_INK_SHARE * mask.size:
            # hardly any paper (a tight crop of a thick digit may be more ink than paper, though)
            return None
        if self.remove_lines:
            mask = self._without_rules(mask, strength)
        # faint ink thresholds into speckles: a small closing joins them into strokes again
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, _SPECKLE_CLOSING)
        labels, components = self._components(mask)
        if not components:
            return None
        for c in components:
            inside = labels[c.y : c.y2, c.x : c.x2] == c.label
            c.ink = float(strength[c.y : c.y2, c.x : c.x2][inside].mean()) / 255.0
        return InkFound(strength, labels, components, scale)

    def _mask(self, strength: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """Ink (1) and paper (0): above ``threshold``, by default Otsu's level, capped, never
        below ``min_contrast``."""
        if threshold is None:
            # Otsu's level from every other pixel of every other row: the same, 4x cheaper
            otsu, _ = cv2.threshold(strength[::2, ::2], 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
            threshold = max(self.min_contrast * 255, min(otsu, _MAX_THRESHOLD * 255))
        return cv2.threshold(strength, threshold, 1, cv2.THRESH_BINARY)[1]

    def _without_rules(self, mask: np.ndarray, strength: np.ndarray) -> np.ndarray:
        """``mask`` without its ruled lines: thresholded above them where the pen is stronger,
        and what is left of them removed (most frames have none: they are looked for once)."""
        lines = lines_at_best_tilt(mask, RULE_SPAN)
        if lines is None:
            return mask  # (no row holds even RULE_SPAN < LINE_SPAN of the width in ink)
        above_rules = level_above_rules(mask, strength, lines)
        if above_rules is not None:
            # the pen's cores stand above the rules; its rims (a thin stroke blurred and
            # averaged is no stronger than a rule) come back where the frame's threshold
            # holds them next to a core
            pen = self._mask(strength, above_rules)
            pen |= mask & cv2.dilate(pen, _ADJACENT)
            return without_ruled_lines(pen)
        return without_ruled_lines(mask, lines.angle) if lines.holds_a_line else mask

    @staticmethod
    def _components(mask: np.ndarray) -> tuple[np.ndarray, list[Component]]:
        """The label image and the pieces of ink that are neither specks nor border bands."""
        _count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
            mask, 8, cv2.CV_32S, cv2.CCL_GRANA
        )
        h, w = mask.shape
        # specks (noise, paper texture) are most components: drop them before any Python loop
        big = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= max(_MIN_SPECK, _SPECK_SHARE * h * w))
        components = [
            Component(int(x), int(y), int(cw), int(ch), int(area), int(i))
            for i, (x, y, cw, ch, area) in zip(big, stats[big].tolist(), strict=True)
            if i > 0 and not is_border_band(x, y, cw, ch, w, h)
        ]
        return labels, components
