"""Files written whole or not at all: a temporary name beside the target, renamed onto it."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """A temporary path beside ``target`` to write to: renamed onto ``target`` when the block
    ends, removed when it fails. The name is unique to the process and thread, so a leftover of
    a killed run or a concurrent writer never gets in the way."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
