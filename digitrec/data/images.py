"""Decode image files without OpenCV's bare errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


class ImageReadError(ValueError):
    """An image file is missing, unreadable or not a decodable image."""


def read_image(path: str | Path) -> np.ndarray:
    """Decode ``path`` as a gray or BGR array (8 or 16 bit), honouring EXIF orientation.

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
    try:
        image = cv2.imdecode(data, cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH)
    except cv2.error as err:
        raise ImageReadError(f"cannot decode image {str(path)!r}: {err.msg or err}") from err
    if image is None:
        raise ImageReadError(f"cannot decode image {str(path)!r}: not a valid image file")
    return image


def write_image_atomic(path: str | Path, image: np.ndarray) -> None:
    """Encode ``image`` by ``path``'s extension and write it via a temporary file and a rename.

    An interruption leaves either no file or the complete one, never a truncated image.
    """
    path = Path(path)
    ok, encoded = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise ImageReadError(f"cannot encode an image as {path.suffix!r} for {str(path)!r}")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(encoded.tobytes())
    tmp.replace(path)
