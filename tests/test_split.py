"""The deterministic, stable, stratified and session-aware split."""

from __future__ import annotations

import numpy as np
import pytest

from digitrec.data.split import Side, assign_sides, session_of


def dataset(per_digit=300, sessions_per_digit=None, prefix=""):
    relpaths, labels = [], []
    for d in range(10):
        for i in range(per_digit):
            if sessions_per_digit:
                name = f"{prefix}sess{i % sessions_per_digit}_{i}.png"
            else:
                name = f"{prefix}{d}{i:05d}.png"
            relpaths.append(f"{d}/{name}")
            labels.append(d)
    return relpaths, labels


def test_session_is_read_from_the_file_name():
    assert session_of("3/2026-11-24_ab12cd_0007.png") == "2026-11-24_ab12cd"
    assert session_of("3/webcam_12.jpg") == "webcam"
    assert session_of("3/0042.png") == "0042"
    assert session_of("3/photo_final.png") == "photo_final"


def test_same_seed_same_split_other_seed_other_split():
    relpaths, labels = dataset()
    a = assign_sides(relpaths, labels, 0.1, 0.2, seed=0)
    assert np.array_equal(a, assign_sides(list(relpaths), list(labels), 0.1, 0.2, seed=0))
    assert not np.array_equal(a, assign_sides(relpaths, labels, 0.1, 0.2, seed=1))


def test_split_does_not_depend_on_listing_order():
    relpaths, labels = dataset()
    order = np.random.default_rng(0).permutation(len(relpaths))
    shuffled = assign_sides([relpaths[i] for i in order], [labels[i] for i in order], 0.1, 0.2, 0)
    assert np.array_equal(shuffled, assign_sides(relpaths, labels, 0.1, 0.2, 0)[order])


def test_adding_images_moves_no_existing_image():
    relpaths, labels = dataset(per_digit=200)
    before = dict(zip(relpaths, assign_sides(relpaths, labels, 0.1, 0.2, 0), strict=True))
    more_paths, more_labels = dataset(per_digit=150, prefix="new")
    all_paths, all_labels = relpaths + more_paths, labels + more_labels
    after = dict(zip(all_paths, assign_sides(all_paths, all_labels, 0.1, 0.2, 0), strict=True))
    assert all(after[p] == side for p, side in before.items())


def test_no_session_on_both_sides():
    relpaths, labels = dataset(per_digit=120, sessions_per_digit=12)
    sides = assign_sides(relpaths, labels, 0.1, 0.2, 0)
    by_group: dict[tuple[int, str], set[int]] = {}
    for path, label, side in zip(relpaths, labels, sides, strict=True):
        by_group.setdefault((label, session_of(path)), set()).add(int(side))
    assert all(len(s) == 1 for s in by_group.values())
    # a session lands on the same side for every digit it covers
    by_session: dict[str, set[int]] = {}
    for path, side in zip(relpaths, sides, strict=True):
        by_session.setdefault(session_of(path), set()).add(int(side))
    assert sum(len(s) == 1 for s in by_session.values()) >= len(by_session) - 2


@pytest.mark.parametrize(("val", "test"), [(0.1, 0.2), (0.0, 0.2), (0.15, 0.15)])
def test_every_digit_gets_its_fractions(val, test):
    relpaths, labels = dataset(per_digit=500)
    sides = assign_sides(relpaths, labels, val, test, seed=3)
    labels = np.array(labels)
    for d in range(10):
        mine = sides[labels == d]
        assert abs(np.mean(mine == Side.TEST) - test) < 0.05
        assert abs(np.mean(mine == Side.VAL) - val) < 0.05


def test_small_digit_still_gets_a_test_group():
    relpaths = [f"4/s{k}_{i}.png" for k in range(3) for i in range(5)]
    sides = assign_sides(relpaths, [4] * len(relpaths), 0.0, 0.2, seed=0)
    assert (sides == Side.TEST).any() and (sides == Side.TRAIN).any()


def test_bad_fractions_are_rejected():
    with pytest.raises(ValueError, match=r"val_fraction.*test_fraction"):
        assign_sides(["1/a.png"], [1], 0.5, 0.6)


def test_one_capture_session_is_split_by_frame_with_one_warning(caplog_digitrec):
    relpaths = [f"{d}/s1_{i}.png" for d in range(10) for i in range(5)]
    labels = [d for d in range(10) for _ in range(5)]
    sides = assign_sides(relpaths, labels, 0.1, 0.2, seed=0)
    for d in range(10):
        mine = sides[np.asarray(labels) == d]
        assert {Side.TRAIN, Side.VAL, Side.TEST} <= set(mine.tolist()), d
    warnings = [r.getMessage() for r in caplog_digitrec.records]
    assert len(warnings) == 1 and "0, 1, 2, 3, 4, 5, 6, 7, 8, 9" in warnings[0]
    assert "split one by one" in warnings[0]
    # enough sessions: whole sessions stay on one side, no warning
    caplog_digitrec.clear()
    many = [f"{d}/s{k}_{i}.png" for d in range(3) for k in range(6) for i in range(2)]
    assign_sides(many, [int(p[0]) for p in many], 0.1, 0.2, seed=0)
    assert not caplog_digitrec.records


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"val_fraction": "abc"}, r"data\.val_fraction must be a number in \[0, 1\), got 'abc'"),
        ({"val_fraction": 1.5}, r"data\.val_fraction must be a number in \[0, 1\), got 1\.5"),
        ({"test_fraction": -0.1}, r"data\.test_fraction must be a number in \[0, 1\), got -0\.1"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, r"must be below 1"),
        ({"val_fraction": 0, "test_fraction": 0}, r"both 0: nothing is held out"),
    ],
)
def test_bad_fractions_fail_when_the_data_is_configured(options, message):
    from digitrec.data.datamodule import FolderDataModule

    with pytest.raises(ValueError, match=message):
        FolderDataModule(
            root="d", preprocess={"_target_": "digitrec.preprocess.PhotoPreprocessor"}, **options
        )


def test_frame_names_are_written_and_read_back_by_one_rule():
    from digitrec.data.names import frame_name, frame_number

    name = frame_name("20261127-120000-ab", 12, ".png")
    assert name == "20261127-120000-ab_0012.png"
    assert frame_number(name) == 12 and session_of(f"3/{name}") == "20261127-120000-ab"
    assert frame_number("scan.jpg") is None and session_of("3/scan.jpg") == "scan"


def test_every_digit_keeps_a_training_image():
    # one image per digit: whatever side its name hashes to, it trains
    relpaths = [f"{d}/only.png" for d in range(10)]
    for seed in range(5):
        sides = assign_sides(relpaths, list(range(10)), 0.3, 0.6, seed=seed)
        assert (sides == Side.TRAIN).all(), seed
