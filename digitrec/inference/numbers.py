"""Reading a run of ink that may hold several touching digits: the cuts the net agrees with.

A run wide enough for two digits, or a narrower one the net is unsure of (a 1 pressed against
its neighbour), is cut at some of its candidate columns
(:attr:`~digitrec.preprocess.InkRun.cuts`); the pieces kept are those the net reads with the
highest joint confidence, the run whole being one of the choices. Two things keep clear single
digits whole: a net trained with ``data.touching_pairs`` is unsure of fragments and of touching
pairs read as one crop, and a piece wider than a digit is written pays for its width. Measured
on rendered numbers (``scripts/bench_generalise.py``): spaced numbers are read as they were read
whole, and most touching ones are cut right.

The best pieces are found by a shortest-path search over the cuts (Dijkstra's: each piece costs
its negative log-confidence plus its width cost, never below zero), which renders and classifies
only the pieces starting at cuts the search reaches: with a confident reading in hand, pieces
the net would read with little confidence are never made. The runs of a number are searched
side by side, each round's pieces classified in one batch.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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
#: a run narrower than this (relative to its height) is usually one digit: it is cut only when the
#: net reads it whole with less confidence than _NARROW_SURE (a 1 touching a neighbour, "11")
_NARROW = 0.75
_NARROW_SURE = 0.6

Read = tuple[DigitCrop, np.ndarray]  # a digit's crop and its class probabilities


def choose_pieces(
    runs: Sequence[InkRun], probabilities: Callable[[np.ndarray], np.ndarray]
) -> list[list[Read]]:
    """The digits of each run, left to right, with their class probabilities: the run whole,
    or the pieces between the cuts the net reads best. ``probabilities`` classifies
    ``uint8 (N, 28, 28)`` digits."""
    if not runs:
        return []
    # a run too wide to be read whole is searched whatever the net makes of it: its first
    # pieces go through the net with the runs whole (one call fewer)
    wide = {
        k: _Search(run)
        for k, run in enumerate(runs)
        if run.width > _SURE_WIDEST * run.height and run.cuts
    }
    first = [(k, span, piece) for k, search in wide.items() for span, piece in search.expand()]
    read = probabilities(np.stack([r.whole.image for r in runs] + [p.image for _, _, p in first]))
    whole = read[: len(runs)]
    choices: list[list[Read]] = [[(r.whole, p)] for r, p in zip(runs, whole, strict=True)]
    searches = {
        k: wide.get(k) or _Search(run)
        for k, (run, p) in enumerate(zip(runs, whole, strict=True))
        if not (p.max() >= _SURE and run.width <= _SURE_WIDEST * run.height)
        and not (p.max() >= _NARROW_SURE and run.width < _NARROW * run.height)
        and run.cuts  # (found only for the runs that may be cut)
    }
    for k, search in searches.items():
        search.relax((0, len(search.run.cuts) - 1), choices[k][0])
    for (k, span, piece), p in zip(first, read[len(runs) :], strict=True):
        searches[k].relax(span, (piece, p))
    while active := [s for s in searches.values() if not s.done]:
        # every search's next cut: the pieces starting there, classified in one batch
        wanted = [(s, span, piece) for s in active for span, piece in s.expand()]
        if wanted:
            read = probabilities(np.stack([piece.image for _, _, piece in wanted]))
            for (search, span, piece), p in zip(wanted, read, strict=True):
                search.relax(span, (piece, p))
    for k, search in searches.items():
        choices[k] = search.path()
    return choices


@dataclass
class _Search:
    """The cheapest pieces from a run's first cut to its last (Dijkstra's search; the run
    whole is one piece, which its caller relaxes)."""

    run: InkRun
    cost: dict[int, float] = field(default_factory=lambda: {0: 0.0})
    via: dict[int, tuple[int, Read]] = field(default_factory=dict)
    queue: list[tuple[float, int]] = field(default_factory=lambda: [(0.0, 0)])
    done: bool = False

    def expand(self) -> list[tuple[tuple[int, int], DigitCrop]]:
        """Settle the cheapest cut not yet settled and return the pieces starting there to be
        classified (the run whole excepted); none once the last cut is settled."""
        last = len(self.run.cuts) - 1
        while self.queue:
            cost, i = heapq.heappop(self.queue)
            if cost > self.cost[i]:
                continue  # reached more cheaply since (a cut is pushed only when cheaper)
            if i == last:
                break
            pieces = []
            for j in range(i + 1, last + 1):
                width = self.run.cuts[j] - self.run.cuts[i]
                if width > _MAX_PIECE_WIDTH * self.run.height:
                    break
                plausible = width >= MIN_PIECE_WIDTH * self.run.height and (i, j) != (0, last)
                if plausible and (piece := self.run.piece(i, j)) is not None:
                    pieces.append(((i, j), piece))
            if pieces:
                return pieces
        self.done = True
        return []

    def relax(self, span: tuple[int, int], read: Read) -> None:
        """Reach cut ``span[1]`` through the piece ``read`` if that is cheaper."""
        i, j = span
        width = self.run.cuts[j] - self.run.cuts[i]
        # a piece read with certainty costs nothing (log(1 + 1e-12) would be a hair below 0)
        cost = self.cost[i] + max(0.0, -_fit(read[1], width, self.run.height))
        if cost < self.cost.get(j, math.inf):
            self.cost[j] = cost
            self.via[j] = (i, read)
            heapq.heappush(self.queue, (cost, j))

    def path(self) -> list[Read]:
        """The pieces of the cheapest way from the first cut to the last, left to right."""
        reads, j = [], len(self.run.cuts) - 1
        while j:
            j, read = self.via[j]
            reads.append(read)
        return reads[::-1]


def _fit(probabilities: np.ndarray, width: float, height: float) -> float:
    """How well a piece reads as one digit: its log-confidence less its width cost."""
    return math.log(float(probabilities.max()) + 1e-12) - _width_cost(width, height)


def _width_cost(width: int, height: int) -> float:
    """Log-probability lost by a piece too wide to be one digit."""
    excess = max(0.0, width / max(height, 1) - _DIGIT_ASPECT)
    return (excess / _ASPECT_SPREAD) ** 2
