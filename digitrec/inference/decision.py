"""Which digit a net's probabilities name: the one rule every reader applies."""

from __future__ import annotations

import numpy as np

#: the digit given where the most probable class is less probable than ``min_confidence``
UNSURE = -1


def decide(probabilities: np.ndarray, min_confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """The most probable class of each row of ``probabilities`` ``(N, classes)`` (``UNSURE``
    where its probability is below ``min_confidence``) and that probability."""
    probabilities = np.atleast_2d(probabilities)
    best = probabilities.argmax(axis=1)
    confidence = probabilities[np.arange(len(best)), best]
    return np.where(confidence >= min_confidence, best, UNSURE), confidence


def decide_one(probabilities: np.ndarray, min_confidence: float) -> tuple[int | None, float]:
    """:func:`decide` for one image: its digit (None: unsure) and the confidence."""
    digits, confidence = decide(probabilities, min_confidence)
    digit = int(digits[0])
    return (None if digit == UNSURE else digit), float(confidence[0])
