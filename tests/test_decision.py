"""One rule names the digit: the most probable class, unless it is below min_confidence."""

from __future__ import annotations

import numpy as np

from digitrec.inference import Prediction
from digitrec.inference.decision import UNSURE, decide, decide_one
from digitrec.inference.smoothing import DigitSmoother


def test_rows_below_the_threshold_are_unsure():
    probabilities = np.array([[0.1, 0.9, 0.0], [0.5, 0.2, 0.3], [0.0, 0.3, 0.7]])
    digits, confidence = decide(probabilities, 0.6)
    assert digits.tolist() == [1, UNSURE, 2]
    assert confidence.tolist() == [0.9, 0.5, 0.7]
    assert decide(probabilities, 0.0)[0].tolist() == [1, 0, 2]
    assert decide_one(probabilities[1], 0.5) == (0, 0.5)  # the threshold itself is sure
    assert decide_one(probabilities[1], 0.51) == (None, 0.5)


def test_the_smoother_decides_by_the_same_rule():
    smoother = DigitSmoother(window=2, min_confidence=0.6)
    seven = np.eye(10)[7] * 0.55 + 0.045
    frame = Prediction(digit=7, confidence=0.595, probabilities=seven, box=(0, 0, 1, 1))
    assert smoother.update(frame) is None  # 0.595 < 0.6
    assert DigitSmoother(window=2, min_confidence=0.5).update(frame) == 7
