"""The embedded default dataset: 5,000 real MNIST digits written once into the folder layout."""

from __future__ import annotations

import numpy as np
import pytest

from digitrec.data import scan_digit_folder
from digitrec.data.embedded import load_embedded_digits, write_embedded_digits
from digitrec.data.images import read_image


def test_embedded_digits_are_real_mnist():
    images, labels = load_embedded_digits()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    # white ink on black, like MNIST: the border is dark, the centre has ink
    assert images[:, :2, :].mean() < 5 and images[:, 10:18, 10:18].mean() > 60


def test_written_once_in_the_folder_layout(data_dir):
    root = data_dir / "embedded_mnist"
    index = scan_digit_folder(root)
    assert len(index) == 5000
    assert np.bincount(index.labels).tolist() == [500] * 10
    images, _ = load_embedded_digits()
    first = index.relpaths[0]
    assert np.array_equal(read_image(root / first), images[int(first.split("/")[1][:4])])
    assert write_embedded_digits(root) is False  # already there: nothing rewritten


def test_refuses_a_non_empty_foreign_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"not empty.*data.root"):
        write_embedded_digits(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_partly_deleted_folder_gets_the_missing_digits_back(tmp_path, caplog_digitrec):
    root = tmp_path / "embedded"
    assert write_embedded_digits(root) is True
    gone = [*sorted((root / "7").glob("*.png"))[:3], next((root / "0").glob("*.png"))]
    kept = {p: p.stat().st_mtime_ns for p in sorted((root / "3").glob("*.png"))[:5]}
    for path in gone:
        path.unlink()
    assert write_embedded_digits(root) is True
    assert all(path.is_file() for path in gone)
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())  # the rest left alone
    assert "lacked 4 of the embedded digits" in caplog_digitrec.text
    assert len(scan_digit_folder(root)) == 5000
