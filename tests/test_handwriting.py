"""The handwriting synthesiser: every style drawn deterministically, in MNIST's form, and the
data option that mixes its digits into training only."""

from __future__ import annotations

from itertools import pairwise

import cv2
import numpy as np
import pytest

from digitrec.camera.base import CameraError
from digitrec.camera.synthetic import SyntheticCamera
from digitrec.data import Side
from digitrec.data.datamodule import FolderDataModule
from digitrec.preprocess import PhotoPreprocessor
from digitrec.synthesis import STYLES, HandwritingSynthesizer, style_names

MNIST = {"_target_": "digitrec.preprocess.PhotoPreprocessor"}
SYNTH = HandwritingSynthesizer()


def test_the_issue_styles_exist():
    names = set(style_names())
    for style in [
        "1/bare",
        "1/flag",
        "1/flag_base",
        "2/loop",
        "4/closed",
        "4/open",
        "7/crossed",
        "7/curved",
        "9/straight",
        "9/curved",
        "9/hooked",
        "3/flat_top",
        "0/narrow",
        "0/overshoot",
    ]:
        assert style in names
    assert all(len(STYLES[d]) >= 2 for d in range(10))


@pytest.mark.parametrize("style", style_names())
def test_every_style_draws_deterministically_in_mnist_form(style):
    digit, name = style.split("/")
    first = SYNTH.draw(int(digit), name, np.random.default_rng(3))
    again = SYNTH.draw(int(digit), name, np.random.default_rng(3))
    other = SYNTH.draw(int(digit), name, np.random.default_rng(4))
    assert first.shape == (28, 28) and first.dtype == np.uint8
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    ink = first > 127
    assert 0.04 < ink.mean() < 0.5  # strokes, neither a speck nor a blob
    ys, xs = np.nonzero(first > 40)
    assert max(np.ptp(ys), np.ptp(xs)) + 1 in (19, 20, 21)  # fitted into MNIST's 20 px box
    m = cv2.moments(first.astype(np.float32))
    assert abs(m["m10"] / m["m00"] - 14) < 1.0 and abs(m["m01"] / m["m00"] - 14) < 1.0


def test_styles_differ_in_shape():
    # a flagged 1 has ink left of its stem near the top, a bare 1 does not
    rng = np.random.default_rng
    bare = np.mean([SYNTH.draw(1, "bare", rng(k)) for k in range(20)], axis=0)
    flag = np.mean([SYNTH.draw(1, "flag_base", rng(k)) for k in range(20)], axis=0)
    assert flag[18:, :].sum() > 1.3 * bare[18:, :].sum()  # the base
    open_four = np.mean([SYNTH.draw(4, "open", rng(k)) for k in range(20)], axis=0)
    closed = np.mean([SYNTH.draw(4, "closed", rng(k)) for k in range(20)], axis=0)
    assert not np.allclose(open_four, closed, atol=20)


def test_proportions_vary_as_writers_vary_them():
    rng = np.random.default_rng
    # a closed 4's bar anywhere from the middle of its height up to a small triangle high on a
    # long stem (the bar: the row with the most ink)
    bar_rows = [int(np.argmax(SYNTH.draw(4, "closed", rng(k)).sum(axis=1))) for k in range(40)]
    assert min(bar_rows) <= 13 and max(bar_rows) >= 16
    # a 9's loop closed at its stem, or begun at its top and left open short of the stem
    gaps = []
    for k in range(40):
        loop = STYLES[9]["straight"](rng(k))[0]
        corner = next(a for a, b in pairwise(loop) if a == b)  # where the stem begins
        gaps.append(np.hypot(loop[0][0] - corner[0], loop[0][1] - corner[1]))
    assert min(gaps) < 0.1 and max(gaps) > 0.15


def test_a_loop_stays_open_whatever_the_pen():
    # a narrow 0 (or 6, 8) written with a thick pen keeps its hole: filled, it is a 1
    for digit, style in [(0, "narrow"), (0, "round"), (6, "small_loop"), (8, "one_stroke")]:
        for k in range(60):
            image = SYNTH.draw(digit, style, np.random.default_rng([5, k]))
            ground = np.pad((image < 128).astype(np.uint8), 1, constant_values=1)
            count, _ = cv2.connectedComponents(ground, connectivity=4)
            assert count >= 3, (digit, style, k)  # label 0, the outside, at least one hole


def test_sample_is_labelled_balanced_and_honours_exclusions():
    synth = HandwritingSynthesizer(exclude=["1/flag_base", "4/open"])
    images, labels, styles = synth.sample(6, seed=2)
    assert images.shape == (60, 28, 28) and np.bincount(labels).tolist() == [6] * 10
    assert "1/flag_base" not in styles and "4/open" not in styles
    assert all(s.startswith(f"{d}/") for s, d in zip(styles, labels, strict=True))
    again, _, _ = synth.sample(6, seed=2)
    assert np.array_equal(images, again)
    with pytest.raises(ValueError, match="unknown handwriting style"):
        HandwritingSynthesizer(exclude=["1/sideways"])
    with pytest.raises(ValueError, match="keep at least one"):
        HandwritingSynthesizer(exclude=["4/open", "4/closed"])


def test_drawings_go_through_the_photo_preprocessing_in_mnist_form():
    pre = PhotoPreprocessor()
    images, _, _ = SYNTH.sample(3, seed=5)
    for image in images:
        out = pre(image)
        assert out is not None and out.shape == (28, 28)
        ys, xs = np.nonzero(out > 40)
        assert max(np.ptp(ys), np.ptp(xs)) + 1 in (19, 20, 21)


def test_synthetic_camera_draws_the_synthesiser_styles():
    camera = SyntheticCamera(source="handwriting", styles=["1/flag_base"], level="clean", seed=1)
    camera.prompt(1)
    frame = camera.read()
    assert frame.labels == (1,) and frame.image.shape == (480, 640, 3)
    assert camera.handwriting.styles[1] == ["flag_base"] and len(camera.handwriting.styles[4]) == 2
    with pytest.raises(CameraError, match=r"camera\.source"):
        SyntheticCamera(source="fonts")
    with pytest.raises(CameraError, match=r"camera\.styles"):
        SyntheticCamera(source="handwriting", styles=["1/sideways"])


def test_data_option_mixes_synthetic_digits_into_training_only(small_folder_data):
    plain = small_folder_data()
    mixed = small_folder_data(synthetic_per_digit=7, synthetic_exclude=["7/crossed"])
    added = mixed.split(Side.TRAIN).labels[len(plain.split(Side.TRAIN)) :]
    assert np.bincount(added.numpy(), minlength=10).tolist() == [7] * 10
    for side in (Side.VAL, Side.TEST):
        assert np.array_equal(mixed.split(side).images, plain.split(side).images)
    # cached: a second data module draws nothing
    import digitrec.data.handwriting as handwriting

    original = handwriting.draw_handwriting
    handwriting.draw_handwriting = None  # would fail if called
    try:
        again = small_folder_data(synthetic_per_digit=7, synthetic_exclude=["7/crossed"])
    finally:
        handwriting.draw_handwriting = original
    assert np.array_equal(again.split(Side.TRAIN).images, mixed.split(Side.TRAIN).images)
    with pytest.raises(ValueError, match="synthetic_per_digit"):
        FolderDataModule(root="d", preprocess=MNIST, synthetic_per_digit=-1)
