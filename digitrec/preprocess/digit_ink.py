"""A chosen digit's own ink: re-thresholded at its own strength, soft-edged shading dropped."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from digitrec.preprocess.basic import quantiles
from digitrec.preprocess.ink import Component, bounds

_NEIGHBOURS = np.ones((3, 3), np.uint8)
# a digit's ink strength is this quantile of its pixels' strength
_STRENGTH_QUANTILE = 0.9
# a digit whose rim is soft on more than this fraction has shading joined to it
_SOFT_RIM_ALLOWED = 0.1
# the region around the digit's box: this fraction of its longest side, at least _MIN_PAD px
_PAD_DIVISOR = 8
_MIN_PAD = 2


@dataclass(frozen=True)
class DigitInk:
    """The ink of a digit's pieces as a 0/1 mask (see ``PhotoPreprocessor`` for the settings:
    ``ink_level``, ``min_edge_sharpness``; None skips that step)."""

    ink_level: float | None = 0.5
    min_edge_sharpness: float | None = 0.12

    def __call__(
        self, labels: np.ndarray, strength: np.ndarray, parts: list[Component]
    ) -> tuple[np.ndarray, int, int]:
        """The ink of ``parts`` as a 0/1 mask of the region around them, and the region's
        top-left corner (``labels`` and ``strength`` as in :class:`~.ink.InkFound`)."""
        x1, y1, x2, y2 = bounds(parts)
        pad = max(_MIN_PAD, (max(x2 - x1, y2 - y1)) // _PAD_DIVISOR)
        left, top = max(0, x1 - pad), max(0, y1 - pad)
        region = labels[top : y2 + pad, left : x2 + pad]
        if len(parts) == 1:  # most digits are one piece: a comparison, far cheaper than isin
            mask = (region == parts[0].label).astype(np.uint8)
        else:
            mask = np.isin(region, [c.label for c in parts]).astype(np.uint8)
        ink = strength[top : y2 + pad, left : x2 + pad]
        if self.ink_level is not None:
            mask = own_ink(mask, ink, self.ink_level)
        if self.min_edge_sharpness is not None:
            mask = without_shading(mask, ink, self.min_edge_sharpness)
        return mask, left, top


def rim_sharpness(labels: np.ndarray, strength: np.ndarray, piece: Component) -> float:
    """How steeply a piece's ink rises at its rim: the median, over its rim pixels, of the
    steepest slope of ``strength`` next to each (per pixel), relative to the piece's own ink
    strength. A pen or pencil stroke's edge rises within a pixel or two (~0.2-0.5), the tip of
    a shadow left by the paper estimate over many (~0.1)."""
    y1, x1 = max(0, piece.y - _MIN_PAD), max(0, piece.x - _MIN_PAD)
    region = (slice(y1, piece.y2 + _MIN_PAD), slice(x1, piece.x2 + _MIN_PAD))
    mask = (labels[region] == piece.label).astype(np.uint8)
    ink = strength[region]
    steepness = _steepness(ink, 1 / 8)  # the slope per pixel
    rim = _rim(mask) > 0
    return float(quantiles(steepness[rim], (0.5,))[0]) / max(_own_strength(mask, ink), 1)


def own_ink(mask: np.ndarray, strength: np.ndarray, level: float) -> np.ndarray:
    """Re-threshold a digit at ``level`` of its own ink strength: the frame's threshold is low
    enough for faint pencil, which widens a blurred pen stroke, fills its loops and joins faint
    shading to it."""
    kept = mask & (strength > level * _own_strength(mask, strength))
    return kept.astype(np.uint8) if kept.any() else mask


def without_shading(mask: np.ndarray, strength: np.ndarray, min_sharpness: float) -> np.ndarray:
    """Drop the pixels of ``mask`` whose nearest edge is soft: ink has sharp edges at any stroke
    width, the tip of a shadow that thresholding joined to a stroke does not. Each pixel is
    judged by the steepest ink slope next to the nearest pixel outside the mask, relative to its
    own ink strength (so faint pencil counts as much as a marker)."""
    if cv2.countNonZero(mask) == mask.size:
        return mask  # nothing outside to judge the edges by
    # 8x the ink's slope per pixel, and the least of it that counts as sharp for each pixel's ink
    steepness = _steepness(strength, 1.0)
    least = cv2.convertScaleAbs(strength, alpha=8 * min_sharpness)
    # most digits have no soft edge at all: skip the costly part for them
    rim = _rim(mask)
    soft_rim = cv2.countNonZero(cv2.compare(steepness, least, cv2.CMP_LT) & rim)
    if soft_rim <= _SOFT_RIM_ALLOWED * cv2.countNonZero(rim):
        return mask
    _, nearest = cv2.distanceTransformWithLabels(
        mask, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL
    )
    # DIST_LABEL_PIXEL numbers the outside pixels 1, 2, ... in row-major order
    edge_steepness = steepness.ravel()[np.flatnonzero(mask.ravel() == 0)][nearest - 1]
    sharp = edge_steepness >= least
    kept = (mask & sharp).astype(np.uint8)
    return kept if kept.any() else mask


def _own_strength(mask: np.ndarray, strength: np.ndarray) -> int:
    """A digit's ink strength: the ``_STRENGTH_QUANTILE`` of its pixels' strength."""
    return int(quantiles(strength[mask > 0], (_STRENGTH_QUANTILE,))[0])


def _steepness(strength: np.ndarray, scale: float) -> np.ndarray:
    """``scale`` x 8 x the slope of ``strength`` per pixel (Sobel, L1; uint8, saturating) at its
    steepest next to each pixel."""
    gx = cv2.convertScaleAbs(cv2.Sobel(strength, cv2.CV_16S, 1, 0), alpha=scale)
    gy = cv2.convertScaleAbs(cv2.Sobel(strength, cv2.CV_16S, 0, 1), alpha=scale)
    return cv2.dilate(cv2.add(gx, gy), _NEIGHBOURS)


def _rim(mask: np.ndarray) -> np.ndarray:
    """The pixels of the 0/1 ``mask`` next to a pixel outside it (0/1)."""
    return cv2.subtract(mask, cv2.erode(mask, _NEIGHBOURS))
