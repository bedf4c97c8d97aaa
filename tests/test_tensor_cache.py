"""Tensors cached in a file: built once, checked on load, never left half-written."""

from __future__ import annotations

import pytest
import torch

from digitrec.utils.tensor_cache import images_match_labels, load_or_build_tensors


def test_built_once_then_loaded(tmp_path):
    calls = []

    def build():
        calls.append(1)
        return {"images": torch.zeros(3, 28, 28), "labels": torch.arange(3)}

    first = load_or_build_tensors(tmp_path / "c.pt", build, images_match_labels)
    again = load_or_build_tensors(tmp_path / "c.pt", build, images_match_labels)
    assert len(calls) == 1 and torch.equal(first["labels"], again["labels"])


def test_a_cache_the_check_rejects_is_rebuilt_saying_why(tmp_path, caplog):
    path = tmp_path / "c.pt"
    torch.save({"images": torch.zeros(5, 28, 28), "labels": torch.arange(2)}, path)
    out = load_or_build_tensors(
        path,
        lambda: {"images": torch.ones(2, 28, 28), "labels": torch.arange(2)},
        images_match_labels,
    )
    assert out["images"].sum() > 0
    assert "holds 5 images and 2 labels" in caplog.text and str(path) in caplog.text


def test_a_failed_build_leaves_no_file_behind(tmp_path):
    class Unsaveable:
        def __reduce__(self):
            raise RuntimeError("cannot save")

    with pytest.raises(RuntimeError, match="cannot save"):
        load_or_build_tensors(tmp_path / "c.pt", lambda: {"x": Unsaveable()})
    assert list(tmp_path.iterdir()) == []
