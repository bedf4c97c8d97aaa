"""Numbers whose digits touch: runs of ink are cut where the net reads the pieces best, and a
clear single digit is never cut."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digitrec.camera.synthetic import SyntheticCamera
from digitrec.inference import Recognizer
from digitrec.preprocess import PhotoPreprocessor

PRE = PhotoPreprocessor()


@pytest.fixture(scope="module")
def recognizer(photo_checkpoint):
    return Recognizer.from_checkpoint(photo_checkpoint)


def touching_pairs(count: int, seed: int = 3):
    camera = SyntheticCamera(
        level="clean", digits_per_frame=2, gap=(-0.2, -0.1), seed=seed, max_frames=count
    )
    return list(camera.frames())


def test_a_narrow_run_has_no_cuts_and_a_wide_one_does():
    from digitrec.preprocess.runs import MIN_RUN_ASPECT

    single = SyntheticCamera(level="clean", seed=1, max_frames=10)
    for frame in single.frames():
        for run in PRE.segment_runs(frame.image):
            width = run.cuts[-1] - run.cuts[0] if run.cuts else 0
            assert not run.cuts or width >= MIN_RUN_ASPECT * run.height
    wide = [run for f in touching_pairs(10) for run in PRE.segment_runs(f.image) if run.cuts]
    assert len(wide) >= 7
    for run in wide:
        assert list(run.cuts) == sorted(run.cuts) and len(run.cuts) >= 3
        middle = run.piece(1, len(run.cuts) - 1)
        assert middle.image.shape == (28, 28) and middle.box[0] > run.whole.box[0]


def test_touching_pairs_are_split_and_read(recognizer):
    # the pairs whose ink touches: one run, which reading it whole gets wrong
    frames = [f for f in touching_pairs(40) if len(PRE.segment(f.image)) == 1]
    assert len(frames) >= 15
    read = [recognizer.read(f.image).text for f in frames]
    truth = ["".join(map(str, f.labels)) for f in frames]
    # (the fixture model, trained with touching pairs, reads about 85% of them exactly)
    assert sum(len(r) == 2 for r in read) >= 0.7 * len(frames)
    assert sum(r == t for r, t in zip(read, truth, strict=True)) >= 0.6 * len(frames)


def test_clear_single_digits_and_spaced_numbers_are_not_cut(recognizer):
    singles = SyntheticCamera(level="clean", seed=5, max_frames=30)
    assert sum(len(recognizer.read(f.image).text) == 1 for f in singles.frames()) >= 29
    spaced = SyntheticCamera(level="clean", digits_per_frame=[3, 5], seed=6, max_frames=20)
    lengths = [(len(recognizer.read(f.image).text), len(f.labels)) for f in spaced.frames()]
    # (the fixture model's draw decides a digit or two: retrained with other seeds or slightly
    # other photo crops, it reads 18-20 of these 20 at the right length)
    assert sum(a == b for a, b in lengths) >= 18


def test_read_boxes_stay_left_to_right(recognizer):
    for frame in touching_pairs(10, seed=8):
        xs = [p.box[0] for p in recognizer.read(frame.image).digits]
        assert xs == sorted(xs)
    assert np.all([p.box is not None for p in recognizer.read(frame.image).digits])


def test_a_narrow_run_is_cut_only_when_the_net_is_unsure_of_it_whole():
    from digitrec.inference.numbers import choose_pieces

    # two upright 1s joined at the foot: a run half as wide as it is tall
    page = np.full((240, 320), 230, np.uint8)
    cv2.line(page, (150, 60), (150, 180), 30, 8)
    cv2.line(page, (206, 60), (206, 180), 30, 8)
    cv2.line(page, (150, 176), (206, 176), 30, 6)
    [run] = PRE.segment_runs(page)
    assert run.cuts and run.cuts[-1] - run.cuts[0] < 0.75 * run.height

    def net(whole_confidence: float):
        """Reads the runs whole (its first call) as a 1 this surely, every piece as a sure 1."""
        calls = []

        def probabilities(digits: np.ndarray) -> np.ndarray:
            confidence = 0.97 if calls else whole_confidence
            calls.append(len(digits))
            p = np.full((len(digits), 10), (1.0 - confidence) / 9, np.float32)
            p[:, 1] = confidence
            return p

        return probabilities

    assert len(choose_pieces([run], net(0.3))[0]) == 2
    assert len(choose_pieces([run], net(0.8))[0]) == 1


def test_a_wide_runs_first_pieces_go_through_the_net_with_the_runs_whole():
    from digitrec.inference.numbers import choose_pieces

    numbers = SyntheticCamera(
        level="clean", digits_per_frame=4, gap=(-0.15, -0.05), seed=2, max_frames=4
    )
    runs = [run for frame in numbers.frames() for run in PRE.segment_runs(frame.image)]
    assert any(run.width > 1.3 * run.height for run in runs)
    batches = []

    def probabilities(digits: np.ndarray) -> np.ndarray:
        batches.append(len(digits))
        return np.full((len(digits), 10), 0.1, np.float32)  # unsure of everything

    choose_pieces(runs, probabilities)
    assert batches[0] > len(runs)


def test_the_search_keeps_the_pieces_of_the_best_joint_reading():
    """Against every way of cutting each run (all paths over its cuts), scored the same way,
    with a stand-in net whose readings depend on the pixels only."""
    from itertools import combinations, pairwise

    from digitrec.inference.numbers import (
        _MAX_PIECE_WIDTH,
        _NARROW,
        _NARROW_SURE,
        _SURE,
        _SURE_WIDEST,
        _fit,
        choose_pieces,
    )
    from digitrec.preprocess.runs import MIN_PIECE_WIDTH

    def probabilities(digits: np.ndarray) -> np.ndarray:
        rows = []
        for digit in digits:
            rng = np.random.default_rng(int(digit.astype(np.int64).sum() * 7919 + digit[14, 14]))
            logits = rng.normal(0.0, 3.0, 10)
            rows.append(np.exp(logits) / np.exp(logits).sum())
        return np.asarray(rows, np.float32)

    numbers = SyntheticCamera(
        level="clean", digits_per_frame=[3, 4], gap=(-0.15, 0.0), seed=4, max_frames=6
    )
    frames = touching_pairs(8) + list(numbers.frames())
    runs = [run for frame in frames for run in PRE.segment_runs(frame.image) if run.cuts]
    assert len(runs) >= 10 and max(len(run.cuts) for run in runs) >= 6
    for run, chosen in zip(runs, choose_pieces(runs, probabilities), strict=True):
        last, height = len(run.cuts) - 1, run.height
        whole = probabilities(run.whole.image[None])[0]
        if (whole.max() >= _SURE and run.width <= _SURE_WIDEST * height) or (
            whole.max() >= _NARROW_SURE and run.width < _NARROW * height
        ):
            assert len(chosen) == 1  # read whole, never cut
            continue
        best = None
        for inner in (c for n in range(last) for c in combinations(range(1, last), n)):
            stops = (0, *inner, last)
            score, reads = 0.0, []
            for i, j in pairwise(stops):
                width = run.cuts[j] - run.cuts[i]
                if (i, j) == (0, last):
                    read = (run.whole, whole)
                elif MIN_PIECE_WIDTH * height <= width <= _MAX_PIECE_WIDTH * height and (
                    piece := run.piece(i, j)
                ):
                    read = (piece, probabilities(piece.image[None])[0])
                else:
                    break
                score += min(0.0, _fit(read[1], width, height))
                reads.append(read)
            else:
                if best is None or score > best[0] + 1e-9:
                    best = (score, reads)
        assert [c.box for c, _ in chosen] == [c.box for c, _ in best[1]]
