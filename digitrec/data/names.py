"""The names captured frames get, ``<session>_<n>.<ext>``, and what a name tells of its frame.

``digitrec-capture`` writes them; the split reads the session back from them, so that frames of
one session stay on one side.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

_FRAME = re.compile(r"^(?P<session>.+)_(?P<n>\d+)$")


def frame_name(session: str, number: int, extension: str) -> str:
    """``<session>_<number, 4 digits>.<extension>`` (``extension`` with its dot)."""
    return f"{session}_{number:04d}{extension}"


def frame_number(name: str) -> int | None:
    """The frame number of a file named ``<session>_<n>.<ext>``; None for other names."""
    match = _FRAME.match(PurePosixPath(name).stem)
    return int(match["n"]) if match else None


def session_of(relpath: str) -> str:
    """The capture session of an image: ``abc`` for ``3/abc_12.png``, else the file's stem."""
    stem = PurePosixPath(relpath).stem
    match = _FRAME.match(stem)
    return match["session"] if match else stem
