"""Tensors built once and kept in a file: load them, or build and store them atomically."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from digitrec.utils.atomic import atomic_path

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
    with atomic_path(path) as tmp:
        torch.save(tensors, tmp)
    return tensors


def images_match_labels(stored: dict[str, Any]) -> str | None:
    """A ``check`` for caches of ``images`` and ``labels``: both there, one label per image."""
    if "images" not in stored or "labels" not in stored:
        return "it lacks images or labels"
    if len(stored["images"]) != len(stored["labels"]):
        return f"it holds {len(stored['images'])} images and {len(stored['labels'])} labels"
    return None


def load_or_build_digits(
    cache_dir: str | Path,
    name: str,
    settings: Mapping[str, Any],
    build: Callable[[], tuple[torch.Tensor, torch.Tensor]],
    sources: Sequence[torch.Tensor] = (),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Digit images and labels that ``build()`` makes, kept in ``cache_dir/<name>-<key>.pt``;
    the key is a digest of the ``sources`` tensors they are made from and of ``settings``
    (JSON), so a change to either builds anew."""
    digest = hashlib.sha256()
    for tensor in sources:
        digest.update(tensor.numpy().tobytes())
    digest.update(json.dumps(settings, sort_keys=True).encode())
    path = Path(cache_dir) / f"{name}-{digest.hexdigest()[:20]}.pt"

    def build_dict() -> dict[str, torch.Tensor]:
        images, labels = build()
        return {"images": images, "labels": labels}

    stored = load_or_build_tensors(path, build_dict, images_match_labels)
    return stored["images"], stored["labels"]
