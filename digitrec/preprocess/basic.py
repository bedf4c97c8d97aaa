"""The guide's preprocessing and the pass-through for images already in MNIST's form."""

from __future__ import annotations

import cv2
import numpy as np

_INTERPOLATIONS = {
    "area": cv2.INTER_AREA,
    "linear": cv2.INTER_LINEAR,
    "nearest": cv2.INTER_NEAREST,
    "cubic": cv2.INTER_CUBIC,
}


def quantiles(values: np.ndarray, fractions: tuple[float, ...]) -> np.ndarray:
    """Quantiles of ``uint8`` values by counting (far cheaper than sorting)."""
    counts = np.cumsum(np.bincount(values.ravel(), minlength=256))
    return np.searchsorted(counts, np.asarray(fractions) * counts[-1])


#: the side of the digits every net reads (MNIST's form)
DIGIT_SIDE = 28


def checked_size(size: int) -> int:
    """``preprocess.size``, which must be :data:`DIGIT_SIDE`: the nets, the exports and the
    reports all read 28x28 digits (the key is kept so that a config can say so)."""
    if isinstance(size, bool) or not isinstance(size, int) or size != DIGIT_SIDE:
        raise ValueError(
            f"preprocess.size must be {DIGIT_SIDE} (digitrec's nets read 28x28 MNIST-form "
            f"digits), got {size!r}"
        )
    return size


def to_gray_uint8(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as a 2-D ``uint8`` gray array.

    Accepts gray ``(H, W)`` or ``(H, W, 1)``, BGR ``(H, W, 3)`` and BGRA ``(H, W, 4)`` arrays in
    ``uint8`` or ``uint16`` (16-bit images are scaled down to 8 bits; BGRA is flattened onto
    white, so transparent parts are paper).
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(image).__name__}")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"expected uint8 or uint16 pixels, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        # flattened onto white paper: ink drawn on a transparent background stays ink
        gray = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY).astype(np.float32)
        alpha = image[:, :, 3].astype(np.float32) / 255.0
        return np.clip(gray * alpha + 255.0 * (1.0 - alpha) + 0.5, 0, 255).astype(np.uint8)
    raise ValueError(f"expected a gray, BGR or BGRA image, got shape {image.shape}")


class GuidePreprocessor:
    """The guide's step 2: grayscale, then resize the whole image to ``size`` x ``size``.

    Kept exactly for comparison (``preprocess=guide``): it neither crops, centres nor inverts, so
    it suits images that already look like MNIST digits. Pixels stay ``uint8``; the batches are
    scaled to [0, 1] on the training device (:func:`digitrec.data.batches.to_model_input`).
    """

    def __init__(self, size: int = 28, interpolation: str = "area") -> None:
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f"preprocess.interpolation must be one of {sorted(_INTERPOLATIONS)}, "
                f"got {interpolation!r}"
            )
        self.size = checked_size(size)
        self.interpolation = interpolation

    def __call__(self, image: np.ndarray) -> np.ndarray | None:
        gray = to_gray_uint8(image)
        if gray.shape == (self.size, self.size):
            return gray
        return cv2.resize(
            gray, (self.size, self.size), interpolation=_INTERPOLATIONS[self.interpolation]
        )


class MnistFormCheck:
    """``preprocess=none``: the images already are ``size`` x ``size`` MNIST-style digits.

    Converts colour to gray and otherwise passes the pixels through; an image of another size is
    rejected (the data loader reports and skips it) rather than silently distorted.
    """

    def __init__(self, size: int = 28) -> None:
        self.size = checked_size(size)

    def __call__(self, image: np.ndarray) -> np.ndarray | None:
        gray = to_gray_uint8(image)
        if gray.shape != (self.size, self.size):
            raise ValueError(
                f"expected a {self.size}x{self.size} image with preprocess=none, got "
                f"{gray.shape[1]}x{gray.shape[0]} (use preprocess=guide or preprocess=photo)"
            )
        return gray
