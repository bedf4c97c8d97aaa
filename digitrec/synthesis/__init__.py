"""Synthetic handwriting: digits drawn in writers' styles MNIST lacks (no data files)."""

from digitrec.synthesis.handwriting import (
    STYLES,
    HandwritingSynthesizer,
    PenVariation,
    style_names,
)

__all__ = ["STYLES", "HandwritingSynthesizer", "PenVariation", "style_names"]
