"""The JSON record of one read image, as ``digitrec-predict`` prints it and the web API returns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from digitrec.inference.recognizer import Prediction


def reading_record(
    source: str, frame: int | None, predictions: Sequence[Prediction], text: str | None
) -> dict[str, Any]:
    """The record of one frame of ``source``: a single digit, or (``text`` given) a number's
    digits, left to right."""
    record: dict[str, Any] = {"source": source, "frame": frame}
    if text is not None:
        record.update(
            text=text,
            digits=[p.digit for p in predictions],
            confidences=[round(p.confidence, 4) for p in predictions],
            boxes=[list(p.box) for p in predictions],
        )
    else:
        (prediction,) = predictions
        record.update(
            digit=prediction.digit,
            confidence=round(prediction.confidence, 4),
            box=list(prediction.box) if prediction.box else None,
        )
    return record
