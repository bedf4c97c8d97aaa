"""Preprocessing: one pure function from an image to a 28x28 uint8 digit (white ink on black).

A preprocessor is any callable ``image -> np.ndarray | None`` taking a gray or BGR(A) ``uint8``
(or 16-bit) array and returning a ``(28, 28)`` ``uint8`` array, or ``None`` when the image holds
no digit. The same objects serve the DataModule's cache, capture previews and inference; the
``conf/preprocess`` group builds them and checkpoints store that config.
"""

from digitrec.preprocess.basic import GuidePreprocessor, MnistFormCheck, to_gray_uint8
from digitrec.preprocess.config import build_preprocessor
from digitrec.preprocess.photo import PhotoPreprocessor
from digitrec.preprocess.protocols import DigitFinder, Preprocessor
from digitrec.preprocess.runs import DigitCrop, InkRun

# Part of every preprocessing cache key: bump it whenever a preprocessor's output changes, so that
# caches built by older code are not reused.
VERSION = 17

#: the photo preprocessing under the name checkpoints and exports written before 2026-11-27
#: store (``_target_: digitrec.preprocess.MnistPreprocessor``): they still load
MnistPreprocessor = PhotoPreprocessor

__all__ = [
    "VERSION",
    "DigitCrop",
    "DigitFinder",
    "GuidePreprocessor",
    "InkRun",
    "MnistFormCheck",
    "MnistPreprocessor",
    "PhotoPreprocessor",
    "Preprocessor",
    "build_preprocessor",
    "to_gray_uint8",
]
