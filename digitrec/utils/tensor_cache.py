"""Tensors built once and kept in a file: load them, or build and store them atomically."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)


def load_or_build_tensors(
    path: str | Path,
    build: Callable[[], dict[str, Any]],
    check: Callable[[dict[str, Any]], str | None] | None = None,
) -> dict[str, Any]:
    """The tensors stored at ``path``, or ``build()``'s, then stored there.

    The file is written aside and renamed into place (an interrupted run leaves no half-written
    cache, and the temporary file is removed on failure). A file that cannot be read, or that
    ``check`` finds wrong (it returns why), is rebuilt with a warning naming it and the reason.
    """
    path = Path(path)
    if path.is_file():
        try:
            stored = torch.load(path, weights_only=True)
            problem = check(stored) if check is not None else None
        except Exception as err:
            problem = f"unreadable ({type(err).__name__}: {err})"
        if problem is None:
            return stored
        log.warning("rebuilding the cache %s: %s", path, problem)
    tensors = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(tensors, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return tensors


def images_match_labels(stored: dict[str, Any]) -> str | None:
    """A ``check`` for caches of ``images`` and ``labels``: both there, one label per image."""
    if "images" not in stored or "labels" not in stored:
        return "it lacks images or labels"
    if len(stored["images"]) != len(stored["labels"]):
        return f"it holds {len(stored['images'])} images and {len(stored['labels'])} labels"
    return None
