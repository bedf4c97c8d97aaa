"""A camera with no hardware: handwritten digits from the embedded data, photographed."""

from __future__ import annotations

from typing import Any

import numpy as np

from digitrec.camera.base import Camera, CameraError, Frame
from digitrec.camera.render import LEVELS, PhotoRenderer
from digitrec.data.embedded import load_embedded_digits
from digitrec.data.split import Side, assign_sides

_SPLITS = {"train": Side.TRAIN, "val": Side.VAL, "test": Side.TEST}


def embedded_digits_of_split(
    split: str, seed: int = 0, val_fraction: float = 0.1, test_fraction: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """The embedded digits on one side of the split the embedded folder dataset uses
    (``all`` for every digit): writers held out from training stay held out here."""
    images, labels = load_embedded_digits()
    if split == "all":
        return images, labels
    if split not in _SPLITS:
        raise CameraError(f"camera.split must be one of {[*_SPLITS, 'all']}, got {split!r}")
    relpaths = [f"{label}/{i:04d}.png" for i, label in enumerate(labels)]
    sides = assign_sides(relpaths, labels.tolist(), val_fraction, test_fraction, seed)
    keep = sides == _SPLITS[split]
    return images[keep], labels[keep]


class SyntheticCamera(Camera):
    """Renders embedded handwritten digits as a webcam would see them (see ``PhotoRenderer``).

    Each frame knows its true digits (``Frame.labels``). After ``prompt(d)`` it shows digit ``d``
    (the guided capture asks the "writer" for each digit in turn); otherwise random digits.

    Args:
        width, height: frame size.
        level: ``clean``, ``medium`` or ``hard`` (see ``PhotoRenderer``).
        split: which embedded digits to draw: ``train``, ``val``, ``test`` (held-out writers'
            digits, for benchmarks) or ``all``; split as ``data=embedded`` splits them.
        digits_per_frame: digits per frame (a written number), an int or ``[min, max]``.
        max_frames: end the stream after this many frames (None: endless).
        seed: random seed of the renderer (the same seed renders the same frames).
    """

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        level: str = "medium",
        split: str = "test",
        digits_per_frame: int | list[int] = 1,
        max_frames: int | None = None,
        seed: int = 0,
        split_seed: int = 0,
    ) -> None:
        if level not in LEVELS:
            raise CameraError(f"camera.level must be one of {LEVELS}, got {level!r}")
        self.renderer = PhotoRenderer(width, height, level)
        self.images, self.labels = embedded_digits_of_split(split, split_seed)
        self.by_digit = [np.flatnonzero(self.labels == d) for d in range(10)]
        low, high = (
            (digits_per_frame, digits_per_frame)
            if isinstance(digits_per_frame, int)
            else tuple(digits_per_frame)
        )
        if not 1 <= low <= high:
            raise CameraError(f"camera.digits_per_frame must be >= 1, got {digits_per_frame!r}")
        self.digits_range = (int(low), int(high))
        self.max_frames, self.level, self.split, self.seed = max_frames, level, split, seed
        self.rng = np.random.default_rng(seed)
        self.name = f"synthetic {level} ({split} digits, seed {seed})"
        self._prompted: int | None = None
        self._index = 0

    def prompt(self, digit: int) -> None:
        self._prompted = int(digit)

    def read(self) -> Frame | None:
        if self.max_frames is not None and self._index >= self.max_frames:
            return None
        count = int(self.rng.integers(self.digits_range[0], self.digits_range[1] + 1))
        if self._prompted is not None and count == 1:
            digits = [self._prompted]
        else:
            digits = [int(d) for d in self.rng.integers(0, 10, count)]
        picks = [int(self.rng.choice(self.by_digit[d])) for d in digits]
        rendered = self.renderer.render([self.images[i] for i in picks], digits, self.rng)
        frame = Frame(image=rendered.image, index=self._index, labels=rendered.labels)
        self._index += 1
        return frame

    def settings(self) -> dict[str, Any]:
        return {
            "camera": self.name,
            "width": self.renderer.width,
            "height": self.renderer.height,
            "level": self.level,
            "split": self.split,
            "seed": self.seed,
        }
