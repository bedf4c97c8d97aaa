"""``Recognizer``: the one inference path (predict script, evaluation, live camera, your code)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitrec.checkpoint import CheckpointError, first_line, net_from_checkpoint, read_checkpoint
from digitrec.data.images import read_image
from digitrec.inference.backends import (
    DigitClassifierBackend,
    OnnxBackend,
    ScriptedBackend,
    TorchBackend,
    precision_dtype,
)
from digitrec.inference.decision import decide_one
from digitrec.inference.inputs import InputPreprocessing
from digitrec.inference.numbers import choose_pieces
from digitrec.preprocess import DigitCrop

#: the metadata key (ONNX) / extra file (TorchScript) holding the preprocessing config
PREPROCESS_METADATA_KEY = "digitrec.preprocess"


@dataclass(frozen=True)
class Prediction:
    """One digit read from an image.

    ``digit`` is None when the image holds no digit or the net's ``confidence`` is below the
    recognizer's ``min_confidence``; ``probabilities`` are the net's 10 class probabilities
    (None when no digit was found) and ``box`` is ``(x, y, w, h)`` in the input's pixels.
    """

    digit: int | None
    confidence: float
    probabilities: np.ndarray | None
    box: tuple[int, int, int, int] | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (probabilities rounded to 6 decimals)."""
        probabilities = None
        if self.probabilities is not None:
            probabilities = [round(float(p), 6) for p in self.probabilities]
        return {
            "digit": self.digit,
            "confidence": round(self.confidence, 6),
            "box": list(self.box) if self.box else None,
            "probabilities": None
            if probabilities is None
            else [round(float(p), 6) for p in probabilities],
        }


NO_DIGIT = Prediction(digit=None, confidence=0.0, probabilities=None, box=None)


@dataclass(frozen=True)
class Reading:
    """A written number: ``text`` holds its digits left to right ('?' for one read with less
    than ``min_confidence``; empty when the image holds none), ``digits`` one
    :class:`Prediction` per digit, boxes included."""

    text: str
    digits: tuple[Prediction, ...]


class Recognizer:
    """Reads digits from images with a trained net and the preprocessing it was trained with.

    Build one with :meth:`from_checkpoint`, :meth:`from_onnx` or :meth:`from_torchscript`.
    Images are numpy arrays (BGR, BGRA or gray; ``uint8`` or 16-bit) or paths to image files.

    Which preprocessing reads which input follows one rule (:meth:`InputPreprocessing.choose`):
    a ``preprocess`` config passed in reads everything; otherwise the model's own does, with
    ``preprocess=photo`` reading photos for a net trained on 28x28 crops (``preprocess=none``
    or ``guide``), whose own preprocessing reads 28x28 inputs.
    """

    def __init__(
        self,
        classify: DigitClassifierBackend,
        trained_with: Mapping[str, Any],
        min_confidence: float = 0.0,
        batch_size: int = 64,
        name: str = "recognizer",
        preprocess: Mapping[str, Any] | None = None,
    ) -> None:
        """``trained_with`` is the preprocessing config the net was trained with; ``preprocess``
        a user's choice that then reads every input. Crops go through the net ``batch_size`` at
        a time: on a CPU, bigger chunks spill the activations out of its caches (the webcam
        net on the 2-core benchmark CPU: 10,000 crops/s in chunks of 64, 6,000 in chunks of 256)."""
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be within [0, 1], got {min_confidence}")
        self.classify = classify
        self.inputs = InputPreprocessing.choose(trained_with, preprocess, name)
        self.min_confidence = float(min_confidence)
        self.batch_size = int(batch_size)
        self.name = name

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(
        cls,
        path: str | Path,
        device: str | None = None,
        preprocess: Mapping[str, Any] | None = None,
        precision: str = "32",
        **kwargs: Any,
    ) -> Recognizer:
        """Load any model file by its name: ``*.onnx`` (ONNX Runtime), ``*.torchscript.pt``
        (TorchScript), anything else a training checkpoint (``*.ckpt``). ``precision="bf16"``
        (checkpoints only) runs the net in bfloat16: see :class:`TorchBackend`."""
        name = str(path).lower()
        exported = name.endswith((".onnx", ".torchscript.pt"))
        if exported and str(precision) != "32":
            raise ValueError(
                f"precision={precision} applies to training checkpoints; {str(path)!r} is an "
                "export, which runs as exported (float32)"
            )
        if name.endswith(".onnx"):
            return cls.from_onnx(path, preprocess=preprocess, **kwargs)
        if name.endswith(".torchscript.pt"):
            return cls.from_torchscript(path, device=device, preprocess=preprocess, **kwargs)
        return cls.from_checkpoint(
            path, device=device, preprocess=preprocess, precision=precision, **kwargs
        )

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str | None = None,
        preprocess: Mapping[str, Any] | None = None,
        precision: str = "32",
        **kwargs: Any,
    ) -> Recognizer:
        """Load a training checkpoint (weights only: no code in the file is run); the net runs
        in ``precision`` ("32", or "bf16": see :class:`TorchBackend`)."""
        precision_dtype(precision)  # a bad value fails before the file is read
        state = read_checkpoint(path)
        net, hparams = net_from_checkpoint(state, path)
        return cls._assemble(
            TorchBackend(net, device, precision=precision),
            path,
            hparams.get("preprocess"),
            preprocess,
            f"checkpoint {str(path)!r} records no preprocessing config",
            **kwargs,
        )

    @classmethod
    def from_onnx(
        cls, path: str | Path, preprocess: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Recognizer:
        """Load a model exported by ``digitrec-export format=onnx`` and run it with ONNX Runtime."""
        file = Path(path).expanduser()
        if not file.is_file():
            raise FileNotFoundError(f"no such ONNX model file: {str(path)!r}")
        try:
            backend = OnnxBackend(file)
        except Exception as err:
            raise CheckpointError(
                f"{str(path)!r} is not a readable ONNX model: {first_line(err)}"
            ) from err
        stored = backend.metadata().get(PREPROCESS_METADATA_KEY)
        return cls._assemble(
            backend,
            path,
            json.loads(stored) if stored else None,
            preprocess,
            f"ONNX model {str(path)!r} has no {PREPROCESS_METADATA_KEY!r} metadata (not "
            "exported by digitrec-export)",
            **kwargs,
        )

    @classmethod
    def from_torchscript(
        cls,
        path: str | Path,
        device: str | None = None,
        preprocess: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Recognizer:
        """Load a model exported by ``digitrec-export format=torchscript``."""
        import torch

        file = Path(path).expanduser()
        if not file.is_file():
            raise FileNotFoundError(f"no such TorchScript model file: {str(path)!r}")
        extra = {PREPROCESS_METADATA_KEY: ""}
        try:
            with warnings.catch_warnings():  # TorchScript is deprecated upstream, still works
                warnings.filterwarnings("ignore", category=FutureWarning)
                module = torch.jit.load(str(file), map_location=device or "cpu", _extra_files=extra)
        except Exception as err:
            raise CheckpointError(
                f"{str(path)!r} is not a TorchScript model: {first_line(err)}"
            ) from err
        stored = extra[PREPROCESS_METADATA_KEY]
        return cls._assemble(
            ScriptedBackend(module, device),
            path,
            json.loads(stored) if stored else None,
            preprocess,
            f"TorchScript model {str(path)!r} carries no preprocessing config",
            **kwargs,
        )

    @classmethod
    def _assemble(
        cls,
        backend: DigitClassifierBackend,
        path: str | Path,
        stored: Mapping[str, Any] | None,
        preprocess: Mapping[str, Any] | None,
        missing: str,
        **kwargs: Any,
    ) -> Recognizer:
        """A recognizer reading with the model's stored preprocessing, or with ``preprocess``
        when one is given; ``missing`` says what lacks a config."""
        if preprocess is None and not stored:
            raise CheckpointError(f"{missing}: pass preprocess=...")
        return cls(backend, stored or preprocess, name=str(path), preprocess=preprocess, **kwargs)

    # ------------------------------------------------------------------ reading
    def locate(self, image: np.ndarray | str | Path) -> DigitCrop | None:
        """The digit's box and its 28x28 MNIST-form rendering, or None when there is no digit."""
        return self.inputs.locate(_as_array(image))

    def predict(self, image: np.ndarray | str | Path) -> Prediction:
        """Read the one digit in ``image``."""
        return self.predict_batch([image])[0]

    def predict_batch(self, images: Iterable[np.ndarray | str | Path]) -> list[Prediction]:
        """Read one digit per image; the crops go through the net in batches."""
        return self.classify_crops([self.locate(image) for image in images])

    def read(self, image: np.ndarray | str | Path) -> Reading:
        """Read a written number: its digits left to right. Digits whose strokes touch are cut
        apart where the net reads the pieces best (:func:`choose_pieces`)."""
        array = _as_array(image)
        runs = self.inputs.runs(array)
        if runs is not None:
            reads = [read for pieces in choose_pieces(runs, self.probabilities) for read in pieces]
            predictions = tuple(self._prediction(p, crop.box) for crop, p in reads)
        else:  # a preprocessing that cannot find digits: the one it makes of the whole image
            crops = [crop] if (crop := self.inputs.locate(array)) is not None else []
            predictions = tuple(self.classify_crops(crops))
        text = "".join("?" if p.digit is None else str(p.digit) for p in predictions)
        return Reading(text=text, digits=predictions)

    def probabilities(self, digits: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, 10)`` of preprocessed digits ``uint8 (N, 28, 28)``."""
        digits = np.asarray(digits, dtype=np.uint8)[:, None]
        if len(digits) == 0:
            return np.zeros((0, 10), np.float32)
        return np.concatenate(
            [
                self.classify(digits[start : start + self.batch_size])
                for start in range(0, len(digits), self.batch_size)
            ]
        )

    def classify_crops(self, crops: Sequence[DigitCrop | None]) -> list[Prediction]:
        """Predictions for digits already located (:meth:`locate`), batched through the net;
        ``None`` (no digit found) gives :data:`NO_DIGIT`."""
        found = [crop for crop in crops if crop is not None]
        if not found:
            return [NO_DIGIT] * len(crops)
        probabilities = iter(self.probabilities(np.stack([crop.image for crop in found])))
        return [
            NO_DIGIT if crop is None else self._prediction(next(probabilities), crop.box)
            for crop in crops
        ]

    def _prediction(self, probabilities: np.ndarray, box: tuple[int, int, int, int]) -> Prediction:
        digit, confidence = decide_one(probabilities, self.min_confidence)
        box = tuple(int(v) for v in box)
        return Prediction(digit=digit, confidence=confidence, probabilities=probabilities, box=box)


def _as_array(image: np.ndarray | str | Path) -> np.ndarray:
    return image if isinstance(image, np.ndarray) else read_image(image)
