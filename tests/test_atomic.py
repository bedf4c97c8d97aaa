"""Files written whole or not at all."""

from __future__ import annotations

import os

import pytest

from digitrec.utils.atomic import atomic_path


def test_the_file_appears_whole_and_nothing_is_left_beside_it(tmp_path):
    target = tmp_path / "model.onnx"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_bytes(b"complete")
        assert not target.exists()  # not before the block ends
    assert target.read_bytes() == b"complete"
    assert os.listdir(tmp_path) == ["model.onnx"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    target = tmp_path / "cache.pt"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["cache.pt"]


def test_a_leftover_of_a_killed_run_is_no_obstacle(tmp_path):
    source = tmp_path / "a.png"
    source.write_bytes(b"png")
    target = tmp_path / "out" / "a.png"
    target.parent.mkdir()
    (target.parent / ".a.png.tmp").write_bytes(b"stale")  # the old fixed temporary name
    with atomic_path(target) as tmp:
        os.link(source, tmp)  # a hard link fails if its name exists
    assert target.read_bytes() == b"png"
