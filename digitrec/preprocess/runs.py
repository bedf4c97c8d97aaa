"""Runs of ink in a written number, and the places where one may be cut into touching digits.

A run is what the segmenter groups as one digit: connected ink, or strokes whose columns overlap
(neighbours written into each other's space). Cutting it is left to a reader that asks the net
(``digitrec.inference.numbers``); this module only proposes the cuts and renders the pieces.

A cut is not a straight knife: a stroke that lies almost wholly on one side of it (a
neighbour's overhanging flag, a 7's bar reaching over the next digit) goes to that side whole,
and only ink whose stroke really crosses the cut (digits whose strokes touch) is parted at the
column. So overlapping digits that never touch come apart cleanly, and a piece does not carry
slivers of its neighbours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise

import cv2
import numpy as np

#: bump whenever the cuts or the pieces change (training crops cut from runs are cached by it)
VERSION = 4
# a run of ink narrower than this fraction of its height holds one digit: it is never cut (two
# touching 1s, or a 1 overlapping its neighbour, may be as narrow as half their height)
MIN_RUN_ASPECT = 0.4
# no digit cut from a run is narrower than this fraction of the run's height
MIN_PIECE_WIDTH = 0.2
# no two cuts are closer than this fraction of the run's height
CUT_SPACING = 0.1
# places to try per run: at least this many, and more for long runs (per height of width)
_MIN_CUTS = 6
_CUTS_PER_HEIGHT = 5
# a stroke's part beyond a cut with less than this share of its ink, no wider than this
# fraction of the run's height, goes with the rest of the stroke
_OVERHANG = 0.15


@dataclass(frozen=True)
class DigitCrop:
    """One digit found in an image: its box ``(x, y, w, h)`` in the input's pixels and its
    ``size`` x ``size`` ``uint8`` MNIST-style rendering (white ink on black)."""

    box: tuple[int, int, int, int]
    image: np.ndarray

    def moved(self, dx: int, dy: int) -> DigitCrop:
        """The same crop with its box moved by ``dx, dy`` (found in a region of a larger image)."""
        x, y, w, h = self.box
        return DigitCrop(box=(x + dx, y + dy, w, h), image=self.image)


# renders a 0/1 ink mask whose top-left is at (left, top) of the working image at ``scale``
Renderer = Callable[[np.ndarray, int, int, float], DigitCrop]


@dataclass(frozen=True)
class InkRun:
    """A run of ink in a written number: one digit, or several whose strokes touch or overlap.

    ``whole`` is the run read as one digit, ``width`` and ``height`` its size in the working
    image; ``cuts`` are the columns (of the run's own mask, its left and right edges included)
    where it may be cut into digits, empty for a run too narrow to hold two. :meth:`piece`
    renders the ink between two of them.
    """

    whole: DigitCrop
    width: int
    height: int
    _mask: np.ndarray = field(repr=False)
    _left: int = field(repr=False)  # the mask's first column of ink
    _origin: tuple[int, int, float] = field(repr=False)
    _render: Renderer = field(repr=False)

    @classmethod
    def of(cls, mask: np.ndarray, left: int, top: int, scale: float, render: Renderer) -> InkRun:
        """The run of ink in the 0/1 ``mask`` (a region of the working image whose top-left is
        at ``left, top``; ``scale`` maps the working image to the input)."""
        bx, _, bw, bh = cv2.boundingRect(mask)
        return cls(
            whole=render(mask, left, top, scale),
            width=bw,
            height=bh,
            _mask=mask,
            _left=bx,
            _origin=(left, top, scale),
            _render=render,
        )

    @cached_property
    def cuts(self) -> tuple[int, ...]:
        """The candidate cuts, found on first use: most runs are read whole and never cut."""
        if self.width < MIN_RUN_ASPECT * self.height:
            return ()
        bx = self._left
        ink = self._mask[:, bx : bx + self.width]
        return tuple(bx + c for c in _cut_candidates(ink, self.height, self._strokes, bx))

    @cached_property
    def _strokes(self) -> _Strokes:
        return _Strokes.of(self._mask)

    def piece(self, start: int, end: int) -> DigitCrop | None:
        """The digit between ``cuts[start]`` and ``cuts[end]`` (None: no ink there)."""
        if not self.cuts:
            raise IndexError("a run too narrow to cut has no pieces")
        left, top, scale = self._origin
        ink = self._strokes.between(self.cuts[start], self.cuts[end], self.height)
        x, y, w, h = cv2.boundingRect(ink)
        if w == 0:
            return None
        # rendered from its own box (and a ring of ground, so that a stroke at the box's edge
        # erodes as it would in the run's mask): the run's whole mask is several digits wide
        x1, y1 = max(0, x - 1), max(0, y - 1)
        return self._render(ink[y1 : y + h + 1, x1 : x + w + 1], left + x1, top + y1, scale)


@dataclass(frozen=True)
class _Strokes:
    """The connected strokes of a run and how their ink spreads over its columns."""

    labels: np.ndarray  # int32 label per pixel, 0 = ground
    boxes: np.ndarray  # (n, 2): each stroke's first and past-last column
    heights: np.ndarray  # (n,): each stroke's height in rows
    column_ink: np.ndarray  # (n, width + 1): each stroke's ink left of each column

    @classmethod
    def of(cls, mask: np.ndarray) -> _Strokes:
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        width = mask.shape[1]
        ys, xs = np.nonzero(labels)
        per_column = np.bincount(labels[ys, xs] * width + xs, minlength=count * width)
        per_column = per_column.reshape(count, width)
        column_ink = np.concatenate(
            [np.zeros((count, 1), np.int64), np.cumsum(per_column, axis=1)], axis=1
        )
        boxes = np.stack([stats[:, cv2.CC_STAT_LEFT], stats[:, 0] + stats[:, 2]], axis=1)
        return cls(
            labels=labels,
            boxes=boxes[1:],
            heights=stats[1:, cv2.CC_STAT_HEIGHT],
            column_ink=column_ink[1:],
        )

    def between(self, a: int, b: int, height: int) -> np.ndarray:
        """The 0/1 ink of the piece between columns ``a`` and ``b`` of a run ``height`` tall:
        each stroke's ink there, and a stroke's stray part beyond a cut (a small share of its
        ink, a few columns wide) with it; a stroke whose ink there is such a stray part is
        left to the neighbour."""
        out = np.zeros(self.labels.shape, np.uint8)
        total = self.column_ink[:, -1].astype(np.float64)
        before = self.column_ink[:, a] / total
        after = 1.0 - self.column_ink[:, b] / total
        left, right = self.boxes[:, 0], self.boxes[:, 1]
        reach = _OVERHANG * height

        def stray(share: np.ndarray, columns: np.ndarray) -> np.ndarray:
            return (share < _OVERHANG) & (columns <= reach)

        inside = stray(1.0 - before - after, np.minimum(b, right) - np.maximum(a, left))
        with_before = stray(before, a - left)
        with_after = stray(after, right - b)
        for k in np.flatnonzero((1.0 - before - after > 0) & ~inside):
            x1 = left[k] if with_before[k] else a
            x2 = right[k] if with_after[k] else b
            out[:, x1:x2] |= (self.labels[:, x1:x2] == k + 1).astype(np.uint8)
        return out


def _cut_candidates(
    mask: np.ndarray, height: int, strokes: _Strokes, offset: int
) -> tuple[int, ...]:
    """Columns of a run of ink (``mask``, cropped to its columns) where touching digits may be
    cut: the left edge, the columns between strokes that overlap without touching (``strokes``
    of the uncropped mask, whose column ``offset`` is the crop's first), the lowest
    minima of its ink per column, the right edge. A run too narrow for two digits gets none."""
    width = mask.shape[1]
    if width < MIN_RUN_ASPECT * height:
        return ()
    margin = max(1, round(MIN_PIECE_WIDTH * height))
    spacing = max(1, round(CUT_SPACING * height))
    window = max(1, height // 12)
    ink = np.convolve(mask.sum(axis=0, dtype=np.float64), np.ones(window) / window, "same")
    inner = np.arange(margin, width - margin)
    if len(inner) == 0:
        return ()
    ranked = _between_strokes(strokes, offset, height)
    # local minima of the ink profile, weakest first; equal cuts stand in where there are none
    is_minimum = (ink[inner] <= ink[inner - 1]) & (ink[inner] <= ink[inner + 1])
    ranked += sorted(inner[is_minimum].tolist(), key=lambda x: ink[x])
    ranked += [round(width * f) for f in (1 / 2, 1 / 3, 2 / 3)]
    most = max(_MIN_CUTS, round(_CUTS_PER_HEIGHT * width / height))
    chosen: list[int] = []
    for x in ranked:
        if margin <= x <= width - margin and all(abs(x - c) >= spacing for c in chosen):
            chosen.append(x)
        if len(chosen) == most:
            break
    return (0, *sorted(chosen), width)


def _between_strokes(strokes: _Strokes, offset: int, height: int) -> list[int]:
    """Columns (relative to ``offset``) that part neighbouring strokes at least a third of the
    run's height tall: where they overlap (or between them), the column that leaves the least
    of either stroke on the other's side."""
    tall = sorted(
        (int(strokes.boxes[k, 0]), k)
        for k in range(len(strokes.boxes))
        if strokes.heights[k] >= height / 3
    )
    total = strokes.column_ink[:, -1].astype(np.float64)
    cuts = []
    for (_, before), (_, after) in pairwise(tall):
        lo, hi = sorted((int(strokes.boxes[after, 0]), int(strokes.boxes[before, 1])))
        columns = np.arange(lo, hi + 1)
        stray = np.maximum(
            1.0 - strokes.column_ink[before, columns] / total[before],
            strokes.column_ink[after, columns] / total[after],
        )
        cuts.append(int(columns[np.argmin(stray)]) - offset)
    return cuts
