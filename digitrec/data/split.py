"""Deterministic, stratified, stable and capture-session-aware train/val/test split.

Each image belongs to a *group*: its capture session when its file name reads
``<session>_<n>.<ext>`` (as ``digitrec-capture`` names frames), otherwise the file itself. A group's
side is decided by a hash of ``(seed, session)`` mapped to [0, 1): below ``test_fraction`` it is
test, below ``test_fraction + val_fraction`` val, else train. So

- the same seed gives the same split on any machine (no RNG state, no directory order);
- an image never changes side when others are added: its side depends on its own name only;
- near-identical frames of one session never straddle train and test;
- every digit is split on its own with the same fractions (stratified in expectation: within a
  few percent for hundreds of groups per digit). Exact quotas would move images whenever the data
  grows, so stability wins; one exception keeps small digits testable: a digit with several groups
  but an empty required side gets its lowest-hash train group moved there;
- a digit with fewer sessions than splits (a first capture session) is split frame by frame,
  with a warning: its frames then straddle the sides, but it can be trained and tested at all.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from enum import IntEnum

import numpy as np

from digitrec.data.names import session_of

log = logging.getLogger(__name__)


class Side(IntEnum):
    """Which split an image belongs to."""

    TRAIN = 0
    VAL = 1
    TEST = 2


def unit_hash(seed: int, key: str) -> float:
    """A uniform number in [0, 1) determined by ``seed`` and ``key`` alone."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign_sides(
    relpaths: Sequence[str],
    labels: Sequence[int],
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> np.ndarray:
    """The :class:`Side` of every image, as an int8 array aligned with ``relpaths``."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            "data.val_fraction and data.test_fraction must be in [0, 1) and sum below 1, "
            f"got {val_fraction} and {test_fraction}"
        )
    # groups per digit: (digit, session) -> image indices; hash per session so one session lands
    # on the same side for every digit it covers
    groups: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, (relpath, label) in enumerate(zip(relpaths, labels, strict=True)):
        groups[int(label)][session_of(relpath)].append(i)
    needed = 1 + (val_fraction > 0) + (test_fraction > 0)

    sides = np.full(len(relpaths), Side.TRAIN, dtype=np.int8)
    by_frame: list[int] = []
    short: dict[Side, list[int]] = {Side.TEST: [], Side.VAL: []}
    for digit, sessions in sorted(groups.items()):
        if len(sessions) < needed and sum(map(len, sessions.values())) >= needed:
            # too few sessions to give every side one: the frames are split one by one
            by_frame.append(digit)
            sessions = {relpaths[i]: [i] for indices in sessions.values() for i in indices}
        side_of = {}
        for session in sessions:
            u = unit_hash(seed, session)
            side_of[session] = (
                Side.TEST
                if u < test_fraction
                else Side.VAL
                if u < test_fraction + val_fraction
                else Side.TRAIN
            )
        if Side.TRAIN not in side_of.values():
            # every group of this digit hashed outside train: a model would never learn it, so
            # the highest-hash group (the one nearest the train range) trains
            side_of[max(side_of, key=lambda s: unit_hash(seed, s))] = Side.TRAIN
        for wanted, fraction in ((Side.TEST, test_fraction), (Side.VAL, val_fraction)):
            if fraction == 0 or wanted in side_of.values():
                continue
            in_train = sorted(
                (s for s, side in side_of.items() if side == Side.TRAIN),
                key=lambda s: unit_hash(seed, s),
            )
            if len(in_train) > 1:
                side_of[in_train[0]] = wanted
            else:
                short[wanted].append(digit)
        for session, indices in sessions.items():
            sides[indices] = side_of[session]
    if by_frame:
        log.warning(
            "digits %s have fewer capture sessions than splits (%d): their frames are split one "
            "by one, so frames of one session are on both sides and the test flatters the model; "
            "capture more sessions for a fair test",
            _listed(by_frame),
            needed,
        )
    for side, digits in short.items():
        if digits:
            log.warning(
                "digits %s have too few images for a %s split: capture more to evaluate them",
                _listed(digits),
                side.name.lower(),
            )
    return sides


def _listed(digits: Sequence[int]) -> str:
    return ", ".join(map(str, digits))
