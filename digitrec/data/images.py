"""Decode image files without OpenCV's bare errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from digitrec.utils.atomic import atomic_path


class ImageReadError(ValueError):
    """An image file is missing, unreadable or not a decodable image."""


def read_image(path: str | Path) -> np.ndarray:
    """Decode ``path`` as a gray, BGR or BGRA array (8 or 16 bit; float and other depths are
    scaled to 8 bits), honouring EXIF orientation.

    Raises :class:`ImageReadError` naming the file when it cannot be read or decoded. Reading the
    bytes ourselves (rather than ``cv2.imread``) also handles non-ASCII paths on every platform.
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise ImageReadError(f"cannot read image {str(path)!r}: {err.strerror or err}") from err
    if data.size == 0:
        raise ImageReadError(f"cannot decode image {str(path)!r}: the file is empty")
    # a PNG with an alpha channel is read with it (to flatten onto white paper); other images
    # are read so that EXIF orientation applies (it does not with IMREAD_UNCHANGED)
    flags = cv2.IMREAD_UNCHANGED if _png_with_alpha(data) else cv2.IMREAD_ANYCOLOR
    try:
        image = cv2.imdecode(data, flags | cv2.IMREAD_ANYDEPTH)
    except cv2.error as err:
        raise ImageReadError(f"cannot decode image {str(path)!r}: {err.msg or err}") from err
    if image is None:
        raise ImageReadError(f"cannot decode image {str(path)!r}: not a valid image file")
    return _as_8_or_16_bit(image)


def _png_with_alpha(data: np.ndarray) -> bool:
    """Is ``data`` a PNG file whose colour type has an alpha channel (gray + alpha or RGBA)?"""
    return bytes(data[:8]) == b"\x89PNG\r\n\x1a\n" and data.size > 25 and int(data[25]) in (4, 6)


def _as_8_or_16_bit(image: np.ndarray) -> np.ndarray:
    """Float images (TIFF, EXR: 0-1, or 0-255 when brighter) and other integer depths scaled
    to 8 bits; 8- and 16-bit images as they are."""
    if image.dtype in (np.uint8, np.uint16):
        return image
    values = np.nan_to_num(image.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if np.issubdtype(image.dtype, np.integer):
        values = values * (255.0 / max(float(np.iinfo(image.dtype).max), 1.0))
    elif values.max(initial=0.0) <= 1.0:
        values = values * 255.0
    return np.clip(values + 0.5, 0, 255).astype(np.uint8)


def write_image_atomic(path: str | Path, image: np.ndarray) -> None:
    """Encode ``image`` by ``path``'s extension and write it via a temporary file and a rename.

    An interruption leaves either no file or the complete one, never a truncated image.
    """
    path = Path(path)
    ok, encoded = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise ImageReadError(f"cannot encode an image as {path.suffix!r} for {str(path)!r}")
    with atomic_path(path) as tmp:
        tmp.write_bytes(encoded.tobytes())
