"""Each stage of ``preprocess=photo`` on its own: ink, ruled lines, choice, own ink, MNIST form."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digitrec.preprocess.choice import group_columns, number_digits, pick_digit
from digitrec.preprocess.digit_ink import own_ink, rim_sharpness, without_shading
from digitrec.preprocess.ink import Component, InkFinder, ink_is_dark, ink_strength, working_gray
from digitrec.preprocess.mnist_form import deskewed, fit_and_centre, normalise_strokes, stroke_width
from digitrec.preprocess.ruled_lines import (
    horizontal_opening,
    level_above_rules,
    line_angle,
    on_ruled_lines,
    without_ruled_lines,
)


def _page(h: int = 240, w: int = 320) -> np.ndarray:
    return np.full((h, w), 220, np.uint8)


def test_working_gray_shrinks_large_images_only():
    big = np.zeros((960, 1280, 3), np.uint8)
    gray, scale = working_gray(big, 480)
    assert gray.shape == (360, 480) and scale == pytest.approx(0.375)
    small, one = working_gray(np.zeros((100, 120), np.uint8), 480)
    assert small.shape == (100, 120) and one == 1.0


def test_ink_polarity_is_told_from_the_ground():
    page = _page()
    cv2.line(page, (100, 60), (110, 180), 30, 6)
    assert ink_is_dark(page)
    assert not ink_is_dark(255 - page)


def test_ink_finder_finds_the_stroke_and_nothing_on_a_blank_page():
    page = _page()
    cv2.line(page, (150, 60), (160, 180), 30, 6)
    found = InkFinder()(page)
    assert found is not None and len(found.components) == 1
    (stroke,) = found.components
    assert 140 <= stroke.x <= 150 and stroke.h >= 115 and stroke.ink > 0.6
    assert found.strength[120, 155] > 150 and found.strength[20, 20] < 30
    assert InkFinder()(_page()) is None
    # a page edge along the border is no piece of ink worth considering
    page[:, :6] = 20
    assert [c.x for c in InkFinder()(page).components] == [stroke.x]


# rules up to 1.5% of the frame's height thick (a digit's bars in a tight crop are thicker)
@pytest.mark.parametrize(
    ("size", "thickness"),
    [((240, 320), 1), ((240, 320), 2), ((360, 480), 1), ((360, 480), 2), ((360, 480), 3)],
)
@pytest.mark.parametrize("angle", [0, 6, -12])
def test_ruled_lines_are_found_at_their_tilt_and_removed_keeping_the_strokes(
    size, thickness, angle
):
    h, w = size  # frames at the analysis size
    mask = np.zeros(size, np.uint8)
    slope = np.tan(np.deg2rad(angle))
    for y0 in (h // 3, h // 2, 2 * h // 3):
        cv2.line(mask, (0, y0), (w - 1, round(y0 + slope * (w - 1))), 1, thickness)
    # (a line thicker than the analysis' cells fills rows at the neighbouring tilts too)
    assert line_angle(mask) == angle
    cv2.line(mask, (w // 2, h // 12), (w // 2, h - h // 12), 1, 5)  # a stroke crossing them
    cleaned = without_ruled_lines(mask)
    assert cleaned[:, : w // 3].sum() == 0 and cleaned[:, -w // 4 :].sum() == 0
    # the stroke is whole again where the lines crossed it
    assert cleaned[h // 8 : h - h // 8, w // 2].all()
    assert line_angle(np.zeros(size, np.uint8)) is None


def test_rules_broken_into_dashes_are_removed_too():
    # a thin rule photographed whole and thresholded at the analysis size: dashes and gaps
    h, w = 360, 480
    mask = np.zeros((h, w), np.uint8)
    for y0 in (90, 150, 210, 270):
        for x in range(0, w, 26):
            cv2.line(mask, (x, y0), (min(w - 1, x + 19), y0), 1, 1)
    assert line_angle(mask) == 0
    cv2.line(mask, (w // 2, 60), (w // 2 + 10, 300), 1, 2)  # a digit's stroke crossing them
    cleaned = without_ruled_lines(mask)
    assert cleaned[:, : w // 3].sum() == 0 and cleaned[:, -w // 4 :].sum() == 0
    assert cleaned[70:290, w // 2 - 2 : w // 2 + 13].any(axis=1).all()  # the stroke, whole


def _squared_page(grid_tone: int, pen_tone: int) -> np.ndarray:
    """A phone photo of squared paper at the analysis size: a grid of thin gray lines, and a
    small digit (a 4) written with a thin pen."""
    page = np.full((480, 270), 225, np.uint8)
    for k in range(8, 480, 16):
        cv2.line(page, (0, k), (269, k + 4), grid_tone, 1)
    for k in range(6, 270, 16):
        cv2.line(page, (k, 0), (k - 4, 479), grid_tone, 1)
    for start, end in (
        ((120, 200), (104, 236)),
        ((104, 236), (140, 236)),
        ((132, 214), (130, 250)),
    ):
        cv2.line(page, start, end, pen_tone, 2)
    return page


def test_a_grid_nearly_as_dark_as_the_pen_is_thresholded_away_leaving_the_digit():
    page = _squared_page(grid_tone=165, pen_tone=40)
    finder = InkFinder(remove_lines=True)
    strength = ink_strength(page, "auto")
    mask = finder._mask(strength)
    assert mask[:, :60].sum() > 500  # thresholded like any page, the grid is ink
    level = level_above_rules(mask, strength)
    assert level is not None and strength[236, 120] > level > strength[8, 30]
    found = finder(page)
    # the digit alone is left: one piece, where it was written (not a net of grid lines)
    (digit,) = found.components
    assert 100 <= digit.x <= 106 and 196 <= digit.y <= 202 and digit.x2 < 145 and digit.y2 < 255
    # where the pen is no stronger than the grid, the threshold stays as it was
    faint = _squared_page(grid_tone=165, pen_tone=165)
    strength = ink_strength(faint, "auto")
    assert level_above_rules(finder._mask(strength), strength) is None


def test_a_thin_strokes_rims_no_stronger_than_the_rules_stay_beside_its_core():
    # a thin pen blurred and averaged: a strong core, rims as faint as the rules around it
    strength = np.zeros((480, 300), np.uint8)
    strength[10::16, :] = 100  # the rules
    cv2.line(strength, (150, 200), (150, 280), 90, 3)  # the stroke's rims...
    cv2.line(strength, (150, 200), (150, 280), 200, 1)  # ... and its core
    finder = InkFinder()
    ink = finder._without_rules(finder._mask(strength), strength)
    assert ink[202:279, 149:152].all()  # core and rims (the core alone: 1 px wide)
    assert ink[:, :140].sum() == 0 and ink[:, 160:].sum() == 0  # no rule left


def test_a_squared_page_seen_close_counts_its_columns_as_rules():
    # a phone photo's region looked at closer (:mod:`.closer_look`): eight rows of a grid and
    # as much ink in its columns, which are rules too (not the digit's ink)
    page = np.full((480, 480), 225, np.uint8)
    for k in range(10, 480, 60):
        cv2.line(page, (0, k), (479, k + 5), 165, 3)
        cv2.line(page, (k, 0), (k - 5, 479), 165, 3)
    cv2.circle(page, (240, 240), 12, 40, 2)  # a small 0
    strength = ink_strength(page, "auto")
    level = level_above_rules(InkFinder()._mask(strength), strength)
    assert level is not None and strength[240, 228] > level > strength[10, 200]
    (digit,) = InkFinder()(page).components
    assert abs(digit.x - 227) <= 2 and abs(digit.y - 227) <= 2 and digit.w <= 30


def _ruled_page(
    rule_tone: int, pen_tone: int, dash: int, digit_size: int, spacing: int = 16
) -> np.ndarray:
    """A page at the analysis size: rules of ``rule_tone`` broken into dashes ``dash`` px long
    (as a thin rule thresholds), and a digit (an 8) ``digit_size`` px tall in ``pen_tone``."""
    page = np.full((480, 300), 225, np.uint8)
    for y in range(10, 480, spacing):
        for x in range(0, 300, dash + 8):
            cv2.line(page, (x, y), (x + dash - 1, y), rule_tone, 1)
    r = digit_size // 4
    for cy in (240 - r, 240 + r):
        cv2.circle(page, (150, cy), r, pen_tone, 2 if digit_size < 60 else 12)
    return page


def test_rules_broken_into_dashes_are_thresholded_away_around_a_small_digit():
    page = _ruled_page(rule_tone=170, pen_tone=40, dash=12, digit_size=28)
    strength = ink_strength(page, "auto")
    finder = InkFinder()
    level = level_above_rules(finder._mask(strength), strength)
    assert level is not None and strength[225:256, 140:160].max() > level > strength[10, 4]
    (digit,) = finder(page).components  # the 8 alone: no dash is left to box instead
    assert 140 <= digit.x <= 145 and 224 <= digit.y <= 228


def test_a_big_digit_before_a_few_rules_keeps_the_frames_threshold():
    # most of the ink is the digit's (a webcam frame of a digit on ruled paper), part of it on
    # the rules' rows: the frame is thresholded as any other, the digit kept whole
    page = _ruled_page(rule_tone=150, pen_tone=40, dash=60, digit_size=240, spacing=48)
    strength = ink_strength(page, "auto")
    mask = InkFinder()._mask(strength)
    assert on_ruled_lines(mask) is not None  # the rules are there
    assert level_above_rules(mask, strength) is None
    digit = max(InkFinder()(page).components, key=lambda c: c.area)
    assert digit.h >= 230 and digit.w >= 110


def test_a_digits_own_bars_filling_a_tight_crop_are_no_rules():
    # a thick 3 filling its crop: three bars across most of the width, and a page of rules
    crop = np.zeros((170, 150), np.uint8)
    for y in (20, 85, 150):
        cv2.line(crop, (10, y), (140, y), 1, 14)
    cv2.line(crop, (135, 20), (135, 150), 1, 14)
    assert on_ruled_lines(crop) is None
    ruled = np.zeros((480, 360), np.uint8)
    for y in range(20, 480, 40):
        cv2.line(ruled, (0, y), (359, y), 1, 1)
    on_lines = on_ruled_lines(ruled)
    assert on_lines is not None and on_lines.sum() >= 0.9 * ruled.sum()


@pytest.mark.parametrize("span", [40, 41])
def test_the_horizontal_opening_on_likely_rows_is_opencvs_on_every_row(span):
    rng = np.random.default_rng(span)
    mask = (rng.random((60, 100)) < 0.8).astype(np.uint8)  # long and short runs everywhere
    # runs just long enough, and one pixel too short, against both edges
    mask[:4] = 0
    mask[0, : span - span // 2] = 1
    mask[1, : span - span // 2 - 1] = 1
    mask[2, -(span - span // 2) :] = 1
    mask[3, -(span - span // 2 - 1) :] = 1
    expected = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, span), np.uint8))
    opened = horizontal_opening(mask, span)
    np.testing.assert_array_equal(opened, expected)
    assert opened[:4].any() and expected.any() and not expected.all()


def test_a_bar_across_a_tight_crop_is_no_ruled_line():
    seven = np.zeros((200, 160), np.uint8)
    cv2.line(seven, (8, 20), (152, 20), 1, 14)  # the bar, from side to side of the crop
    cv2.line(seven, (150, 20), (60, 190), 1, 14)
    assert line_angle(seven) is not None  # it spans the width like a line ...
    np.testing.assert_array_equal(without_ruled_lines(seven), seven)  # ... but is kept
    # a thin pen's base of a 2 across half the crop: as thin as a rule, but too short for one
    two = np.zeros((240, 160), np.uint8)
    cv2.ellipse(two, (80, 70), (50, 50), 0, 180, 400, 1, 3)
    cv2.line(two, (118, 104), (40, 200), 1, 3)
    cv2.line(two, (40, 200), (122, 200), 1, 3)
    np.testing.assert_array_equal(without_ruled_lines(two), two)


def _component(x, y, w, h, area=None, ink=0.8, label=1):
    return Component(x, y, w, h, area if area is not None else w * h // 3, label, ink)


def test_pick_digit_prefers_the_central_stroke_and_joins_its_broken_piece():
    shape = (240, 320)
    digit = _component(140, 70, 40, 100, label=1)
    broken = _component(150, 175, 20, 20, label=2)  # just below: the digit's broken stroke
    corner = _component(0, 0, 90, 90, area=5000, label=3)  # the table in a corner
    faint = _component(150, 40, 20, 20, ink=0.2, label=4)  # a shadow's rim nearby
    chosen = pick_digit([corner, digit, broken, faint], shape, merge_distance=0.25)
    assert {c.label for c in chosen} == {1, 2}
    assert pick_digit([digit, broken], shape, merge_distance=0.0) == [digit]


def test_rim_sharpness_tells_a_pen_stroke_from_a_shadows_soft_tip():
    strength = np.zeros((120, 200), np.uint8)
    cv2.line(strength, (40, 20), (40, 100), 200, 6)  # a pen stroke: its edge rises at once
    tip = np.zeros((120, 200), np.float32)
    cv2.circle(tip, (140, 60), 25, 1.0, -1)
    tip = cv2.GaussianBlur(tip, (0, 0), 10)  # faint, and rising over many pixels
    strength = np.maximum(strength, (tip / tip.max() * 90).astype(np.uint8))
    _, labels, stats, _ = cv2.connectedComponentsWithStats((strength > 30).astype(np.uint8), 8)
    stroke, shade = (Component(*map(int, stats[k]), k) for k in (labels[60, 40], labels[60, 140]))
    assert rim_sharpness(labels, strength, stroke) > 0.3
    assert rim_sharpness(labels, strength, shade) < 0.1


def test_pick_digit_marks_down_a_faint_soft_rimmed_piece():
    shape = (240, 320)
    pencil = _component(60, 70, 20, 40, ink=0.45, label=1)  # a small pencil digit: sharp
    tip = _component(150, 60, 80, 60, area=2000, ink=0.35, label=2)  # a shadow's tip: soft
    measured = []

    def sharpness(c: Component) -> float:
        measured.append(c.label)
        return {1: 0.3, 2: 0.05}[c.label]

    assert pick_digit([pencil, tip], shape, 0.25) == [tip]  # by size and ink alone
    assert pick_digit([pencil, tip], shape, 0.25, sharpness) == [pencil]
    marker = _component(150, 60, 80, 60, area=2000, ink=0.8, label=3)  # strong ink
    measured.clear()
    assert pick_digit([pencil, marker], shape, 0.25, sharpness) == [marker]
    assert measured == []  # ink this strong is never taken for shade


def test_number_digits_groups_columns_left_to_right_and_drops_dashes():
    one = _component(200, 50, 20, 100, label=1)
    zero_top = _component(40, 50, 60, 50, label=2)
    zero_bottom = _component(45, 100, 55, 50, label=3)  # shares the columns: the same digit
    dash = _component(130, 95, 40, 8, label=4)  # low: not a digit of the number
    assert [[c.label for c in g] for g in group_columns([one, zero_top, zero_bottom])] == [
        [2, 3],
        [1],
    ]
    assert [[c.label for c in g] for g in number_digits([one, zero_top, zero_bottom, dash])] == [
        [2, 3],
        [1],
    ]


def test_bits_of_rules_above_and_below_a_number_are_no_digit_of_it():
    # a number on a ruled page: dashes of the rules left in the digits' columns, far above and
    # below them, must neither join a digit nor make a page-tall "digit" the others are
    # measured against
    two = _component(100, 200, 30, 40, area=300, label=1)
    seven = _component(140, 200, 30, 40, area=300, label=2)
    rows = (20, 80, 140, 300, 360, 420)
    dashes = [_component(95 + 3 * k, y, 40, 2, area=60, label=3 + k) for k, y in enumerate(rows)]
    groups = group_columns([two, seven, *dashes])
    assert [2] in [[c.label for c in g] for g in groups]  # the 7 alone, not with the dashes
    assert [[c.label for c in g] for g in number_digits([two, seven, *dashes])] == [[1], [2]]
    # a digit's own broken strokes (a 5's bar just above its body) still make one digit
    bar = _component(104, 188, 26, 6, area=90, label=20)
    assert [[c.label for c in g] for g in number_digits([two, bar, seven])] == [[1, 20], [2]]


def test_a_numbers_digits_are_the_longest_line_of_digit_sized_ink():
    # three digits written on a line, rising a little; off the line: a bit of a grid column
    # at the page's edge on the same rows, a rule's remnant spanning the page, a blob below
    digits = [_component(100 + 40 * k, 200 - 4 * k, 30, 40, label=k + 1) for k in range(3)]
    edge = _component(460, 195, 6, 40, label=4)  # far right: no neighbour of the number
    column = _component(300, 20, 6, 400, label=5)  # ten times a digit's height
    below = _component(140, 330, 30, 40, label=6)  # a digit's size, on another line
    found = number_digits([*digits, edge, column, below])
    assert [[c.label for c in g] for g in found] == [[1], [2], [3]]
    # a number of one digit is that digit
    assert [[c.label for c in g] for g in number_digits([digits[0]])] == [[1]]


def test_own_ink_drops_the_faint_halo_of_a_blurred_stroke():
    strength = np.zeros((40, 40), np.uint8)
    strength[5:35, 15:25] = 60  # halo
    strength[5:35, 18:22] = 220  # the stroke
    mask = (strength > 0).astype(np.uint8)
    kept = own_ink(mask, strength, 0.5)
    assert kept[5:35, 18:22].all() and not kept[:, 15:18].any()


def test_without_shading_drops_a_soft_tip_and_keeps_sharp_ink():
    # a shadow's tip: ink strength fading slowly (e-fold 15 px) around a thin core
    outside_core = np.ones((60, 100), np.uint8)
    outside_core[28:32, 35:80] = 0
    distance = cv2.distanceTransform(outside_core, cv2.DIST_L2, 5)
    strength = 120 * np.exp(-distance / 15)
    strength[20:40, 10:35] = 200  # ink: sharp edges
    strength = strength.astype(np.uint8)
    mask = (strength > 40).astype(np.uint8)
    kept = without_shading(mask, strength, 0.12)
    assert kept[:, 36:].sum() == 0 and mask[:, 36:].sum() > 1000
    assert kept[20:40, 10:25].all()


def test_strokes_are_brought_towards_the_target_width():
    thin = np.zeros((80, 80), np.uint8)
    cv2.line(thin, (40, 5), (40, 75), 1, 1)
    assert stroke_width(normalise_strokes(thin, 8.0, 70)) > 3 * stroke_width(thin)
    fat = np.zeros((80, 80), np.uint8)
    cv2.line(fat, (40, 5), (40, 75), 1, 30)
    # thinned halfway towards the target
    assert 8.0 < stroke_width(normalise_strokes(fat, 8.0, 70)) < 0.75 * stroke_width(fat)
    # a marker's stroke half as wide again as the target is thinned too (a thick 1 reads as a blob)
    marker = np.zeros((80, 80), np.uint8)
    cv2.line(marker, (40, 5), (40, 75), 1, 12)
    assert 8.0 <= stroke_width(normalise_strokes(marker, 8.0, 70)) < stroke_width(marker) - 1.5
    right = np.zeros((80, 80), np.uint8)
    cv2.line(right, (40, 5), (40, 75), 1, 8)
    assert np.array_equal(normalise_strokes(right, 8.0, 70), right)


def test_fit_and_centre_gives_mnists_form():
    mask = np.zeros((50, 20), np.float32)
    mask[:, 5:15] = 1.0
    digit = fit_and_centre(mask, 28, 20)
    ys, _ = np.nonzero(digit > 127)
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    assert ys.max() - ys.min() + 1 in (19, 20, 21)
    m = cv2.moments(digit.astype(np.float32))
    assert abs(m["m10"] / m["m00"] - 13.5) < 0.5 and abs(m["m01"] / m["m00"] - 13.5) < 0.5


def test_deskewed_stands_a_slanted_bar_upright():
    mask = np.zeros((60, 60), np.float32)
    cv2.line(mask, (20, 55), (40, 5), 1.0, 4)
    upright = deskewed(mask)
    assert upright.shape[1] < 0.5 * mask.shape[1]


def test_a_closer_look_is_taken_only_at_a_small_digit_of_a_large_photo():
    from digitrec.preprocess.closer_look import closer_region

    small = Component(x=200, y=300, w=10, h=20, area=80, label=1)
    # a 1080x1920 photo analysed at 480 px: the region around the digit, in the photo's pixels
    x1, y1, x2, y2 = closer_region([small], (480, 270), 0.25)
    assert x1 < 4 * 200 and y1 < 4 * 300 and x2 > 4 * 210 and y2 > 4 * 320
    assert x2 <= 1080 and y2 <= 1920 and x1 >= 0 and y1 >= 0
    assert closer_region([small], (480, 360), 0.75) is None  # a webcam frame: no finer pixels
    big = Component(x=100, y=100, w=40, h=120, area=900, label=1)
    assert closer_region([big], (480, 270), 0.25) is None  # already plenty of pixels


def test_a_small_number_on_a_large_photo_is_boxed_in_the_photo_pixels():
    from digitrec.preprocess import PhotoPreprocessor

    photo = np.full((1920, 1080), 225, np.uint8)
    for y in range(40, 1920, 60):  # a ruled page
        cv2.line(photo, (0, y), (1079, y + 8), 150, 2)
    cv2.line(photo, (600, 1105), (606, 1175), 30, 3)  # a 1 ...
    cv2.ellipse(photo, (660, 1140), (22, 35), 0, 0, 360, 30, 3)  # ... and a 0, 70 px tall
    pre = PhotoPreprocessor()
    crops = pre.segment(photo)
    assert len(crops) == 2
    (x1, y1, _, h1), (x0, y0, w0, h0) = crops[0].box, crops[1].box
    assert abs(x1 - 598) <= 4 and abs(y1 - 1104) <= 4 and abs(h1 - 72) <= 6
    assert abs(x0 - 637) <= 4 and abs(y0 - 1104) <= 4 and abs(w0 - 46) <= 6 and h0 >= 66
    runs = pre.segment_runs(photo)
    assert [run.whole.box for run in runs] == [crop.box for crop in crops]
