"""Build the named ``_target_`` nodes of the callbacks and logger groups."""

from __future__ import annotations

from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig


def instantiate_named(group: DictConfig | None, kind: str) -> list[Any]:
    """Instantiate every ``{name: {_target_: ...}}`` entry of ``group`` (None or empty -> [])."""
    if not group:
        return []
    if not isinstance(group, DictConfig):
        raise TypeError(
            f"the {kind} config must map names to _target_ nodes, got {type(group).__name__}"
        )
    objects = []
    for name, node in group.items():
        if (
            node is None
        ):  # switched off from the command line, e.g. callbacks.rich_progress_bar=null
            continue
        if not isinstance(node, DictConfig) or "_target_" not in node:
            raise ValueError(f"{kind}.{name} has no '_target_' key")
        objects.append(instantiate(node))
    return objects
