"""Steady readings from a stream: vote over the last few frames instead of trusting one."""

from __future__ import annotations

from collections import Counter, deque

import numpy as np

from digitrec.inference.decision import decide_one
from digitrec.inference.recognizer import Prediction


class DigitSmoother:
    """Averages the class probabilities of the last ``window`` frames.

    Frames without a digit count too: when they are the majority the smoothed digit is None,
    so it clears soon after the digit leaves the view.
    """

    def __init__(self, window: int = 5, min_confidence: float = 0.0) -> None:
        if window < 1:
            raise ValueError(f"smoothing window must be at least 1 frame, got {window}")
        self.recent: deque[np.ndarray | None] = deque(maxlen=window)
        self.min_confidence = min_confidence

    def update(self, prediction: Prediction) -> int | None:
        """Add a frame's prediction; return the smoothed digit."""
        self.recent.append(prediction.probabilities)
        seen = [p for p in self.recent if p is not None]
        if len(seen) * 2 < len(self.recent) or not seen:
            return None
        return decide_one(np.mean(seen, axis=0), self.min_confidence)[0]


class TextSmoother:
    """The most frequent reading of a number over the last ``window`` frames (ties: the latest)."""

    def __init__(self, window: int = 5) -> None:
        if window < 1:
            raise ValueError(f"smoothing window must be at least 1 frame, got {window}")
        self.recent: deque[str] = deque(maxlen=window)

    def update(self, text: str) -> str:
        """Add a frame's reading; return the smoothed one."""
        self.recent.append(text)
        counts = Counter(self.recent)
        top = max(counts.values())
        return next(t for t in reversed(self.recent) if counts[t] == top)
