"""Training digits from the handwriting synthesiser, preprocessed as the folder's images are."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from digitrec.data.photo import found_digits
from digitrec.preprocess import VERSION as PREPROCESS_VERSION
from digitrec.preprocess import build_preprocessor
from digitrec.synthesis import HandwritingSynthesizer
from digitrec.synthesis.handwriting import VERSION as HANDWRITING_VERSION
from digitrec.utils.tensor_cache import load_or_build_digits


def draw_handwriting(
    per_digit: int, exclude: Sequence[str], preprocess: Mapping[str, Any], seed: int = 0
) -> tuple[Tensor, Tensor]:
    """``per_digit`` synthetic drawings of every digit (styles in ``exclude`` left out), brought
    through ``preprocess`` exactly as an image file of the folder would be; drawings in which
    the preprocessing finds no digit are dropped."""
    images, labels, _styles = HandwritingSynthesizer(exclude=exclude).sample(per_digit, seed)
    preprocessor = build_preprocessor(preprocess)
    digits = [preprocessor(image) for image in images]
    kept = found_digits(digits, "synthetic drawings")
    if not kept:
        return torch.zeros((0, *images.shape[1:]), dtype=torch.uint8), torch.zeros(
            0, dtype=torch.long
        )
    return (
        torch.from_numpy(np.stack([digits[k] for k in kept])),
        torch.from_numpy(labels[kept]),
    )


def load_or_draw_handwriting(
    per_digit: int,
    exclude: Sequence[str],
    preprocess: Mapping[str, Any],
    cache_dir: str | Path,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    """:func:`draw_handwriting`, cached by every setting and the code versions."""
    settings = {
        "per_digit": per_digit,
        "exclude": sorted(exclude),
        "preprocess": dict(preprocess),
        "preprocess_code": PREPROCESS_VERSION,
        "handwriting_code": HANDWRITING_VERSION,
        "seed": seed,
    }
    return load_or_build_digits(
        cache_dir,
        "handwriting",
        settings,
        lambda: draw_handwriting(per_digit, exclude, preprocess, seed),
    )
