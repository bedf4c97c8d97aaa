"""Config values that give a count or a range of counts."""

from __future__ import annotations

from collections.abc import Sequence


def count_range(value: int | Sequence[int], key: str, least: int = 1) -> tuple[int, int]:
    """A count given as an int or ``[min, max]``, as ``(min, max)``; a one-line ValueError
    naming the config ``key`` when it is neither, or below ``least``."""
    span = [value, value] if isinstance(value, int) else list(value)
    if len(span) != 2 or not least <= span[0] <= span[1]:
        raise ValueError(
            f"{key} must be >= {least} or [min, max] with {least} <= min <= max, got {value!r}"
        )
    return int(span[0]), int(span[1])
