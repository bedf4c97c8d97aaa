"""Reading a run of ink that may hold several touching digits: the cuts the net agrees with.

A run wide enough for two digits is cut at some of its candidate columns
(:attr:`~digitrec.preprocess.InkRun.cuts`); every piece between two cuts is classified, and the
pieces kept are those the net reads with the highest joint confidence (a dynamic programme over
the cut positions). Two rules keep clear single digits whole: a piece cut out of a run must be
read with at least ``MIN_PIECE_CONFIDENCE`` (a net reads a fragment of a stroke all too
readily as a 1 or a 7), and a piece wider than a digit is written pays for its width (a net
also reads a squashed pair of digits as one digit too confidently). A run more than 1.6 times
as wide as tall is never one digit: it is cut however unsure the net is. Measured on rendered
numbers (``scripts/bench_generalise.py``): the thresholds leave spaced numbers as they were read
whole and recover most touching pairs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from digitrec.preprocess import DigitCrop, InkRun

#: a digit cut out of a run must be read at least this confidently
MIN_PIECE_CONFIDENCE = 0.97
#: a run wider than this (relative to its height) is never one digit
_ONE_DIGIT_WIDEST = 1.6
#: the widest piece, relative to the run's height
_MAX_PIECE_WIDTH = 1.3
#: a digit is rarely wider than this fraction of its height; a wider piece costs
#: ((width / height - _DIGIT_ASPECT) / _ASPECT_SPREAD) ** 2 in log-probability
_DIGIT_ASPECT = 1.25
_ASPECT_SPREAD = 0.3

Read = tuple[DigitCrop, np.ndarray]  # a digit's crop and its class probabilities


def choose_pieces(
    runs: Sequence[InkRun],
    probabilities: Callable[[np.ndarray], np.ndarray],
    min_piece_confidence: float = MIN_PIECE_CONFIDENCE,
) -> list[list[Read]]:
    """The digits of each run, left to right, with their class probabilities: the run whole,
    or the pieces between the cuts the net reads best. ``probabilities`` classifies
    ``uint8 (N, 28, 28)`` digits."""
    if not runs:
        return []
    whole = probabilities(np.stack([r.whole.image for r in runs]))
    choices: list[list[Read]] = [[(r.whole, p)] for r, p in zip(runs, whole, strict=True)]
    # every piece of every run that may be cut, classified in one batch
    spans: list[tuple[int, int, int, int]] = []  # run, first cut, last cut, index in pieces
    pieces: list[DigitCrop] = []
    for k, run in enumerate(runs):
        if len(run.cuts) < 3:
            continue
        last = len(run.cuts) - 1
        for i in range(last):
            for j in range(i + 1, last + 1):
                narrow_enough = run.cuts[j] - run.cuts[i] <= _MAX_PIECE_WIDTH * run.height
                if (i, j) != (0, last) and narrow_enough and (piece := run.piece(i, j)):
                    spans.append((k, i, j, len(pieces)))
                    pieces.append(piece)
    if not pieces:
        return choices
    piece_probabilities = probabilities(np.stack([p.image for p in pieces]))
    by_run: dict[int, dict[tuple[int, int], Read]] = {
        k: {} for k, run in enumerate(runs) if len(run.cuts) >= 3
    }
    # a run too wide to be one digit is cut however unsure the net is of the pieces
    needed = {
        k: min_piece_confidence
        if runs[k].cuts[-1] - runs[k].cuts[0] <= _ONE_DIGIT_WIDEST * runs[k].height
        else 0.0
        for k in by_run
    }
    for k, i, j, index in spans:
        if piece_probabilities[index].max() >= needed[k]:
            by_run[k][(i, j)] = (pieces[index], piece_probabilities[index])
    for k, table in by_run.items():
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
