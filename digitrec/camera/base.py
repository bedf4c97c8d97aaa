"""The camera interface and ``open_camera``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig


class CameraError(RuntimeError):
    """A camera could not be opened or read; the message names the device or path."""


@dataclass(frozen=True)
class Frame:
    """One BGR ``uint8`` frame, its index in the stream and, for a synthetic camera, the true
    digits it shows (left to right)."""

    image: np.ndarray
    index: int
    labels: tuple[int, ...] | None = None


class Camera:
    """Base class: ``read()`` returns the next :class:`Frame`, or None when a finite source (a
    video file, a folder of photos) has no more; ``close()`` releases the device."""

    #: a short description for messages and manifests, e.g. "webcam 0" or "video clip.mp4"
    name: str = "camera"

    def read(self) -> Frame | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device (idempotent)."""

    def prompt(self, digit: int) -> None:
        """Told which digit the user is asked to show next; real cameras ignore it, the
        synthetic camera then renders that digit."""

    def settings(self) -> dict[str, Any]:
        """What the manifest records about this camera."""
        return {"camera": self.name}

    def frames(self) -> Iterator[Frame]:
        """Iterate until the source ends."""
        while (frame := self.read()) is not None:
            yield frame

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def __enter__(self) -> Camera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def open_camera(config: Mapping[str, Any] | DictConfig) -> Iterator[Camera]:
    """Open the camera a ``conf/camera`` node describes; it is released however the block ends."""
    try:
        camera = instantiate(config)
    except InstantiationException as err:  # surface our own one-line error, not Hydra's wrapper
        if isinstance(err.__cause__, CameraError):
            raise err.__cause__ from None
        raise
    if not isinstance(camera, Camera):
        raise TypeError(f"camera config built a {type(camera).__name__}, not a digitrec Camera")
    try:
        yield camera
    finally:
        camera.close()
