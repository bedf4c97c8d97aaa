"""The guide's steps 2 and 3 as folder tools (``scripts/preprocess.py``, ``scripts/split.py``).

Training never needs them (the DataModule preprocesses, caches and splits in memory); they let
you look at what the model will see and hand the split to other tools.
"""

from __future__ import annotations

import filecmp
import logging
import os
import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import track

from digitrec.data.cache import preprocess_file
from digitrec.data.folder import scan_digit_folder
from digitrec.data.images import ImageReadError, read_image, write_image_atomic
from digitrec.data.split import Side, assign_sides
from digitrec.preprocess import build_preprocessor
from digitrec.utils.atomic import atomic_path
from digitrec.utils.parallel import threaded_map

log = logging.getLogger(__name__)


@dataclass
class ToolReport:
    """What a folder tool did: files written per digit (or per side) and files skipped."""

    written: Counter = field(default_factory=Counter)
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)


def _preprocessed_names(relpaths: list[str], image_format: str | None) -> list[str]:
    """Where each image goes: its own name with ``image_format``'s extension, and where two
    images of a folder would get one name (``a.png`` and ``a.jpg``), the original extension in
    the name as well (``a_jpg.png``, ``a_png.png``)."""
    if not image_format:
        return list(relpaths)
    suffix = "." + image_format.lstrip(".")
    plain = [str(Path(r).with_suffix(suffix)) for r in relpaths]
    taken = Counter(plain)
    return [
        name
        if taken[name] == 1
        else str(Path(r).with_name(f"{Path(r).stem}_{Path(r).suffix[1:]}{suffix}"))
        for r, name in zip(relpaths, plain, strict=True)
    ]


def preprocess_tree(
    src: str | Path,
    dst: str | Path,
    preprocess: Mapping[str, Any],
    image_format: str | None = "png",
) -> ToolReport:
    """Preprocess every image of the per-digit folder ``src`` into ``dst/<digit>/<name>``.

    Names are kept (with ``image_format``'s extension, or the original one when None; the
    original extension joins the name where two images would otherwise share one). A file
    already at a target is never replaced: one with the same pixels is left as it is (counted
    as unchanged), a different one is an error naming it. Unreadable images and images without
    a digit are skipped, reported and logged.
    """
    index = scan_digit_folder(src)
    dst = Path(dst)
    preprocessor = build_preprocessor(preprocess)
    report = ToolReport()
    paths = [index.root / relpath for relpath in index.relpaths]
    names = _preprocessed_names(index.relpaths, image_format)
    results = threaded_map(
        lambda p: preprocess_file(p, preprocessor),
        paths,
        f"preprocessing {len(paths)} images",
        transient=False,
    )
    for name, label, result in zip(names, index.labels, results, strict=True):
        if isinstance(result, str):
            report.skipped.append(result)
            log.warning("skipped: %s", result)
            continue
        target = dst / name
        if target.exists():
            if _same_pixels(target, result):
                report.unchanged += 1
                continue
            raise FileExistsError(
                f"{str(target)!r} exists and holds another image; not overwriting it "
                "(choose another dst)"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        write_image_atomic(target, result)
        report.written[label] += 1
    return report


def _same_pixels(path: Path, image: Any) -> bool:
    """Does the image file at ``path`` hold exactly ``image``'s pixels?"""
    try:
        existing = read_image(path)
    except ImageReadError:
        return False
    return existing.shape == image.shape and bool((existing == image).all())


def split_tree(
    src: str | Path,
    dst: str | Path,
    val_fraction: float = 0.0,
    test_fraction: float = 0.2,
    seed: int = 0,
    mode: str = "copy",
) -> ToolReport:
    """Copy (or hard-link) ``src/<digit>/<file>`` into ``dst/{train,val,test}/<digit>/<file>``
    with the DataModule's deterministic, session-aware split. An existing different file at a
    target is an error (nothing is overwritten); an identical one is left as it is."""
    if mode not in ("copy", "hardlink"):
        raise ValueError(f"mode={mode!r}: use copy or hardlink")
    index = scan_digit_folder(src)
    sides = assign_sides(index.relpaths, index.labels, val_fraction, test_fraction, seed)
    dst = Path(dst)
    report = ToolReport()
    for relpath, side in track(
        list(zip(index.relpaths, sides, strict=True)), description="splitting"
    ):
        source = index.root / relpath
        target = dst / Side(side).name.lower() / relpath
        if target.exists():
            if filecmp.cmp(source, target, shallow=False):
                report.unchanged += 1
                continue
            raise FileExistsError(
                f"{str(target)!r} exists and differs from {str(source)!r}; not overwriting it"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            if mode == "hardlink":
                os.link(source, tmp)
            else:
                shutil.copy2(source, tmp)
        report.written[Side(side).name.lower()] += 1
    return report
