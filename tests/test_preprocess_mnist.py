"""Photo -> MNIST form on rendered photos of every kind, blank frames, polarity, numbers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digitrec.camera.synthetic import embedded_digits_of_split
from digitrec.data.photo import box_iou, boxes_overlap
from digitrec.preprocess import PhotoPreprocessor, build_preprocessor
from digitrec.synthesis.render import PhotoRenderer

PRE = PhotoPreprocessor()


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


def paper_with_digit(digit, height=120, at=(260, 180), blur=0.0, paper=225.0, ink=25.0):
    """A 640x480 gray page with ``digit`` (28x28 white on black) written at ``at`` (top left)
    ``height`` px tall; returns the float page and the digit's box."""
    alpha = cv2.resize(digit, (height, height), interpolation=cv2.INTER_CUBIC) / 255.0
    page = np.full((480, 640), paper, np.float32)
    x, y = at
    page[y : y + height, x : x + height] = paper * (1 - alpha) + ink * alpha
    if blur:
        page = cv2.GaussianBlur(page, (0, 0), blur)
    # the box of the strokes, leaving out specks the writer's scan left around them
    _, _, stats, _ = cv2.connectedComponentsWithStats((alpha > 0.3).astype(np.uint8))
    strokes = stats[1:][stats[1:, cv2.CC_STAT_AREA] >= 0.1 * stats[1:, cv2.CC_STAT_AREA].max()]
    x1, y1 = strokes[:, 0].min(), strokes[:, 1].min()
    x2, y2 = (strokes[:, 0] + strokes[:, 2]).max(), (strokes[:, 1] + strokes[:, 3]).max()
    return page, (x + x1, y + y1, x2 - x1, y2 - y1)


def test_a_shadow_over_most_of_the_page_is_not_taken_for_ink(held_out):
    # shadowed paper is the commonest tone, the lit paper is far brighter than it: the polarity
    # must still come out as dark ink, so that the digit (not the lit paper) is found
    images, _ = held_out
    page, truth = paper_with_digit(images[0], height=60, at=(120, 300), paper=210.0)
    shadow = np.zeros_like(page)
    cv2.fillConvexPoly(shadow, np.array([[0, 0], [560, 0], [330, 480], [0, 480]]), 1.0)
    page *= 1 - 0.55 * cv2.GaussianBlur(shadow, (0, 0), 12)
    crop = PRE.extract(page.clip(0, 255).astype(np.uint8))
    assert crop is not None and box_iou(crop.box, truth) > 0.7


def test_a_shadow_tip_touching_the_digit_is_left_out(held_out):
    images, labels = held_out
    page, truth = paper_with_digit(images[int(np.flatnonzero(labels == 7)[1])], blur=0.8)
    x, y, w, h = truth
    # a soft wedge of shadow (a hand, the phone) whose tip reaches the digit's left side
    wedge = np.zeros_like(page)
    tip = (x + w // 2, y + h // 2)
    cv2.fillConvexPoly(wedge, np.array([tip, (0, y - 40), (0, y + h + 40)]), 1.0)
    page *= 1 - 0.4 * cv2.GaussianBlur(wedge, (0, 0), 10)
    image = page.clip(0, 255).astype(np.uint8)
    crop = PRE.extract(image)
    assert crop is not None and box_iou(crop.box, truth) > 0.8
    # at the frame's threshold alone the shading joins the digit
    shaded = PhotoPreprocessor(min_edge_sharpness=None, ink_level=None).extract(image)
    assert shaded is not None and box_iou(shaded.box, truth) < 0.6


def test_a_rim_reaching_in_from_the_border_does_not_join_the_digit(held_out):
    images, _ = held_out
    page, truth = paper_with_digit(images[1], at=(60, 180))
    x, y, _, h = truth
    # the dark rim of the table, from the frame's left border to just short of the digit
    cv2.rectangle(page, (0, y + h - 12), (x - 10, y + h - 4), 60.0, thickness=-1)
    crop = PRE.extract(page.astype(np.uint8))
    assert crop is not None and box_iou(crop.box, truth) > 0.8


def test_a_blurred_pen_digit_keeps_its_loop():
    # a small zero in dark pen, blurred by the lens: the frame's threshold (low enough for faint
    # pencil) would fill the loop; the digit's own ink level keeps it open
    ring = np.zeros((28, 28), np.uint8)
    cv2.ellipse(ring, (14, 14), (7, 11), 0, 0, 360, 255, 3)
    page, _ = paper_with_digit(ring, height=30, blur=1.6, ink=15.0)
    out = PRE(page.astype(np.uint8))
    assert out is not None and out[12:16, 12:16].max() < 60
    filled = PhotoPreprocessor(ink_level=None)(page.astype(np.uint8))
    assert filled[12:16, 12:16].max() > out[12:16, 12:16].max()


def test_a_tight_crop_mostly_covered_by_ink_keeps_its_polarity():
    # a thick marker 1 cropped tightly: the ink covers most of the image, but not its border
    image = np.full((170, 40), 225, np.uint8)
    cv2.line(image, (25, 4), (15, 166), 30, thickness=24)
    image = cv2.GaussianBlur(image, (0, 0), 1.0)
    assert (image < 128).mean() > 0.6
    crop = PRE.extract(image)
    assert crop is not None and crop.box[3] >= 0.9 * 170 and crop.box[2] <= 40


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
    pre = build_preprocessor({"_target_": "digitrec.preprocess.PhotoPreprocessor", "deskew": True})
    assert isinstance(pre, PhotoPreprocessor)
    with pytest.raises(ValueError, match="polarity"):
        PhotoPreprocessor(polarity="sideways")
    with pytest.raises(ValueError, match=r"preprocess\.ink_level"):
        PhotoPreprocessor(ink_level=1.5)
    with pytest.raises(ValueError, match=r"preprocess\.min_edge_sharpness"):
        PhotoPreprocessor(min_edge_sharpness=0)
    for key, value in [
        ("min_contrast", 2.0),
        ("min_contrast", -1.0),
        ("work_size", 8),
        ("merge_distance", -0.5),
        ("stroke_ratio", 0.0),
        ("stroke_ratio", 3.0),
    ]:
        with pytest.raises(ValueError, match=rf"preprocess\.{key} must be"):
            PhotoPreprocessor(**{key: value})


def test_deskew_keeps_the_mnist_form(held_out):
    images, _ = held_out
    out = PhotoPreprocessor(deskew=True)(255 - cv2.resize(images[3], (120, 120)))
    cx, cy = centre_of_mass(out)
    assert abs(cx - 13.5) <= 1 and abs(cy - 13.5) <= 1


def _slant(digit: np.ndarray) -> float:
    """How far the ink leans: x's shift per row of height (mu11 / mu02)."""
    m = cv2.moments(digit.astype(np.float32))
    return m["mu11"] / m["mu02"]


def test_deskew_stands_a_slanted_stroke_upright():
    page = np.full((160, 160), 235, np.uint8)
    cv2.line(page, (55, 135), (105, 25), 30, 9)  # a 1 leaning right by about 24 degrees
    leaning = PhotoPreprocessor(deskew=False)(page)
    upright = PhotoPreprocessor(deskew=True)(page)
    assert abs(_slant(leaning)) > 0.3
    assert abs(_slant(upright)) < 0.1


def test_a_net_trained_on_the_embedded_data_reads_rendered_photos(photo_checkpoint):
    from digitrec import Recognizer
    from digitrec.camera.synthetic import SyntheticCamera

    recognizer = Recognizer.from_checkpoint(photo_checkpoint)
    assert recognizer.inputs.config["_target_"].endswith("PhotoPreprocessor")
    frames = [
        f
        for level in ("clean", "medium")
        for f in SyntheticCamera(level=level, max_frames=40, seed=5).frames()
    ]
    predictions = recognizer.predict_batch([f.image for f in frames])
    correct = sum(p.digit == f.labels[0] for p, f in zip(predictions, frames, strict=True))
    assert correct / len(frames) >= 0.9


def test_small_thin_pen_digit_on_a_ruled_phone_page_is_the_object_chosen():
    # a portrait phone frame of a ruled page, the digit 1-2 line spacings tall in a pen as thin
    # as the rules: at the analysis size the rules are under a pixel thick, and finding them
    # must not average them away
    from digitrec.camera.notebook import NotebookRenderer, handwriting_ink
    from digitrec.synthesis import HandwritingSynthesizer

    ink = handwriting_ink(HandwritingSynthesizer())
    renderer = NotebookRenderer(page="ruled")
    found = 0
    for k in range(20):
        rng = np.random.default_rng([9, k])
        frame = renderer.render(ink, int(rng.integers(10)), rng)
        crop = PRE.extract(frame.image)
        found += crop is not None and boxes_overlap(crop.box, frame.boxes[0], iou=0.3)
    assert found >= 14  # 10 before the thin-line fix


def test_thick_digit_from_top_to_bottom_of_a_tight_crop_is_the_digit():
    image = np.full((180, 180), 170, np.uint8)
    cv2.ellipse(image, (90, 90), (50, 86), 0, 0, 360, 25, 26)  # a thick 0 touching top and bottom
    for x, y in ((12, 60), (168, 120), (15, 150)):  # specks of dirt beside it
        cv2.circle(image, (x, y), 3, 60, -1)
    crop = PRE.extract(image)
    assert crop is not None and crop.box[3] >= 170
    ink = crop.image > 127
    assert not ink[12:16, 12:16].any() and ink.mean() > 0.08  # a ring with its hole, not a speck


def test_only_the_photo_preprocessing_finds_digits():
    from digitrec.preprocess import DigitFinder, GuidePreprocessor, MnistFormCheck, Preprocessor

    for preprocessor in (PhotoPreprocessor(), GuidePreprocessor(), MnistFormCheck()):
        assert isinstance(preprocessor, Preprocessor)
    assert isinstance(PhotoPreprocessor(), DigitFinder)
    assert not isinstance(GuidePreprocessor(), DigitFinder)
    assert not isinstance(MnistFormCheck(), DigitFinder)


def test_small_digits_on_phone_pages_are_read_at_the_input_resolution(photo_checkpoint):
    # a thin pen one or two line spacings tall on a 1080x1920 page is under a pixel wide at the
    # 480 px analysis size and breaks where it crosses the rules: the region around what was
    # found is looked at again at the photo's own resolution
    from digitrec import Recognizer
    from digitrec.camera.notebook import NotebookRenderer, mnist_ink
    from digitrec.camera.synthetic import embedded_digits_of_split

    recognizer = Recognizer.from_checkpoint(photo_checkpoint)
    ink = mnist_ink(*embedded_digits_of_split("test"))
    right = 0
    for page in ("ruled", "squared"):
        renderer = NotebookRenderer(page=page)
        for k in range(30):
            rng = np.random.default_rng([21, k])
            digit = int(rng.integers(10))
            right += recognizer.predict(renderer.render(ink, digit, rng).image).digit == digit
    assert right >= 51  # 56 of 60; 47 when the working image alone was read


def test_a_number_on_a_phone_page_is_read_digit_by_digit(photo_checkpoint):
    # 3-5 digits one or two line spacings tall on a ruled or squared page: the rules' leftover
    # dashes in the digits' columns are no digits, and the number is looked at closer
    from digitrec import Recognizer
    from digitrec.camera.notebook import NotebookRenderer, mnist_ink
    from digitrec.camera.synthetic import embedded_digits_of_split
    from digitrec.inference.evaluation import digits_in_place

    recognizer = Recognizer.from_checkpoint(photo_checkpoint)
    ink = mnist_ink(*embedded_digits_of_split("test"))
    in_place, total = 0, 0
    for page in ("ruled", "squared"):
        renderer = NotebookRenderer(page=page)
        for k in range(25):
            rng = np.random.default_rng([23, k])
            digits = rng.integers(10, size=int(rng.integers(3, 6))).tolist()
            frame = renderer.render_number(ink, digits, rng)
            assert frame.labels == tuple(digits)
            assert [box[0] for box in frame.boxes] == sorted(box[0] for box in frame.boxes)
            truth = "".join(map(str, digits))
            in_place += digits_in_place(truth, recognizer.read(frame.image).text)
            total += len(truth)
    # 178-185 of 206 digits in place (the test checkpoint varies from run to run); what moved
    # them (the rules' dashes, the number's line) is pinned down in test_photo_stages
    assert total == 206 and in_place >= 170
