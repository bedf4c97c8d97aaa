"""How a recognizer brings its inputs to MNIST form: which preprocessing reads what, by one rule."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from digitrec.config import config_dir
from digitrec.preprocess import DigitCrop, DigitFinder, InkRun, Preprocessor, build_preprocessor
from digitrec.preprocess.basic import DIGIT_SIDE
from digitrec.preprocess.config import preprocess_config_dict

log = logging.getLogger(__name__)

#: a 28x28 MNIST-form input has no digit when none or more than this share of it is ink
MAX_INK_FRACTION = 0.6


def photo_preprocess_config() -> dict[str, Any]:
    """The default photo-to-MNIST preprocessing config (``conf/preprocess/photo.yaml``)."""
    return OmegaConf.to_container(OmegaConf.load(config_dir() / "preprocess" / "photo.yaml"))


@dataclass(frozen=True)
class InputPreprocessing:
    """The preprocessing a recognizer reads its inputs with, chosen by :meth:`choose`.

    ``trained`` is the config the net was trained with, ``config`` that of ``reader``, which
    reads the inputs; ``crops``, when set, reads the 28x28 inputs instead (MNIST-form crops).
    """

    trained: dict[str, Any]
    config: dict[str, Any]
    reader: Preprocessor
    crops: Preprocessor | None = None

    @classmethod
    def choose(
        cls,
        trained: Mapping[str, Any],
        chosen: Mapping[str, Any] | None = None,
        name: str = "the model",
    ) -> InputPreprocessing:
        """The rule: a preprocessing the user ``chosen`` reads every input, as given. Otherwise
        the one the net was ``trained`` with does; when it cannot find digits in a photo
        (``preprocess=none`` or ``guide``: the net saw 28x28 crops), it reads the 28x28 inputs
        only (taken to be crops, white ink on black, as in training) and ``preprocess=photo``
        every other image."""
        trained = preprocess_config_dict(trained)
        if chosen is not None:
            config = preprocess_config_dict(chosen)
            return cls(trained, config, build_preprocessor(config))
        own = build_preprocessor(trained)
        if isinstance(own, DigitFinder):
            return cls(trained, trained, own)
        # (debug: said on every load, also where no photo is read, as by digitrec-eval split=)
        log.debug(
            "%s was trained on MNIST-form digits (%s): photos are read with preprocess=photo",
            name,
            trained["_target_"],
        )
        photo = photo_preprocess_config()
        return cls(trained, photo, build_preprocessor(photo), crops=own)

    def locate(self, image: np.ndarray) -> DigitCrop | None:
        """The digit's box and its 28x28 MNIST-form rendering, or None when there is no digit."""
        if self.crops is not None and image.shape[:2] == (DIGIT_SIDE, DIGIT_SIDE):
            digit = self.crops(image)
            if digit is None:
                return None
            ink = float((digit > 127).mean())
            if ink == 0.0 or ink > MAX_INK_FRACTION:
                return None
            return DigitCrop(box=(0, 0, DIGIT_SIDE, DIGIT_SIDE), image=digit)
        if isinstance(self.reader, DigitFinder):
            return self.reader.extract(image)
        # a preprocessor that only reshapes (preprocess=guide, chosen): the whole image
        digit = self.reader(image)
        height, width = image.shape[:2]
        return None if digit is None else DigitCrop(box=(0, 0, width, height), image=digit)

    def runs(self, image: np.ndarray) -> list[InkRun] | None:
        """The runs of ink of a written number (see ``PhotoPreprocessor.segment_runs``), or
        None when the reader cannot find digits (then :meth:`locate` reads the one image)."""
        if isinstance(self.reader, DigitFinder):
            return self.reader.segment_runs(image)
        return None
