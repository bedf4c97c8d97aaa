"""Every command reports a user's mistake as one line on stderr and exits 1; bugs keep their
traceback."""

from __future__ import annotations

import pytest

from digitrec.utils.cli import user_errors


def test_a_users_error_is_one_line_printed_as_it_is(capsys, monkeypatch):
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as done, user_errors():
        raise ValueError("data.photo_levels must be from [clean, medium, hard], got 'x'")
    assert done.value.code == 1
    err = capsys.readouterr().err
    # brackets are the message's, not markup
    assert err == "error: data.photo_levels must be from [clean, medium, hard], got 'x'\n"


def test_more_error_types_and_full_error(monkeypatch):
    class DeviceGone(RuntimeError):
        pass

    with pytest.raises(SystemExit), user_errors(DeviceGone):
        raise DeviceGone("cannot open webcam 0")
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(FileNotFoundError), user_errors():
        raise FileNotFoundError("no such file")


def test_a_value_a_config_class_rejects_is_one_line_too(capsys, monkeypatch):
    from hydra.utils import instantiate

    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    node = {"_target_": "digitrec.data.datamodule.FolderDataModule", "root": "d", "preprocess": {}}
    with pytest.raises(SystemExit), user_errors():
        instantiate({**node, "val_fraction": 1.5}, _recursive_=False)
    assert capsys.readouterr().err.startswith("error: data.val_fraction must be a number in")


def test_a_sweep_job_and_a_bug_raise(monkeypatch):
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(ValueError), user_errors(raise_if=lambda: True):
        raise ValueError("bad value in one sweep job")
    with pytest.raises(ZeroDivisionError), user_errors():
        raise ZeroDivisionError  # not the user's mistake: the traceback stays
