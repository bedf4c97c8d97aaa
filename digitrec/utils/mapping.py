"""Nested mappings made flat."""

from __future__ import annotations

from typing import Any


def flatten(config: Any, separator: str = ".", prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists and other values kept as they are)."""
    if isinstance(config, dict):
        out: dict[str, Any] = {}
        for key, value in config.items():
            out.update(flatten(value, separator, f"{prefix}{key}{separator}"))
        return out
    return {prefix[: -len(separator)]: config}
