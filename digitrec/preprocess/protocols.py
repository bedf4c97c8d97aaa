"""What a preprocessor is, and what one that can find digits in a photo offers besides."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from digitrec.preprocess.runs import DigitCrop, InkRun


@runtime_checkable
class Preprocessor(Protocol):
    """An image (gray or BGR(A), 8 or 16 bit) -> its 28x28 ``uint8`` digit, or None."""

    def __call__(self, image: np.ndarray) -> np.ndarray | None: ...


@runtime_checkable
class DigitFinder(Preprocessor, Protocol):
    """A preprocessor that finds digits in a photo (``preprocess=photo``): where the digit is,
    and every digit of a written number with the places where touching ones may be cut.
    ``isinstance(p, DigitFinder)`` tells whether a preprocessor can do that (the guide's resize
    and the MNIST-form check cannot)."""

    def extract(self, image: np.ndarray) -> DigitCrop | None: ...

    def segment(self, image: np.ndarray) -> list[DigitCrop]: ...

    def segment_runs(self, image: np.ndarray) -> list[InkRun]: ...
