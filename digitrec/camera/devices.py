"""Cameras that read OpenCV sources: a webcam, a video file or stream, a folder of photos."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
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


class _NewestFrame:
    """A thread reading ``grab`` as fast as the camera delivers, keeping only the newest frame:
    a reader slower than the camera gets the frame of now, not one from seconds ago (the
    camera's own buffer would queue them), and a faster one waits for the next new frame."""

    def __init__(self, grab: Callable[[], np.ndarray], name: str) -> None:
        self._grab = grab
        self._ready = threading.Condition()
        self._frame: np.ndarray | None = None
        self._error: CameraError | None = None
        self._stop = False
        #: frames the camera delivered that no reader took
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name=f"{name} grabber", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                image = self._grab()
            except CameraError as error:
                with self._ready:
                    self._error = error
                    self._ready.notify_all()
                return
            with self._ready:
                if self._frame is not None:
                    self.dropped += 1
                self._frame = image
                self._ready.notify_all()

    def take(self, timeout: float = 10.0) -> np.ndarray:
        """The newest frame not yet taken, waiting for one (a CameraError if the camera fails or
        delivers nothing for ``timeout`` seconds)."""
        with self._ready:
            if not self._ready.wait_for(
                lambda: self._frame is not None or self._error is not None, timeout
            ):
                raise CameraError(f"no frame for {timeout:.0f} s from the camera's grab thread")
            if self._frame is None:
                raise self._error  # type: ignore[misc]
            frame, self._frame = self._frame, None
            return frame

    def stop(self) -> None:
        """End the thread (after the frame it is reading, if any)."""
        self._stop = True
        self._thread.join(timeout=5)


class WebcamCamera(_OpenCVCapture):
    """A webcam by device index (or device path), opened once for the whole session.

    Args:
        device: index (0 is the first camera) or a device path such as ``/dev/video2``.
        backend: ``any``, ``v4l2``, ``dshow``, ``msmf``, ``avfoundation``, ``gstreamer``.
        width, height, fps: requested capture settings (cameras may deliver something else:
            a warning says so).
        warmup_frames: frames read and discarded after opening while auto exposure settles.
        mirror: flip frames left-right (a selfie view).
        newest_frame: read in a thread and hand out only the newest frame, so a reader slower
            than the camera never lags behind it (live reading); false: every frame in turn.
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
        newest_frame: bool = False,
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
        # (in newest-frame mode the first frame is old by the time it is read: dropped)
        self._pending: np.ndarray | None = None if newest_frame else first
        self._newest = _NewestFrame(self._grab, self.name) if newest_frame else None

    def _grab(self) -> np.ndarray:
        ok, image = self._capture.read()
        if not ok or image is None:
            raise CameraError(f"reading a frame from {self.name} failed (was it unplugged?)")
        return image

    def read(self) -> Frame:
        if self._pending is not None:
            image, self._pending = self._pending, None
        elif self._newest is not None:
            image = self._newest.take()
        else:
            image = self._grab()
        return self._emit(image)

    @property
    def dropped(self) -> int:
        """Frames the camera delivered that no read took (newest-frame mode; else 0)."""
        return self._newest.dropped if self._newest is not None else 0

    def settings(self) -> dict[str, Any]:
        return {
            **super().settings(),
            "backend": self.backend,
            "newest_frame": self._newest is not None,
        }

    def close(self) -> None:
        if self._newest is not None:
            self._newest.stop()
        super().close()


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
