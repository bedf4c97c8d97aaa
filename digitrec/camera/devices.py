"""Cameras that read OpenCV sources: a webcam, a video file or stream, a folder of photos."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from digitrec.camera.base import Camera, CameraError, Frame
from digitrec.data.folder import find_images
from digitrec.data.images import ImageReadError, read_image

log = logging.getLogger(__name__)

BACKENDS = {
    "any": cv2.CAP_ANY,
    "v4l2": cv2.CAP_V4L2,
    "dshow": cv2.CAP_DSHOW,
    "msmf": cv2.CAP_MSMF,
    "avfoundation": cv2.CAP_AVFOUNDATION,
    "gstreamer": cv2.CAP_GSTREAMER,
    "ffmpeg": cv2.CAP_FFMPEG,
}


@contextlib.contextmanager
def _quiet_opencv():
    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_api is None:
        yield
        return
    previous = logging_api.getLogLevel()
    logging_api.setLogLevel(logging_api.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        logging_api.setLogLevel(previous)


def _as_bgr(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


class _OpenCVCapture(Camera):
    """What a webcam and a video share: a ``cv2.VideoCapture``, mirroring and frame numbering."""

    _capture: cv2.VideoCapture
    mirror: bool = False
    _index: int = 0

    def _emit(self, image: np.ndarray) -> Frame:
        if self.mirror:
            image = cv2.flip(image, 1)
        frame = Frame(image=image, index=self._index)
        self._index += 1
        return frame

    def settings(self) -> dict[str, Any]:
        cap = self._capture
        return {
            "camera": self.name,
            "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            "fps": float(cap.get(cv2.CAP_PROP_FPS)),
            "mirror": self.mirror,
        }

    def close(self) -> None:
        self._capture.release()


class WebcamCamera(_OpenCVCapture):
    """A webcam by device index (or device path), opened once for the whole session.

    Args:
        device: index (0 is the first camera) or a device path such as ``/dev/video2``.
        backend: ``any``, ``v4l2``, ``dshow``, ``msmf``, ``avfoundation``, ``gstreamer``.
        width, height, fps: requested capture settings (cameras may deliver something else:
            a warning says so).
        warmup_frames: frames read and discarded after opening while auto exposure settles.
        mirror: flip frames left-right (a selfie view).
    """

    def __init__(
        self,
        device: int | str = 0,
        backend: str = "any",
        width: int | None = 640,
        height: int | None = 480,
        fps: float | None = None,
        warmup_frames: int = 5,
        mirror: bool = False,
    ) -> None:
        key = str(backend).lower()
        if key not in BACKENDS:
            raise CameraError(f"camera.backend={backend!r} is not one of {sorted(BACKENDS)}")
        self.device, self.backend, self.mirror = device, key, mirror
        self.requested = {"width": width, "height": height, "fps": fps}
        self.name = f"webcam {device}"
        with _quiet_opencv():  # OpenCV prints its own warnings for missing devices
            self._capture = cv2.VideoCapture(device, BACKENDS[key])
        if not self._capture.isOpened():
            self._capture.release()
            raise CameraError(
                f"cannot open {self.name} (backend {key}): no such device, or it is in use "
                "by another program; try camera.device=1 or another camera.backend"
            )
        for prop, value in (
            (cv2.CAP_PROP_FRAME_WIDTH, width),
            (cv2.CAP_PROP_FRAME_HEIGHT, height),
            (cv2.CAP_PROP_FPS, fps),
        ):
            if value:
                self._capture.set(prop, value)
        self._index = 0
        for _ in range(max(0, warmup_frames)):
            self._grab()
        first = self._grab()
        if width and height and first.shape[:2] != (height, width):
            log.warning(
                "%s delivers %dx%d frames, not the requested %dx%d",
                self.name,
                first.shape[1],
                first.shape[0],
                width,
                height,
            )
        self._pending: np.ndarray | None = first

    def _grab(self) -> np.ndarray:
        ok, image = self._capture.read()
        if not ok or image is None:
            raise CameraError(f"reading a frame from {self.name} failed (was it unplugged?)")
        return image

    def read(self) -> Frame:
        image, self._pending = (
            (self._pending, None) if self._pending is not None else (self._grab(), None)
        )
        return self._emit(image)

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "backend": self.backend}


class VideoCamera(_OpenCVCapture):
    """A video file or stream URL read like a camera; ``loop`` restarts a file at its end."""

    def __init__(self, path: str, loop: bool = False, mirror: bool = False) -> None:
        self.path, self.loop, self.mirror = str(path), loop, mirror
        self.name = f"video {self.path}"
        is_url = "://" in self.path
        if not is_url and not Path(self.path).expanduser().is_file():
            raise CameraError(f"cannot open video {self.path!r}: no such file")
        self._capture = cv2.VideoCapture(
            str(Path(self.path).expanduser()) if not is_url else self.path
        )
        if not self._capture.isOpened():
            self._capture.release()
            raise CameraError(f"cannot open video {self.path!r}: not a video OpenCV can decode")
        self._index = 0
        # the frame count a file's header reports (streams report none)
        self._reported = 0 if is_url else max(0, int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        self._decoded = 0  # frames decoded in this pass through the file
        self._warned = False

    def read(self) -> Frame | None:
        ok, image = self._capture.read()
        if not ok:
            self._warn_if_cut_short()
        if not ok and self.loop and self._index > 0:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self._decoded = 0
            ok, image = self._capture.read()
        if not ok or image is None:
            return None
        self._decoded += 1
        return self._emit(image)

    def _warn_if_cut_short(self) -> None:
        """A file that ends before the frame count its header reports is truncated or damaged:
        say so once (the frames read so far stand)."""
        if not self._warned and 0 < self._decoded < self._reported:
            self._warned = True
            log.warning(
                "video %r ended after %d of the %d frames its header reports: the file is "
                "truncated or damaged",
                self.path,
                self._decoded,
                self._reported,
            )


class ImagesCamera(Camera):
    """A folder (or a glob such as ``photos/*.jpg``) of still photos replayed as frames in name
    order; ``loop`` starts again after the last."""

    def __init__(self, path: str, loop: bool = False) -> None:
        self.path, self.loop = str(path), loop
        self.name = f"images {self.path}"
        try:
            self.files = find_images(self.path)
        except FileNotFoundError as err:
            raise CameraError(f"camera.path: {err} (a folder or a glob of photos)") from None
        self._index = 0

    def read(self) -> Frame | None:
        if self._index >= len(self.files) and not self.loop:
            return None
        path = self.files[self._index % len(self.files)]
        try:
            image = read_image(path)
        except ImageReadError as err:
            raise CameraError(f"{self.name}: {err}") from err
        frame = Frame(image=_as_bgr(image), index=self._index)
        self._index += 1
        return frame

    def settings(self) -> dict[str, Any]:
        return {"camera": self.name, "files": len(self.files)}
