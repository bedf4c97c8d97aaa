"""Reading a run of ink that may hold several touching digits: the cuts the net agrees with.

A run wide enough for two digits is cut at some of its candidate columns
(:attr:`~digitrec.preprocess.InkRun.cuts`); every piece between two cuts is classified, and the
pieces kept are those the net reads with the highest joint confidence (a dynamic programme over
the cut positions), the run whole being one of the choices. Two things keep clear single digits
whole: a net trained with ``data.touching_pairs`` is unsure of fragments and of touching pairs
read as one crop, and a piece wider than a digit is written pays for its width. Measured on
rendered numbers (``scripts/bench_generalise.py``): spaced numbers are read as they were read
whole, and most touching ones are cut right.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from digitrec.preprocess import DigitCrop, InkRun
from digitrec.preprocess.runs import MIN_PIECE_WIDTH

#: the widest piece tried, relative to the run's height
_MAX_PIECE_WIDTH = 1.3
#: a digit is rarely wider than this fraction of its height; a wider piece costs
#: ((width / height - _DIGIT_ASPECT) / _ASPECT_SPREAD) ** 2 in log-probability
_DIGIT_ASPECT = 1.4
_ASPECT_SPREAD = 0.5

#: a run read whole this surely, and no wider than this (relative to its height), is not cut:
#: measured on rendered numbers, no cut of such a run was ever kept, and skipping them saves
#: 40% of the pieces (time)
_SURE = 0.99
_SURE_WIDEST = 1.3

Read = tuple[DigitCrop, np.ndarray]  # a digit's crop and its class probabilities


def choose_pieces(
    runs: Sequence[InkRun], probabilities: Callable[[np.ndarray], np.ndarray]
) -> list[list[Read]]:
    """The digits of each run, left to right, with their class probabilities: the run whole,
    or the pieces between the cuts the net reads best. ``probabilities`` classifies
    ``uint8 (N, 28, 28)`` digits."""
    if not runs:
        return []
    whole = probabilities(np.stack([r.whole.image for r in runs]))
    choices: list[list[Read]] = [[(r.whole, p)] for r, p in zip(runs, whole, strict=True)]
    # every piece of every run that may be cut, classified in one batch
    spans: list[tuple[int, int, int]] = []  # run, first cut, last cut
    pieces: list[DigitCrop] = []
    for k, run in enumerate(runs):
        if not run.cuts or (
            whole[k].max() >= _SURE and run.cuts[-1] - run.cuts[0] <= _SURE_WIDEST * run.height
        ):
            continue
        last = len(run.cuts) - 1
        for i in range(last):
            for j in range(i + 1, last + 1):
                width = run.cuts[j] - run.cuts[i]
                plausible = MIN_PIECE_WIDTH * run.height <= width <= _MAX_PIECE_WIDTH * run.height
                if (i, j) != (0, last) and plausible and (piece := run.piece(i, j)):
                    spans.append((k, i, j))
                    pieces.append(piece)
    if not pieces:
        return choices
    piece_probabilities = probabilities(np.stack([p.image for p in pieces]))
    tables: dict[int, dict[tuple[int, int], Read]] = {}
    for (k, i, j), piece, p in zip(spans, pieces, piece_probabilities, strict=True):
        tables.setdefault(k, {})[(i, j)] = (piece, p)
    for k, table in tables.items():
        run = runs[k]
        table[(0, len(run.cuts) - 1)] = choices[k][0]
        choices[k] = _best_path(table, run)
    return choices


def _fit(probabilities: np.ndarray, width: float, height: float) -> float:
    """How well a piece reads as one digit: its log-confidence less its width cost."""
    return math.log(float(probabilities.max()) + 1e-12) - _width_cost(width, height)


def _width_cost(width: int, height: int) -> float:
    """Log-probability lost by a piece too wide to be one digit."""
    excess = max(0.0, width / max(height, 1) - _DIGIT_ASPECT)
    return (excess / _ASPECT_SPREAD) ** 2


def _best_path(table: dict[tuple[int, int], Read], run: InkRun) -> list[Read]:
    """The pieces from the run's first cut to its last whose joint log-confidence, less each
    piece's width cost, is highest."""
    last = len(run.cuts) - 1
    best: list[tuple[float, list[Read]] | None] = [None] * (last + 1)
    best[0] = (0.0, [])
    for j in range(1, last + 1):
        for i in range(j):
            if best[i] is None or (i, j) not in table:
                continue
            read = table[(i, j)]
            total = best[i][0] + _fit(read[1], run.cuts[j] - run.cuts[i], run.height)
            if best[j] is None or total > best[j][0]:
                best[j] = (total, [*best[i][1], read])
    return best[last][1]
