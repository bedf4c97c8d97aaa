"""A second, closer look at a small digit in a large photo (part of step 6 of ``preprocess=photo``).

A phone photographs a whole notebook page at 1080x1920; at the 480 px analysis size a digit
one or two line spacings tall is 13-38 px, its thin pen under a pixel wide, as faint as the
printed rules after averaging: thresholded there, its strokes break where they cross the rules
and the reader boxes a fragment (the bottom half of a 2, a 7's bar). The input holds four times
the resolution: the region around what was found is analysed again at (up to) the input's
resolution, where pen and rules are told apart and the broken strokes are whole.
"""

from __future__ import annotations

from collections.abc import Sequence

from digitrec.preprocess.ink import Component, bounds

# a digit whose longest side (a number's tallest digit) is at most this share of the working
# image's longest side...
CLOSER_EXTENT = 0.15
# ... in an input analysed at this scale or less (a finer look gains at least twice the pixels)
CLOSER_SCALE = 0.5
# the region reaches this many times the digit's longest side beyond its box (what was found
# may be a fragment of the digit)...
_REACH = 1.5
# ... and at least this share of the working image's longest side: enough of a ruled or squared
# page around the digit for its rules to be recognised as rules (five or more)
_MIN_REACH = 0.13


def closer_region(
    parts: Sequence[Component],
    work_shape: tuple[int, int],
    scale: float,
    size: int | None = None,
) -> tuple[int, int, int, int] | None:
    """The region ``(x1, y1, x2, y2)`` of the input (in its pixels) to look at again around
    ``parts`` (pieces of ink found in the working image of ``work_shape``, the input scaled
    by ``scale``), or None when a closer look gains nothing: the input was analysed at (nearly)
    its own resolution, or the digits are big enough in the working image. ``size``: a digit's
    size in the working image (a number's tallest digit); by default the parts' longest side
    (one digit)."""
    if scale > CLOSER_SCALE or not parts:
        return None
    x1, y1, x2, y2 = bounds(parts)
    longest = max(work_shape)
    if size is None:
        size = max(x2 - x1, y2 - y1)
    if size > CLOSER_EXTENT * longest:
        return None
    reach = max(_REACH * size, _MIN_REACH * longest)
    h, w = work_shape
    left, top = max(0.0, x1 - reach), max(0.0, y1 - reach)
    right, bottom = min(float(w), x2 + reach), min(float(h), y2 + reach)
    return int(left / scale), int(top / scale), int(right / scale), int(bottom / scale)
