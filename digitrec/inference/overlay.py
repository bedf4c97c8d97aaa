"""Draw predictions on a frame (the predict script's annotated images and live window)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from digitrec.inference.recognizer import Prediction
from digitrec.preprocess import to_gray_uint8

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_GOOD, _UNSURE, _TEXT = (0, 200, 0), (0, 165, 255), (255, 255, 0)


def draw_predictions(
    image: np.ndarray,
    predictions: Sequence[Prediction],
    caption: str | None = None,
    fps: float | None = None,
) -> np.ndarray:
    """A BGR copy of ``image`` with each digit's box, its reading and confidence, an optional
    caption (the whole number, a smoothed reading) and the frame rate."""
    view = _bgr_copy(image)
    scale = max(0.5, min(view.shape[:2]) / 480)
    thickness = max(1, round(2 * scale))
    for prediction in predictions:
        if prediction.box is None:
            continue
        x, y, w, h = prediction.box
        colour = _GOOD if prediction.digit is not None else _UNSURE
        cv2.rectangle(view, (x, y), (x + w, y + h), colour, thickness)
        label = "?" if prediction.digit is None else str(prediction.digit)
        text = f"{label} {prediction.confidence:.0%}"
        cv2.putText(view, text, (x, max(15, y - 6)), _FONT, 0.7 * scale, colour, thickness)
    lines = [caption] if caption else []
    if not any(p.box for p in predictions):
        lines.append("no digit")
    if fps is not None:
        lines.append(f"{fps:.1f} fps")
    for row, line in enumerate(lines):
        origin = (10, int(30 * scale) * (row + 1))
        cv2.putText(view, line, origin, _FONT, 0.8 * scale, _TEXT, thickness)
    return view


def _bgr_copy(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3 and image.shape[2] >= 3:
        pixels = image[:, :, :3]
        return (pixels >> 8).astype(np.uint8) if pixels.dtype == np.uint16 else pixels.copy()
    return cv2.cvtColor(to_gray_uint8(image), cv2.COLOR_GRAY2BGR)
