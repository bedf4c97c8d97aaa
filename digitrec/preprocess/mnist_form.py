"""MNIST's form of a digit's ink: step 7 of ``preprocess=photo``.

Strokes thickened (or thinned) towards MNIST's stroke-to-size ratio, optionally deskewed, the
longest side fitted into ``box`` px keeping the aspect ratio (anti-aliased), padded to ``size``
and shifted so that the centre of mass is the centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from digitrec.preprocess.ink import odd
from digitrec.preprocess.runs import DigitCrop

# strokes are normalised at no more than this many times the output's box (same result, faster)
_STROKE_SCALE = 4
# strokes thinner than this share of the target are thickened to it...
_THICKEN_BELOW = 0.7
# ... and those wider than this many times the target (in digits >= _MIN_THIN_EXTENT px) thinned
# halfway towards _THIN_TO times it (a marker's or a blurred stroke left thick reads as a blob:
# a thick 1 as 0 or 8)
_THIN_ABOVE = 1.3
_THIN_TO = 1.0
_MIN_THIN_EXTENT = 20
_NEIGHBOURS = np.ones((3, 3), np.uint8)


@dataclass(frozen=True)
class MnistForm:
    """Renders a digit's 0/1 ink mask in MNIST's form (the settings as in ``PhotoPreprocessor``)."""

    size: int = 28
    box: int = 20
    stroke_ratio: float | None = 0.11
    deskew: bool = False

    def __call__(self, mask: np.ndarray, left: int, top: int, scale: float) -> DigitCrop:
        """MNIST's form of the digit in ``mask`` (whose top-left is at ``left, top`` of the
        working image; ``scale`` maps the input to it) and its box in the input's pixels."""
        bx, by, bw, bh = cv2.boundingRect(mask)  # the box of what is left
        x1, x2, y1, y2 = left + bx, left + bx + bw, top + by, top + by + bh
        mask_as_found = mask
        extent = max(x2 - x1, y2 - y1)
        if extent > _STROKE_SCALE * self.box:
            factor = _STROKE_SCALE * self.box / extent
            size = (max(1, round(mask.shape[1] * factor)), max(1, round(mask.shape[0] * factor)))
            mask = (cv2.resize(mask * 255, size, interpolation=cv2.INTER_AREA) >= 128).astype(
                np.uint8
            )
            extent = _STROKE_SCALE * self.box
        if self.stroke_ratio is not None:
            mask = normalise_strokes(mask, self.stroke_ratio * extent, extent)
        if not mask.any():
            mask = mask_as_found
        bx, by, bw, bh = cv2.boundingRect(mask)
        mask = mask[by : by + bh, bx : bx + bw].astype(np.float32)
        if self.deskew:
            mask = deskewed(mask)
        image = fit_and_centre(mask, self.size, self.box)
        box = (
            int(x1 / scale),
            int(y1 / scale),
            max(1, round((x2 - x1) / scale)),
            max(1, round((y2 - y1) / scale)),
        )
        return DigitCrop(box=box, image=image)


def stroke_width(mask: np.ndarray) -> float:
    """The mean stroke width of the 0/1 ``mask``: twice its area over its rim."""
    area = int(mask.sum())
    boundary = int((mask & (1 - cv2.erode(mask, _NEIGHBOURS))).sum())
    return 2.0 * area / max(boundary, 1)


def normalise_strokes(mask: np.ndarray, target: float, extent: int) -> np.ndarray:
    """``mask`` (a digit ``extent`` px on its longest side) with strokes thickened towards
    ``target`` px wide, or thinned when far wider; unchanged when near it."""
    width = stroke_width(mask)
    if width < _THICKEN_BELOW * target:
        k = odd(target - width)
        padded = cv2.copyMakeBorder(mask, k, k, k, k, cv2.BORDER_CONSTANT, value=0)
        return cv2.dilate(padded, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    if width > _THIN_ABOVE * target and extent >= _MIN_THIN_EXTENT:
        k = odd((width - _THIN_TO * target) / 2)
        thinned = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        if thinned.any():
            return thinned
    return mask


def deskewed(mask: np.ndarray) -> np.ndarray:
    """Shear so that the digit's principal axis is vertical (as OpenCV's digits sample)."""
    m = cv2.moments(mask)
    if abs(m["mu02"]) < 1e-2:
        return mask
    skew = float(np.clip(m["mu11"] / m["mu02"], -1.0, 1.0))
    h, w = mask.shape
    cy = m["m01"] / m["m00"]
    margin = abs(skew) * h / 2
    matrix = np.float32([[1, -skew, skew * cy + margin], [0, 1, 0]])
    out = cv2.warpAffine(mask, matrix, (int(np.ceil(w + 2 * margin)), h), flags=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(out > 0.05)
    return out[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] if len(xs) else mask


def fit_and_centre(mask: np.ndarray, size: int = 28, box: int = 20) -> np.ndarray:
    """MNIST's form of a cropped digit (``mask``: ink in [0, 1], tight around the digit): the
    longest side fitted into ``box`` px keeping the aspect ratio, on a ``size`` x ``size``
    black ``uint8`` canvas, shifted so that the centre of mass is the centre."""
    h, w = mask.shape
    factor = box / max(h, w)
    new_w, new_h = max(1, round(w * factor)), max(1, round(h * factor))
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    digit = cv2.resize(mask, (new_w, new_h), interpolation=interpolation)
    m = cv2.moments(digit)
    if m["m00"] <= 0:
        cx, cy = new_w / 2, new_h / 2
    else:
        cx, cy = m["m10"] / m["m00"], m["m01"] / m["m00"]
    # translate so that the centre of mass lands on the output's centre
    shift = np.float32([[1, 0, size / 2 - cx - 0.5], [0, 1, size / 2 - cy - 0.5]])
    canvas = np.zeros((size, size), np.float32)
    canvas[:new_h, :new_w] = digit[:size, :size]
    moved = cv2.warpAffine(canvas, shift, (size, size), flags=cv2.INTER_LINEAR)
    return np.clip(moved * 255.0 + 0.5, 0, 255).astype(np.uint8)
