"""Tensors built once and kept in a file: load them, or build and store them atomically."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

log = logging.getLogger(__name__)


def load_or_build_tensors(
    path: str | Path, build: Callable[[], dict[str, Tensor]]
) -> dict[str, Tensor]:
    """The tensors stored at ``path``, or ``build()``'s, then stored there.

    The file is written aside and renamed into place (an interrupted run leaves no half-written
    cache, and the temporary file is removed on failure); a damaged file is rebuilt with a
    warning naming it.
    """
    path = Path(path)
    if path.is_file():
        try:
            return torch.load(path, weights_only=True)
        except Exception as err:
            log.warning("rebuilding damaged cache %s: %s", path, err)
    tensors = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(tensors, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return tensors
