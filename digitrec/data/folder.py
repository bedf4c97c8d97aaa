"""Index a per-digit folder dataset: ``<root>/<digit>/<file>`` for digits 0-9."""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from digitrec.data.captures import TRASH

log = logging.getLogger(__name__)

# Every still-image format OpenCV's imread can decode (depending on its build).
IMAGE_EXTENSIONS = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jp2",
        ".bmp",
        ".dib",
        ".tif",
        ".tiff",
        ".webp",
        ".pgm",
        ".ppm",
        ".pbm",
        ".pnm",
        ".pxm",
        ".pfm",
        ".sr",
        ".ras",
        ".exr",
        ".hdr",
        ".pic",
        ".avif",
    }
)
DIGITS = tuple(str(d) for d in range(10))
LAYOUT_HINT = "expected <root>/<digit>/<image> with digit folders 0-9"


class DatasetLayoutError(FileNotFoundError):
    """The dataset root is missing or holds no images in the per-digit layout."""


@dataclass(frozen=True)
class FolderIndex:
    """The images of a per-digit folder: paths relative to ``root`` (posix) and their labels."""

    root: Path
    relpaths: tuple[str, ...]
    labels: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.relpaths)


def is_image_file(path: Path) -> bool:
    """True for a visible regular file whose extension OpenCV can decode."""
    return path.is_file() and _is_image_name(path.name)


def find_images(spec: str) -> list[Path]:
    """The image files a path names, in name order: a file itself; a folder's visible image
    files, searched recursively; a glob's (``shots/*.jpg``, ``**`` recursive) visible image
    files. Raises :class:`FileNotFoundError` saying why when there are none."""
    path = Path(spec).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if is_image_file(p))
        if not files:
            raise FileNotFoundError(f"no image files in folder {spec!r}")
        return files
    if glob.has_magic(spec):
        files = sorted(
            p for p in map(Path, glob.glob(str(path), recursive=True)) if is_image_file(p)
        )
        if not files:
            raise FileNotFoundError(f"no image files match {spec!r}")
        return files
    raise FileNotFoundError(f"no such file or folder: {spec!r}")


def _is_image_name(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def scan_digit_folder(root: str | Path) -> FolderIndex:
    """List the images under ``root/<digit>/``; the folder name is the label.

    Folders that are not 0-9 are reported in one warning and ignored; an empty digit folder is
    warned about, and so are digits with no images at all. A missing root, or one without any
    image, raises :class:`DatasetLayoutError`.
    """
    root = Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise DatasetLayoutError(
            f"dataset root {str(root)!r} is a file, not a folder ({LAYOUT_HINT})"
        )
    if not root.is_dir():
        raise DatasetLayoutError(f"dataset root {str(root)!r} does not exist ({LAYOUT_HINT})")
    with os.scandir(root) as entries:
        folders = {e.name for e in entries if e.is_dir()}
    # (the trash of undone captures is expected there)
    ignored = sorted(folders.difference(DIGITS, {TRASH}))
    if ignored:
        log.warning(
            "ignoring folders under %s that are not digits 0-9: %s", root, ", ".join(ignored)
        )
    relpaths: list[str] = []
    labels: list[int] = []
    for digit in DIGITS:
        if digit not in folders:
            continue
        with os.scandir(root / digit) as entries:  # scandir: no stat call per file
            names = sorted(e.name for e in entries if _is_image_name(e.name) and e.is_file())
        if not names:
            log.warning("digit folder %s holds no images", root / digit)
        relpaths.extend(f"{digit}/{name}" for name in names)
        labels.extend([int(digit)] * len(names))
    if not relpaths:
        raise DatasetLayoutError(
            f"no images found under dataset root {str(root)!r} ({LAYOUT_HINT})"
        )
    absent = sorted(set(range(10)) - set(labels))
    if absent:
        log.warning(
            "no images of digit(s) %s under %s (a model trained on it never learns them)",
            ", ".join(map(str, absent)),
            root,
        )
    return FolderIndex(root=root, relpaths=tuple(relpaths), labels=tuple(labels))
