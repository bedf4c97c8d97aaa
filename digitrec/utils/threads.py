"""Thread settings for reading frames one at a time."""

from __future__ import annotations

import cv2


def for_frame_loops() -> None:
    """One OpenCV thread: a 640x480 frame's operations are too small to share out, and the
    hand-over costs more than it saves (1.7 vs 2.5 ms per frame on a 2-core CPU, with the
    single-threaded connected-components algorithm the photo preprocessing uses). Process-wide:
    the live commands call it; call it in your own frame loop too."""
    cv2.setNumThreads(1)
