"""scripts/preprocess.py and scripts/split.py on small trees."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import SCRIPTS, run_script, write_tree

from digitrec.data.split import Side, assign_sides
from digitrec.data.tools import preprocess_tree, split_tree

MNIST = {"_target_": "digitrec.preprocess.PhotoPreprocessor"}


def test_preprocess_tree_keeps_names_and_reports_bad_files(tmp_path):
    write_tree(tmp_path / "raw", [(d, f"s_{i}.jpg") for d in (1, 4) for i in range(3)], size=120)
    (tmp_path / "raw" / "4" / "broken.png").write_bytes(b"nope")
    cv2.imwrite(str(tmp_path / "raw" / "1" / "blank.png"), np.full((60, 60), 255, np.uint8))
    report = preprocess_tree(tmp_path / "raw", tmp_path / "out", MNIST)
    assert dict(report.written) == {1: 3, 4: 3}
    assert sorted(p.name for p in (tmp_path / "out" / "1").iterdir()) == [
        "s_0.png",
        "s_1.png",
        "s_2.png",
    ]
    assert cv2.imread(str(tmp_path / "out" / "4" / "s_2.png"), cv2.IMREAD_UNCHANGED).shape == (
        28,
        28,
    )
    reasons = " ".join(report.skipped)
    assert "broken.png" in reasons and "blank.png" in reasons and len(report.skipped) == 2


def test_split_tree_matches_the_datamodule_split(tmp_path):
    names = [(d, f"sess{k}_{i}.png") for d in range(10) for k in range(6) for i in range(3)]
    write_tree(tmp_path / "raw", names, size=28)
    report = split_tree(tmp_path / "raw", tmp_path / "split", test_fraction=0.2, seed=0)
    assert sum(report.written.values()) == len(names)
    relpaths = [f"{d}/{n}" for d, n in names]
    sides = assign_sides(relpaths, [d for d, _ in names], 0.0, 0.2, 0)
    for relpath, side in zip(relpaths, sides, strict=True):
        assert (tmp_path / "split" / Side(side).name.lower() / relpath).is_file()
    assert not (tmp_path / "split" / "val").exists()
    # again: nothing new, nothing overwritten
    again = split_tree(tmp_path / "raw", tmp_path / "split", test_fraction=0.2, seed=0)
    assert sum(again.written.values()) == 0 and again.unchanged == len(names)


def test_split_tree_never_overwrites_a_different_file(tmp_path):
    write_tree(tmp_path / "raw", [(3, "a.png")])
    split_tree(tmp_path / "raw", tmp_path / "split", test_fraction=0.0)
    (tmp_path / "raw" / "3" / "a.png").write_bytes(
        (tmp_path / "raw" / "3" / "a.png").read_bytes() + b"x"
    )
    with pytest.raises(FileExistsError, match=r"a.png.*not overwriting"):
        split_tree(tmp_path / "raw", tmp_path / "split", test_fraction=0.0)


def test_scripts_run_and_report_a_missing_folder(tmp_path):
    write_tree(tmp_path / "raw", [(d, f"s_{i}.png") for d in (2, 7) for i in range(2)], size=80)
    done = run_script("split.py", tmp_path, f"src={tmp_path / 'raw'}", f"dst={tmp_path / 's'}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "split 4 new images" in done.stdout
    missing = run_script(
        "preprocess.py", tmp_path, f"src={tmp_path / 'nowhere'}", f"dst={tmp_path / 'o'}"
    )
    assert missing.returncode == 1
    assert "error: dataset root" in missing.stderr and "nowhere" in missing.stderr


def test_scripts_run_exactly_as_the_readme_shows_them(tmp_path):
    # no hydra.run.dir override: the default run dir's name needs digitrec's resolvers
    write_tree(tmp_path / "raw", [(d, f"s_{i}.png") for d in (2, 7) for i in range(2)], size=80)
    for script, dst in (("preprocess.py", "p"), ("split.py", "s")):
        done = subprocess.run(
            [sys.executable, str(SCRIPTS / script), "src=raw", f"dst={dst}"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "digitrec.uid" not in done.stderr
    assert len(list((tmp_path / "p").glob("*/*.png"))) == 4


def test_preprocess_tree_never_merges_or_overwrites_files(tmp_path):
    write_tree(tmp_path / "raw", [(3, "a.png"), (3, "a.jpg"), (3, "b.png")], size=120)
    report = preprocess_tree(tmp_path / "raw", tmp_path / "out", MNIST)
    names = sorted(p.name for p in (tmp_path / "out" / "3").iterdir())
    assert names == ["a_jpg.png", "a_png.png", "b.png"]  # a.png and a.jpg stay two files
    assert report.written[3] == 3
    # again: the same pixels are left as they are, nothing is counted as written
    again = preprocess_tree(tmp_path / "raw", tmp_path / "out", MNIST)
    assert sum(again.written.values()) == 0 and again.unchanged == 3
    # a different image already at a target is never replaced
    other = np.zeros((28, 28), np.uint8)
    cv2.imwrite(str(tmp_path / "out" / "3" / "b.png"), other)
    with pytest.raises(FileExistsError, match=r"b\.png' exists and holds another image"):
        preprocess_tree(tmp_path / "raw", tmp_path / "out", MNIST)
    assert not cv2.imread(str(tmp_path / "out" / "3" / "b.png"), cv2.IMREAD_UNCHANGED).any()
