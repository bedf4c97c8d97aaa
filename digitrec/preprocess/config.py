"""Build a preprocessor from its config (a ``conf/preprocess`` node or a checkpoint's copy)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

Preprocessor = Callable[[np.ndarray], "np.ndarray | None"]


def preprocess_config_dict(config: Mapping[str, Any] | DictConfig) -> dict[str, Any]:
    """The preprocessing config as a plain, resolved dict (what caches and checkpoints store)."""
    if isinstance(config, DictConfig):
        return OmegaConf.to_container(config, resolve=True)  # type: ignore[return-value]
    return dict(config)


def build_preprocessor(config: Mapping[str, Any] | DictConfig) -> Preprocessor:
    """Instantiate the preprocessor described by ``config`` (it must have a ``_target_``)."""
    plain = preprocess_config_dict(config)
    if "_target_" not in plain:
        raise ValueError(f"preprocess config has no '_target_' key: {plain}")
    return instantiate(plain)
