"""Ruled lines: found at any tilt up to 15 degrees by a sparse Radon transform, and removed."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from digitrec.preprocess.basic import quantiles

#: ruled lines are looked for at these tilts (degrees)
LINE_ANGLES = np.arange(-15, 16, 3)
_LINE_SLOPES = np.tan(np.deg2rad(LINE_ANGLES))
#: a ruled line runs across at least this share of the image's width
LINE_SPAN = 0.7
#: the opening that isolates a line's run is this share of the image's width
_RUN_SPAN = 0.5
#: a thin rule thresholded at the analysis size breaks into dashes: gaps up to this share of the
#: image's width are bridged before its runs are looked for
_DASH_GAP = 0.02
#: the analysis cell: any ink in one marks it (averaging would round thin lines away)
_CELL = 4
#: images narrower than this (analysis pixels) hold no ruled line worth finding
MIN_WIDTH = 64
# a ruled line is at most this share of the image's height thick (and never counts as thicker
# than _MIN_THICKNESS px): thicker runs are a digit's strokes filling a tight crop
_MAX_THICKNESS = 0.015
_MIN_THICKNESS = 3
# rows holding a line's pixels along at least this share of the width count to its thickness
# (not those where a stroke crossing the line joins it)
_ROW_SHARE = 0.5
# a ruled page shows at least this many lines
_MIN_LINES = 2
# ... and a page whose threshold is raised above its rules at least this many: rows holding at
# least RULE_SPAN of the width in ink (a thin rule thresholded with the pen breaks into dashes),
# told apart where the ink rises and falls by _RULE_GAP of the width between them (a digit
# filling a tight crop shows three bars at most: a 3's)
RULE_SPAN = 0.4
_MIN_RULES = 5
_RULE_GAP = 0.25
# a page's rules are as strong as this quantile of their pixels' ink strength (the rest: the
# lines' anti-aliased rims, strokes crossing them)
_RULE_QUANTILE = 0.9
# ink is thresholded this much above the rules' strength, where the page's strongest ink
# (its 0.999 quantile) is at least _STANDS_OUT times as strong as the rules
_ABOVE_RULES = 1.1
_STANDS_OUT = 1.25
# ... on a page whose rules hold at least this share of its ink (a small digit on a ruled or
# squared page; a webcam's big digit with a few rules behind it is thresholded as any frame)
_RULES_SHARE = 0.75
# a line between two tried tilts (or bowed) drifts by a row or two across the page: its run is
# looked for in a band three rows high
_LINE_BAND = np.ones((3, 1), np.uint8)


def line_angle(mask: np.ndarray) -> float | None:
    """The tilt (degrees) of ruled lines in the 0/1 ``mask``, or None when there are none: the
    shear (from -15 to 15 degrees) whose rows best hold runs of ink across most of the width."""
    found = lines_at_best_tilt(mask)
    return None if found is None else found.angle


def on_ruled_lines(mask: np.ndarray, found: TiltedLines | None = None) -> np.ndarray | None:
    """The pixels of the 0/1 ``mask`` lying on its ruled lines (0/1; dashes, a grid's columns
    and the strokes that cross a line included), or None when it shows fewer than
    ``_MIN_RULES`` of them: the rows, at the tilt :func:`line_angle` finds, holding at least
    ``RULE_SPAN`` of the width in ink, counted in cells of ``_CELL`` px so that a rule broken
    into dashes still counts, as separate rules where the ink rises and falls by a quarter of
    the width between them (a digit filling a tight crop shows three bars at most). ``found``:
    the mask's :func:`lines_at_best_tilt` with ``RULE_SPAN``, where already known."""
    found = found or lines_at_best_tilt(mask, RULE_SPAN)
    if found is None:
        return None
    row_ink = found.counts[found.tilt]
    least = RULE_SPAN * found.width
    if _separate_peaks(row_ink, least, _RULE_GAP * found.width) < _MIN_RULES:
        return None
    # a line between two tried tilts straddles two neighbouring rows: counts[j] holds rows j-1, j
    rows = np.flatnonzero(row_ink >= least)
    is_line_row = np.zeros(len(row_ink) + 1, bool)
    is_line_row[rows] = is_line_row[rows - 1] = True
    on_line_cells = np.zeros(found.cells.shape, np.uint8)
    tilted = found.offsets[found.tilt] - found.tilt * len(row_ink)
    on_line_cells[found.ys, found.xs] = is_line_row[tilted]
    h, w = mask.shape
    cover = cv2.resize(
        on_line_cells,
        (found.cells.shape[1] * _CELL, found.cells.shape[0] * _CELL),
        interpolation=cv2.INTER_NEAREST,
    )
    on_lines = np.zeros_like(mask)
    ch, cw = min(h, cover.shape[0]), min(w, cover.shape[1])
    on_lines[:ch, :cw] = cover[:ch, :cw] & mask[:ch, :cw]
    return on_lines


def _separate_peaks(profile: np.ndarray, least: float, swing: float) -> int:
    """How many peaks ``profile`` has that reach ``least`` and rise by ``swing`` above the
    lowest value since the last peak (the profile starts from 0), each peak ending where the
    profile falls by ``swing`` from its highest."""
    count, rising, extreme = 0, True, 0.0
    for value in profile.tolist():
        if rising:
            extreme = min(extreme, value)
            if value >= least and value >= extreme + swing:
                count, rising, extreme = count + 1, False, value
        else:
            extreme = max(extreme, value)
            if value <= extreme - swing:
                rising, extreme = True, value
    return count


def level_above_rules(
    mask: np.ndarray, strength: np.ndarray, found: TiltedLines | None = None
) -> int | None:
    """An ink threshold just above the strength of the ruled lines in the 0/1 ``mask`` (0-255,
    as ``strength``), where the page's strongest ink stands clearly above them; else None.

    A page's printed grid or rules can be nearly as dark as a thin pen: thresholded with the
    pen, the lines join everything into a net (a grid's columns are never removed as rules),
    and a small digit is lost in it. Where the rules are most of the ink and the pen is
    stronger, a threshold above the lines keeps the digit and drops most of the lines before
    they are looked for. ``found``: the mask's :func:`lines_at_best_tilt` with ``RULE_SPAN``,
    where already known."""
    on_lines = on_ruled_lines(mask, found)
    if on_lines is None:
        return None
    # a squared page's columns are rules too (seen whole, they are most of its ink)
    on_columns = on_ruled_lines(np.ascontiguousarray(mask.T))
    if on_columns is not None:
        on_lines |= on_columns.T
    on_rules = strength[on_lines > 0]
    if len(on_rules) < _RULES_SHARE * cv2.countNonZero(mask):
        return None
    rules = quantiles(on_rules, (_RULE_QUANTILE,))[0]
    strongest = quantiles(strength[mask > 0], (0.999,))[0]
    if strongest < _STANDS_OUT * rules:
        return None
    return int(_ABOVE_RULES * rules)


@dataclass(frozen=True)
class TiltedLines:
    """The ink of a mask counted along lines of every tried tilt (a sparse Radon transform):
    ``counts[t, j]``, the inked cells of rows ``j-1`` and ``j`` at tilt ``t``; ``offsets``,
    each inked cell's row (plus ``t`` x the rows per tilt) at every tilt; ``tilt``, the best
    (:func:`lines_at_best_tilt`)."""

    cells: np.ndarray
    ys: np.ndarray
    xs: np.ndarray
    offsets: np.ndarray
    counts: np.ndarray
    tilt: int
    width: int

    @property
    def angle(self) -> float:
        """The best tilt in degrees."""
        return float(LINE_ANGLES[self.tilt])

    @property
    def holds_a_line(self) -> bool:
        """Does a row at the best tilt hold ink across ``LINE_SPAN`` of the width (what
        :func:`line_angle` asks)?"""
        return bool(self.counts[self.tilt].max() >= LINE_SPAN * self.width)


def lines_at_best_tilt(mask: np.ndarray, least: float = LINE_SPAN) -> TiltedLines | None:
    """The ink of the 0/1 ``mask`` along lines of the tilt that gathers the most of it into
    one row, or None where no row at any tilt holds ink across ``least`` of the width (or the
    mask is too narrow to hold ruled lines)."""
    if mask.shape[1] < MIN_WIDTH:
        return None
    h, w = mask.shape
    small = cv2.resize(
        mask * 255, (max(1, w // _CELL), max(1, h // _CELL)), interpolation=cv2.INTER_AREA
    )
    small = (small > 0).astype(np.uint8)
    sw = small.shape[1]
    ys, xs = np.nonzero(small)
    if len(xs) < least * sw:  # not even one line's worth of ink
        return None
    # ink counted along lines of every slope at once (a sparse Radon transform)
    offsets = np.round(ys[None, :] - xs[None, :] * _LINE_SLOPES[:, None]).astype(np.int64)
    offsets -= offsets.min()
    span = int(offsets.max()) + 1
    offsets += np.arange(len(_LINE_SLOPES))[:, None] * span
    counts = np.bincount(offsets.ravel(), minlength=len(_LINE_SLOPES) * span)
    counts = counts.reshape(len(_LINE_SLOPES), span)
    # a line between two tried tilts (or bowed a little) straddles two neighbouring rows
    counts[:, 1:] += counts[:, :-1].copy()
    # a line thicker than a cell fills rows at the neighbouring tilts too: the true tilt is the
    # one that gathers the most ink into one row
    peaks = counts.max(axis=1)
    best = int(np.argmax(peaks))
    if peaks[best] < least * sw:
        return None
    return TiltedLines(small, ys, xs, offsets, counts, best, sw)


def shear(image: np.ndarray, slope: float) -> tuple[np.ndarray, float]:
    """Shear rows by ``-slope`` (lines of that slope become horizontal); returns the image and
    the vertical offset used."""
    h, w = image.shape
    offset = max(0.0, slope * w)
    out_h = int(np.ceil(h + abs(slope) * w))
    matrix = np.float32([[1, 0, 0], [-slope, 1, offset]])
    return cv2.warpAffine(image, matrix, (w, out_h), flags=cv2.INTER_NEAREST), offset


def _thin_runs(lines: np.ndarray, most: int) -> tuple[np.ndarray, int]:
    """``lines`` (the line pixels of a sheared mask, row by row) less what is no ruled line:
    runs of rows more than ``most`` rows thick (not counting rows where strokes merely cross
    them), and a lone thin run (a ruled page shows several lines; a tight crop of a digit may
    show one bar as thin as a rule); and the most rows a kept run spans (0: none kept)."""
    counts = lines.sum(axis=1, dtype=np.int64)
    rows = np.flatnonzero(counts)
    if len(rows) == 0:
        return lines, 0
    starts = np.concatenate(([0], np.flatnonzero(np.diff(rows) > 1) + 1))
    ends = np.concatenate((starts[1:], [len(rows)]))
    along = _ROW_SHARE * lines.shape[1]
    thin = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        run = rows[start:end]
        if np.count_nonzero(counts[run] >= along) > most:
            lines[run[0] : run[-1] + 1] = 0
        else:
            thin.append(run)
    if len(thin) < _MIN_LINES:
        return lines, 0
    return lines, max(len(run) for run in thin)


def horizontal_opening(mask: np.ndarray, span: int) -> np.ndarray:
    """OpenCV's opening of the 0/1 ``mask`` with a ``span`` x 1 rectangle: its runs of ink
    along a row at least ``span`` long (or half as long at the image's edges, where the
    erosion sees ink beyond). The opening works row by row, so it runs on the rows holding that
    much ink alone: a written number's rows mostly hold too little (same result, twice as fast
    on such frames)."""
    opened = np.zeros_like(mask)
    rows = np.flatnonzero(mask.sum(axis=1, dtype=np.int64) >= span - span // 2)
    if len(rows):
        run = cv2.getStructuringElement(cv2.MORPH_RECT, (span, 1))
        opened[rows] = cv2.morphologyEx(mask[rows], cv2.MORPH_OPEN, run)
    return opened


def without_ruled_lines(mask: np.ndarray, angle: float | None = None) -> np.ndarray:
    """``mask`` (0/1) without its ruled lines (straight runs across 70% of the width at any
    tilt up to 15 degrees, or at ``angle`` where it is known), the strokes they crossed
    joined again."""
    h, w = mask.shape
    if angle is None:
        angle = line_angle(mask)
        if angle is None:
            return mask
    slope = np.tan(np.deg2rad(angle))
    level, offset = shear(mask, slope)
    band = cv2.dilate(level, _LINE_BAND)
    gap = np.ones((1, max(1, round(_DASH_GAP * w))), np.uint8)
    band = cv2.morphologyEx(band, cv2.MORPH_CLOSE, gap)
    lines = horizontal_opening(band, int(_RUN_SPAN * w)) & level
    lines, thickness = _thin_runs(lines, max(_MIN_THICKNESS, round(_MAX_THICKNESS * h)))
    if thickness == 0:  # no line, or only a digit's bars
        return mask
    cleaned = level & (1 - lines)
    # strokes the lines crossed: bridged across the thickest line (never a quarter of the image)
    bridge = cv2.getStructuringElement(cv2.MORPH_RECT, (1, min(thickness + 2, max(1, h // 4))))
    cleaned = cv2.morphologyEx(cleaned, cv2.MORPH_CLOSE, bridge)
    back = np.float32([[1, 0, 0], [slope, 1, -offset]])
    return cv2.warpAffine(cleaned, back, (w, h), flags=cv2.INTER_NEAREST)
