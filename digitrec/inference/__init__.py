"""Inference: read digits from images with a trained or exported model."""

from digitrec.inference.backends import DigitProbabilities, OnnxBackend, TorchBackend
from digitrec.inference.recognizer import NO_DIGIT, Prediction, Reading, Recognizer

__all__ = [
    "NO_DIGIT",
    "DigitProbabilities",
    "OnnxBackend",
    "Prediction",
    "Reading",
    "Recognizer",
    "TorchBackend",
]
