"""Photo -> MNIST form on rendered photos of every kind, blank frames, polarity, numbers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digitrec.camera.render import PhotoRenderer
from digitrec.camera.synthetic import embedded_digits_of_split
from digitrec.preprocess import MnistPreprocessor, build_preprocessor

PRE = MnistPreprocessor()


@pytest.fixture(scope="module")
def held_out():
    return embedded_digits_of_split("test")


def centre_of_mass(image):
    m = cv2.moments(image.astype(np.float32))
    return m["m10"] / m["m00"], m["m01"] / m["m00"]


def longest_side(image):
    ys, xs = np.nonzero(image > 40)
    return max(np.ptp(ys) + 1, np.ptp(xs) + 1)


@pytest.mark.parametrize("level", ["clean", "medium", "hard"])
def test_rendered_photos_come_out_in_mnist_form(held_out, level):
    images, labels = held_out
    rng = np.random.default_rng(7)
    renderer = PhotoRenderer(level=level)
    found = 0
    for i in rng.choice(len(labels), 30, replace=False):
        frame = renderer.render([images[i]], [labels[i]], rng)
        crop = PRE.extract(frame.image)
        if crop is None:
            continue
        found += 1
        assert crop.image.shape == (28, 28) and crop.image.dtype == np.uint8
        cx, cy = centre_of_mass(crop.image)
        assert abs(cx - 13.5) <= 1 and abs(cy - 13.5) <= 1
        assert 19 <= longest_side(crop.image) <= 21
    assert found >= (30 if level == "clean" else 27)


def test_finds_the_digit_where_it_was_drawn(held_out):
    images, labels = held_out
    rng = np.random.default_rng(3)
    renderer = PhotoRenderer(level="medium")
    hits = 0
    for i in range(40):
        frame = renderer.render([images[i]], [labels[i]], rng)
        crop = PRE.extract(frame.image)
        x, y, w, h = frame.boxes[0]
        if crop is not None:
            cx, cy = crop.box[0] + crop.box[2] / 2, crop.box[1] + crop.box[3] / 2
            hits += abs(cx - (x + w / 2)) < 0.3 * h + 5 and abs(cy - (y + h / 2)) < 0.3 * h + 5
    assert hits >= 38


@pytest.mark.parametrize(
    "image",
    [
        np.full((480, 640, 3), 200, np.uint8),
        np.zeros((480, 640), np.uint8),
        np.full((28, 28), 255, np.uint8),
        (np.random.default_rng(0).normal(200, 3, (480, 640))).clip(0, 255).astype(np.uint8),
        cv2.GaussianBlur(
            np.tile(np.linspace(90, 250, 640, dtype=np.float32), (480, 1)), (0, 0), 5
        ).astype(np.uint8),
    ],
    ids=["grey", "black", "white-crop", "paper-noise", "gradient"],
)
def test_blank_or_uniform_frames_have_no_digit(image):
    assert PRE(image) is None
    assert PRE.segment(image) == []


def test_both_polarities(held_out):
    images, _labels = held_out
    digit = images[0]
    # MNIST-style white on black (as is) and ink on paper (inverted, enlarged)
    light_on_dark = PRE(digit)
    paper = 255 - cv2.resize(digit, (200, 200), interpolation=cv2.INTER_CUBIC)
    dark_on_light = PRE(paper)
    assert light_on_dark is not None and dark_on_light is not None
    overlap = (
        np.minimum(light_on_dark, dark_on_light).sum()
        / np.maximum(light_on_dark, dark_on_light).sum()
    )
    assert overlap > 0.5


def test_tight_crop_touching_the_border(held_out):
    images, _ = held_out
    big = 255 - cv2.resize(images[5], (300, 300), interpolation=cv2.INTER_CUBIC)
    ys, xs = np.nonzero(big < 128)
    tight = big[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]  # ink touches all four borders
    out = PRE(tight)
    assert out is not None and 19 <= longest_side(out) <= 21


def test_segment_reads_numbers_left_to_right(held_out):
    images, labels = held_out
    rng = np.random.default_rng(11)
    renderer = PhotoRenderer(level="clean")
    correct = 0
    for _ in range(20):
        count = int(rng.integers(2, 6))
        picks = rng.choice(len(labels), count, replace=False)
        frame = renderer.render([images[i] for i in picks], [labels[i] for i in picks], rng)
        crops = PRE.segment(frame.image)
        if len(crops) == count:
            xs = [c.box[0] for c in crops]
            truth = [b[0] for b in frame.boxes]
            correct += xs == sorted(xs) and all(
                abs(a - b) < 25 for a, b in zip(xs, truth, strict=True)
            )
    assert correct >= 18


def test_config_builds_it_and_rejects_bad_values():
    pre = build_preprocessor({"_target_": "digitrec.preprocess.MnistPreprocessor", "deskew": True})
    assert isinstance(pre, MnistPreprocessor)
    with pytest.raises(ValueError, match="polarity"):
        MnistPreprocessor(polarity="sideways")


def test_deskew_keeps_the_mnist_form(held_out):
    images, _ = held_out
    out = MnistPreprocessor(deskew=True)(255 - cv2.resize(images[3], (120, 120)))
    cx, cy = centre_of_mass(out)
    assert abs(cx - 13.5) <= 1 and abs(cy - 13.5) <= 1


def test_a_net_trained_on_the_embedded_data_reads_rendered_photos(photo_checkpoint):
    from digitrec import Recognizer
    from digitrec.camera.synthetic import SyntheticCamera

    recognizer = Recognizer.from_checkpoint(photo_checkpoint)
    assert recognizer.preprocess_config["_target_"].endswith("MnistPreprocessor")
    frames = [
        f
        for level in ("clean", "medium")
        for f in SyntheticCamera(level=level, max_frames=40, seed=5).frames()
    ]
    predictions = recognizer.predict_batch([f.image for f in frames])
    correct = sum(p.digit == f.labels[0] for p, f in zip(predictions, frames, strict=True))
    assert correct / len(frames) >= 0.9
