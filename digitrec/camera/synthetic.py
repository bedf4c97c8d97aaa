"""A camera with no hardware: handwritten digits from the embedded data, photographed."""

from __future__ import annotations

from typing import Any

import numpy as np

from digitrec.camera.base import Camera, CameraError, Frame
from digitrec.data.embedded import embedded_split, load_embedded_digits
from digitrec.data.split import Side
from digitrec.synthesis import HandwritingSynthesizer, style_names
from digitrec.synthesis.render import LEVELS, NUMBER_GAPS, PhotoRenderer
from digitrec.utils.counts import count_range

_SPLITS = {"train": Side.TRAIN, "val": Side.VAL, "test": Side.TEST}


def embedded_digits_of_split(split: str, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The embedded digits on one side (``train``, ``val``, ``test``; ``all`` for every digit)
    of the split ``data=embedded`` makes with ``seed`` (default: the configured one), so that
    writers held out from training stay held out here."""
    if split == "all":
        return load_embedded_digits()
    if split not in _SPLITS:
        raise CameraError(f"camera.split must be one of {[*_SPLITS, 'all']}, got {split!r}")
    return embedded_split(_SPLITS[split], seed=seed)


_SOURCES = ("embedded", "handwriting")


def _left_out(style: str, wanted: list[str] | None) -> bool:
    """Is ``style`` left out by the list of ``wanted`` styles (its digit named there, it not)?"""
    if not wanted:
        return False
    digit = style.split("/")[0]
    return style not in wanted and any(w.split("/")[0] == digit for w in wanted)


class SyntheticCamera(Camera):
    """Renders handwritten digits as a webcam would see them (see ``PhotoRenderer``): real
    MNIST digits from the embedded data, or the handwriting synthesiser's drawings.

    Each frame knows its true digits (``Frame.labels``). After ``prompt(d)`` it shows digit ``d``
    (the guided capture asks the "writer" for each digit in turn); otherwise random digits.

    Args:
        width, height: frame size.
        level: ``clean``, ``medium`` or ``hard`` (see ``PhotoRenderer``).
        split: which embedded digits to draw: ``train``, ``val``, ``test`` (held-out writers'
            digits, for benchmarks) or ``all``; split as ``data=embedded`` splits them (its
            configured fractions).
        split_seed: the seed of that split (null: the training config's ``seed``, as
            ``data=embedded`` uses it); a run trained with another ``seed`` holds out others.
        digits_per_frame: digits per frame (a written number), an int or ``[min, max]``.
        source: ``embedded`` (MNIST writers) or ``handwriting`` (the synthesiser's styles,
            drawn afresh from the camera's seed: never the drawings a training run made).
        styles: with ``source=handwriting``, only these styles (``"<digit>/<name>"``; a digit
            none of them names keeps all its styles); null: all.
        gap: the space between the digits of a number as ``[min, max]`` fractions of the
            digit height; negative values make neighbours touch or overlap.
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
        split_seed: int | None = None,
        source: str = "embedded",
        styles: list[str] | None = None,
        gap: tuple[float, float] = NUMBER_GAPS["spaced"],
    ) -> None:
        if level not in LEVELS:
            raise CameraError(f"camera.level must be one of {LEVELS}, got {level!r}")
        if source not in _SOURCES:
            raise CameraError(f"camera.source must be one of {_SOURCES}, got {source!r}")
        if len(gap) != 2 or gap[0] > gap[1]:
            raise CameraError(f"camera.gap must be [min, max] with min <= max, got {gap!r}")
        self.renderer = PhotoRenderer(width, height, level)
        self.gap = (float(gap[0]), float(gap[1]))
        self.source = source
        if source == "handwriting":
            try:
                self.handwriting = HandwritingSynthesizer(
                    exclude=[s for s in style_names() if _left_out(s, styles)]
                )
            except ValueError as err:
                raise CameraError(f"camera.styles: {err}") from None
        else:
            self.images, self.labels = embedded_digits_of_split(split, split_seed)
            self.by_digit = [np.flatnonzero(self.labels == d) for d in range(10)]
        try:
            self.digits_range = count_range(digits_per_frame, "camera.digits_per_frame")
        except ValueError as err:
            raise CameraError(str(err)) from None
        self.max_frames, self.level, self.split, self.seed = max_frames, level, split, seed
        self.rng = np.random.default_rng(seed)
        what = "synthesised handwriting" if source == "handwriting" else f"{split} digits"
        self.name = f"synthetic {level} ({what}, seed {seed})"
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
        rendered = self.renderer.render(self._draw(digits), digits, self.rng, self.gap)
        frame = Frame(image=rendered.image, index=self._index, labels=rendered.labels)
        self._index += 1
        return frame

    def _draw(self, digits: list[int]) -> list[np.ndarray]:
        """A 28x28 drawing of each digit from the source."""
        if self.source == "handwriting":
            styles = self.handwriting.styles
            return [
                self.handwriting.draw(d, str(self.rng.choice(styles[d])), self.rng) for d in digits
            ]
        return [self.images[int(self.rng.choice(self.by_digit[d]))] for d in digits]

    def settings(self) -> dict[str, Any]:
        return {
            "camera": self.name,
            "width": self.renderer.width,
            "height": self.renderer.height,
            "level": self.level,
            "split": self.split,
            "source": self.source,
            "seed": self.seed,
        }
