"""The per-digit capture folder: frames saved atomically, never overwritten, with a manifest.

``<root>/<digit>/<session>_<n>.<format>``: the session id is new for every capture, numbers
continue after the files already there, each file appears atomically (written aside, then
linked into place) and ``<root>/manifest.jsonl`` gets one line per frame. ``digitrec-capture``
and ``digitrec-serve`` both write through :class:`CaptureWriter`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from digitrec.data.names import frame_name, frame_number

_SESSION = re.compile(r"^[A-Za-z0-9-]+$")
#: where undone captures go (inside the capture root; no digit folder, so never read as data)
TRASH = "trash"


class CaptureError(RuntimeError):
    """Capturing cannot go on; frames already saved stay saved."""


def new_session_id() -> str:
    """A session id unique to this capture: date, time and a random suffix (no underscores)."""
    return f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


class CaptureWriter:
    """Saves frames under ``root/<digit>/<session>_<n>.<format>`` and appends to the manifest."""

    def __init__(
        self,
        root: str | Path,
        session: str | None = None,
        image_format: str = "png",
        camera_settings: dict[str, Any] | None = None,
    ) -> None:
        self.root = Path(root).expanduser()
        self.session = session or new_session_id()
        if not _SESSION.match(self.session):
            raise CaptureError(f"session={self.session!r}: use letters, digits and '-' only")
        self.extension = "." + image_format.lower().lstrip(".")
        if not cv2.haveImageWriter(f"x{self.extension}"):
            raise CaptureError(f"image_format={image_format!r}: OpenCV cannot write that format")
        self.camera_settings = camera_settings or {}
        self.manifest = self.root / "manifest.jsonl"
        self.counts: dict[int, int] = {}
        self._next: dict[int, int] = {}

    def _first_free_number(self, folder: Path) -> int:
        names = [p.name for p in folder.iterdir() if not p.name.startswith(".")]
        numbers = [n for name in names if (n := frame_number(name)) is not None]
        return max(numbers, default=0) + 1

    def save(self, image: np.ndarray, digit: int) -> Path:
        """Save one frame as ``digit``; returns its path. Never overwrites a file."""
        if not 0 <= int(digit) <= 9:
            raise CaptureError(f"digit must be 0-9, got {digit!r}")
        digit = int(digit)
        folder = self.root / str(digit)
        folder.mkdir(parents=True, exist_ok=True)
        ok, encoded = cv2.imencode(self.extension, image)
        if not ok:
            raise CaptureError(f"cannot encode a frame as {self.extension}")
        number = self._next.get(digit) or self._first_free_number(folder)
        tmp = folder / f".{self.session}.{os.getpid()}.tmp{self.extension}"
        try:
            tmp.write_bytes(encoded.tobytes())
            while True:
                path = folder / frame_name(self.session, number, self.extension)
                try:
                    os.link(tmp, path)  # atomic, and fails instead of replacing an existing file
                    break
                except FileExistsError:
                    number += 1
                except OSError:  # a filesystem without hard links
                    if path.exists():
                        number += 1
                        continue
                    os.replace(tmp, path)
                    break
        finally:
            tmp.unlink(missing_ok=True)
        self._next[digit] = number + 1
        self.counts[digit] = self.counts.get(digit, 0) + 1
        record = {
            "path": path.relative_to(self.root).as_posix(),
            "digit": digit,
            "session": self.session,
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "camera": self.camera_settings,
        }
        with self.manifest.open("a", encoding="utf-8") as manifest:
            manifest.write(json.dumps(record) + "\n")
        return path


def move_to_trash(root: Path, path: Path) -> Path:
    """Move a saved frame ``root/<digit>/<name>`` to ``root/trash/<digit>/<name>`` (never
    deleting, never replacing a file there) and note it in the manifest; returns where it went."""
    relative = path.relative_to(root)
    target = root / TRASH / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    stem, number = target.stem, 1
    while target.exists():
        number += 1
        target = target.with_name(f"{stem}.{number}{path.suffix}")
    os.replace(path, target)
    record = {
        "undo": relative.as_posix(),
        "moved_to": target.relative_to(root).as_posix(),
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
    }
    with (root / "manifest.jsonl").open("a", encoding="utf-8") as manifest:
        manifest.write(json.dumps(record) + "\n")
    return target


def digit_counts(root: Path) -> dict[int, int]:
    """How many frames each digit folder of ``root`` holds (hidden files not counted)."""
    return {
        d: sum(1 for p in (root / str(d)).iterdir() if not p.name.startswith("."))
        if (root / str(d)).is_dir()
        else 0
        for d in range(10)
    }


def ensure_writable_root(root: str | Path) -> Path:
    """Create ``root`` (and its parents) or fail with one line saying why it cannot hold
    captures: a file in its way, or no permission to write there."""
    root = Path(root).expanduser()
    existing = root
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise CaptureError(f"root={str(root)!r} cannot hold captures: {str(existing)!r} is a file")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CaptureError(f"root={str(root)!r} cannot be created: {err.strerror or err}") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise CaptureError(f"root={str(root)!r} is not writable")
    return root
