"""Work over many images in threads, with a progress bar (OpenCV and torch release the GIL)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from rich.progress import track

T = TypeVar("T")
R = TypeVar("R")


def threaded_map(
    function: Callable[[T], R],
    items: Iterable[T],
    description: str,
    transient: bool = True,
    workers: int | None = None,
) -> Iterator[R]:
    """``function`` of every item, in order, computed by up to ``workers`` threads (default:
    the CPUs, at most 8), shown as a rich progress bar with ``description`` (``transient``: the
    bar goes when done)."""
    items = list(items)
    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        yield from track(
            pool.map(function, items),
            total=len(items),
            description=description,
            transient=transient,
        )
