"""Threaded work over many items keeps their order and passes errors on."""

from __future__ import annotations

import threading
import time

import pytest

from digitrec.utils.parallel import threaded_map


def test_results_come_in_the_items_order_from_several_threads():
    seen = set()

    def slow_square(x: int) -> int:
        seen.add(threading.get_ident())
        time.sleep(0.01 * (5 - x % 5))  # later items finish first
        return x * x

    assert list(threaded_map(slow_square, range(20), "squares", workers=4)) == [
        x * x for x in range(20)
    ]
    assert len(seen) > 1


def test_an_error_in_one_item_reaches_the_caller():
    def fail_on_three(x: int) -> int:
        if x == 3:
            raise ValueError("bad item 3")
        return x

    with pytest.raises(ValueError, match="bad item 3"):
        list(threaded_map(fail_on_three, range(6), "items", workers=2))
