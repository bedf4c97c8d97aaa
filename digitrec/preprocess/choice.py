"""Which ink is the digit: step 6 of ``preprocess=photo`` (one digit), and the digits of a
written number left to right."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from digitrec.preprocess.ink import Component, bounds

# the score of a piece falls by this much from the centre of the image to its corner
_CENTRE_WEIGHT = 0.6
# ... and by this factor for a piece reaching the image's border
_BORDER_PENALTY = 0.25
# a digit is never more than this many times as wide as tall
_MAX_ASPECT = 4
# ink rises at its rim by at least this share of its strength per pixel; a piece whose rim is
# softer (a shadow's tip the paper estimate left as ink) scores (sharpness / this) ** 2 as much
_SHARP_RIM = 0.2
# ... measured only for pieces fainter than this (a shadow's tip is; most ink is not)
_INK_NEVER_SHADE = 0.5
# a piece joins the digit only with at least this share of its ink strength...
_MIN_INK_OF_MAIN = 0.4
# ... and of its area; it is never more than this many times the digit's extent
_MIN_AREA_OF_MAIN = 0.02
_MAX_EXTENT_OF_MAIN = 2
# a number's pieces are at least this share of its biggest piece's area
_MIN_AREA_OF_BIGGEST = 0.03
# pieces sharing this share of the narrower one's columns are one digit's broken strokes
_COLUMN_OVERLAP = 0.5
# the digits of a number are at least this share of its tallest one's height (not specks, dashes)
_MIN_HEIGHT_OF_TALLEST = 0.35
# neighbouring digits of a number share this share of the shorter one's rows (a slight slope
# allowed) and are at most this many times the taller one's height apart
_SHARED_ROWS = 0.5
_MAX_DIGIT_GAP = 1.5


def pick_digit(
    components: list[Component],
    shape: tuple[int, int],
    merge_distance: float,
    rim_sharpness: Callable[[Component], float] | None = None,
) -> list[Component]:
    """The pieces of the one digit among ``components`` of an image of ``shape``: the piece
    scoring best on size, centrality, ink strength, keeping clear of the border (never one
    cut by two borders at a corner: the table) and, given ``rim_sharpness`` (how steeply a
    piece's ink rises at its rim, per pixel, relative to its strength), sharp edges; with the
    pieces of similar ink within ``merge_distance`` of the digit's size (broken strokes) that do
    not reach in from the border."""
    h, w = shape
    cy, cx = h / 2, w / 2
    half_diagonal = np.hypot(cx, cy)

    def score(c: Component) -> float:
        # big, central, dark ink wins; shadows' rims are faint and page edges hug the border
        distance = np.hypot(c.x + c.w / 2 - cx, c.y + c.h / 2 - cy) / half_diagonal
        border = _BORDER_PENALTY if c.borders_touched(shape) else 1.0
        return c.area * (1.0 - _CENTRE_WEIGHT * distance) * c.ink**2 * border

    def can_be_main(c: Component) -> bool:
        # cut by two borders at a corner: the table; by two opposite borders: the digit
        # of a tight crop may well be (a thick 0 from the top of the crop to its bottom)
        sideways = c.x <= 1 or c.x2 >= w - 1
        upright = c.y <= 1 or c.y2 >= h - 1
        return (
            c.w <= _MAX_ASPECT * c.h
            and c.borders_touched(shape) <= 2
            and not (sideways and upright)
        )

    candidates = [c for c in components if can_be_main(c)] or components
    if rim_sharpness is None:
        main = max(candidates, key=score)
    else:
        main = _sharpest_best(candidates, score, rim_sharpness)
    chosen = [main]
    x1, y1, x2, y2 = main.x, main.y, main.x2, main.y2
    changed = True
    while changed:
        changed = False
        reach = merge_distance * max(x2 - x1, y2 - y1)
        extent = max(main.w, main.h)
        for c in components:
            if c in chosen or not _may_join(c, main, extent, shape):
                continue
            gap_x = max(0, max(c.x, x1) - min(c.x2, x2))
            gap_y = max(0, max(c.y, y1) - min(c.y2, y2))
            if gap_x <= reach and gap_y <= reach:
                chosen.append(c)
                x1, y1, x2, y2 = min(x1, c.x), min(y1, c.y), max(x2, c.x2), max(y2, c.y2)
                changed = True
    return chosen


def _sharpest_best(
    candidates: list[Component],
    score: Callable[[Component], float],
    rim_sharpness: Callable[[Component], float],
) -> Component:
    """The best of ``candidates`` once soft-rimmed ones are marked down. Sharpness can only
    lower a score, so pieces are measured best first until the next cannot win (mostly one)."""
    best, best_score = candidates[0], -np.inf
    scored = sorted(((score(c), c) for c in candidates), key=lambda pair: pair[0], reverse=True)
    for base, c in scored:
        if base <= best_score:
            break
        sharpness = 1.0 if c.ink >= _INK_NEVER_SHADE else rim_sharpness(c) / _SHARP_RIM
        marked = base * min(1.0, sharpness) ** 2
        if marked > best_score:
            best, best_score = c, marked
    return best


def _may_join(c: Component, main: Component, extent: int, shape: tuple[int, int]) -> bool:
    """Can ``c`` be a broken stroke of the digit whose first piece is ``main``? Not much
    fainter nor tiny; a piece bigger than ``main`` (the stem cut off a 9's loop by a ruled line)
    only if it keeps clear of the frame's border (page edges, the table); the rim of the table
    or a shadow reaches in from the border, a stroke of a digit clear of the border does not."""
    touches = c.borders_touched(shape)
    size = max(c.w, c.h)
    too_big = size > _MAX_EXTENT_OF_MAIN * extent or (size > extent and touches > 0)
    too_faint = c.ink < _MIN_INK_OF_MAIN * main.ink
    from_border = touches > 0 and main.borders_touched(shape) == 0
    return not (c.area < _MIN_AREA_OF_MAIN * main.area or too_big or too_faint or from_border)


def group_columns(components: list[Component]) -> list[list[Component]]:
    """Group pieces that share columns and lie within a digit's height of each other (a
    digit's broken strokes), ordered by x. Pieces sharing columns far apart (the bits of
    rules left above and below a number on a page) are not one digit."""
    biggest = max(c.area for c in components)
    pieces = sorted(
        (c for c in components if c.area >= _MIN_AREA_OF_BIGGEST * biggest), key=lambda c: c.x
    )
    groups: list[list[Component]] = []
    for c in pieces:
        joined = next((g for g in reversed(groups) if _one_digit(g, c)), None)
        if joined is None:
            groups.append([c])
        else:
            joined.append(c)
    return sorted(groups, key=lambda g: min(p.x for p in g))


def _one_digit(group: list[Component], c: Component) -> bool:
    """Can ``c`` be a broken stroke of the digit whose pieces are ``group``? It shares at least
    ``_COLUMN_OVERLAP`` of the narrower one's columns and is no further from it, up or down,
    than the taller one is high."""
    gx1, gy1, gx2, gy2 = bounds(group)
    overlap = min(gx2, c.x2) - max(gx1, c.x)
    gap = max(c.y, gy1) - min(c.y2, gy2)
    return overlap >= _COLUMN_OVERLAP * min(c.w, gx2 - gx1) and gap <= max(c.h, gy2 - gy1)


def number_digits(components: list[Component]) -> list[list[Component]]:
    """The pieces of each digit of a written number, left to right: the longest line of column
    groups (:func:`longest_line`), those tall enough to be digits (not the number's specks or
    dashes); empty when there are none."""
    return line_digits(group_columns(components)) if components else []


def line_digits(groups: list[list[Component]]) -> list[list[Component]]:
    """:func:`number_digits` of pieces already grouped by :func:`group_columns`."""
    return tall_enough(longest_line(groups)) if groups else []


def tall_enough(groups: list[list[Component]]) -> list[list[Component]]:
    """The groups at least ``_MIN_HEIGHT_OF_TALLEST`` of the tallest one's height: digits, on
    the number's line or not (not specks, dashes)."""
    if not groups:
        return []
    tallest = max(digit_height(g) for g in groups)
    return [g for g in groups if digit_height(g) >= _MIN_HEIGHT_OF_TALLEST * tallest]


def longest_line(groups: list[list[Component]]) -> list[list[Component]]:
    """The groups (ordered by x) written as one line: each beside the next, sharing half the
    rows of the shorter and at least ``_MIN_HEIGHT_OF_TALLEST`` of the taller's height, at most
    ``_MAX_DIGIT_GAP`` of the taller's height apart. Of several such lines, the one of the most
    groups (then the most ink): what lies off the line (the bits of a page's rules and grid at
    its edges, other writing) is no digit of the number."""
    boxes = [bounds(g) for g in groups]
    line_of = list(range(len(groups)))  # union-find over groups on one line

    def root(k: int) -> int:
        while line_of[k] != k:
            line_of[k] = line_of[line_of[k]]
            k = line_of[k]
        return k

    for a, b in itertools.combinations(range(len(groups)), 2):
        if _on_one_line(boxes[a], boxes[b]):
            line_of[root(a)] = root(b)
    lines: dict[int, list[int]] = {}
    for k in range(len(groups)):
        lines.setdefault(root(k), []).append(k)
    best = max(
        lines.values(),
        key=lambda ks: (len(ks), sum(c.area for k in ks for c in groups[k])),
    )
    return [groups[k] for k in sorted(best)]


def _on_one_line(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Are the boxes ``(x1, y1, x2, y2)`` of two digits neighbours on one written line?"""
    ha, hb = a[3] - a[1], b[3] - b[1]
    shorter, taller = min(ha, hb), max(ha, hb)
    rows = min(a[3], b[3]) - max(a[1], b[1])
    gap = max(a[0], b[0]) - min(a[2], b[2])
    return (
        rows >= _SHARED_ROWS * shorter
        and shorter >= _MIN_HEIGHT_OF_TALLEST * taller
        and gap <= _MAX_DIGIT_GAP * taller
    )


def digit_height(group: list[Component]) -> int:
    """The height of a digit whose pieces are ``group``."""
    _, y1, _, y2 = bounds(group)
    return y2 - y1
