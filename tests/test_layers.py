"""Imports point down the layers: entry points -> inference and training -> data, camera,
synthesis -> preprocessing, nets -> utilities; never back up, and never in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "digitrec"

# each top-level module or package of digitrec and its layer (higher imports lower)
LAYERS = {
    "utils": 0,
    "config": 0,
    "preprocess": 1,
    "nets": 1,
    "checkpoint": 2,
    "synthesis": 2,
    "data": 2,
    "camera": 2,
    "report": 3,
    "inference": 3,
    "module": 3,
    "callbacks": 3,
    "loggers": 3,
    "augment": 3,
    "run_record": 3,
    "train": 4,
    "evaluate": 4,
    "predict": 4,
    "capture": 4,
    "export": 4,
    "sweep_summary": 4,
    "serve": 4,
    "__init__": 4,
}
# imports within one layer that are allowed, one way only
SIDEWAYS = {
    ("data", "synthesis"),
    ("camera", "synthesis"),
    ("camera", "data"),
    ("inference", "report"),
    ("module", "data"),
}


def _part(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imports() -> set[tuple[str, str, str]]:
    """(importing part, imported part, file) for every import of digitrec inside digitrec."""
    found = set()
    for file in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "digitrec" and len(parts) > 1:
                    found.add((_part(file), parts[1], str(file.relative_to(PACKAGE))))
    return found


def test_every_part_has_a_layer():
    parts = {_part(f) for f in PACKAGE.rglob("*.py")}
    assert parts <= set(LAYERS), sorted(parts - set(LAYERS))


def test_imports_point_down_the_layers():
    wrong = [
        f"{file}: {part} -> {imported}"
        for part, imported, file in sorted(_imports())
        if part != imported
        and LAYERS[imported] >= LAYERS[part]
        and (part, imported) not in SIDEWAYS
    ]
    assert not wrong, "\n".join(wrong)


def test_sideways_imports_run_one_way():
    assert not {(b, a) for a, b in SIDEWAYS} & SIDEWAYS
