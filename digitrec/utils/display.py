"""Whether an OpenCV window can be shown (scripts fall back to headless runs when not)."""

from __future__ import annotations

import os
import sys

import cv2


def has_display() -> bool:
    """True when an OpenCV window can be opened (a display, and OpenCV built with a GUI)."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False
    try:
        cv2.namedWindow("digitrec probe", cv2.WINDOW_NORMAL)
        cv2.destroyWindow("digitrec probe")
        return True
    except cv2.error:  # opencv-python-headless
        return False
