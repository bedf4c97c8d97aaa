"""Capture: counts per digit, resumed numbering, no overwrites, manifest, atomic files, errors."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import write_video

from digitrec.camera import CameraError, Frame
from digitrec.camera.devices import VideoCamera, WebcamCamera
from digitrec.camera.synthetic import SyntheticCamera
from digitrec.capture import (
    CaptureError,
    CaptureWriter,
    capture_guided,
    draw_preview,
    key_action,
    run_capture,
)
from digitrec.config import compose_config
from digitrec.preprocess import PhotoPreprocessor


def files(root):
    return sorted(
        p.relative_to(root).as_posix() for p in root.glob("*/*") if not p.name.startswith(".")
    )


def manifest(root):
    return [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]


def test_guided_capture_from_a_video_file(tmp_path):
    video = write_video(tmp_path / "clip.avi", frames=30)
    root = tmp_path / "captures"
    with VideoCamera(str(video)) as cam:
        writer = CaptureWriter(root, session="s1", camera_settings=cam.settings())
        counts = capture_guided(cam, writer, digits=[2, 5, 8], samples=4)
    assert counts == {2: 4, 5: 4, 8: 4}
    assert files(root)[:4] == ["2/s1_0001.png", "2/s1_0002.png", "2/s1_0003.png", "2/s1_0004.png"]
    records = manifest(root)
    assert [r["path"] for r in records] == files(root)
    assert {r["session"] for r in records} == {"s1"}
    assert records[0]["camera"]["camera"].startswith("video ") and records[0]["digit"] == 2
    assert cv2.imread(str(root / "2" / "s1_0001.png")).shape == (120, 160, 3)


def test_second_session_resumes_numbering_and_overwrites_nothing(tmp_path):
    root = tmp_path / "captures"
    with SyntheticCamera(seed=0) as cam:
        capture_guided(cam, CaptureWriter(root, session="first"), digits=[3], samples=3)
    before = {p: (root / p).read_bytes() for p in files(root)}
    with SyntheticCamera(seed=1) as cam:
        capture_guided(cam, CaptureWriter(root, session="second"), digits=[3, 4], samples=2)
    after = files(root)
    assert after == [
        "3/first_0001.png",
        "3/first_0002.png",
        "3/first_0003.png",
        "3/second_0004.png",
        "3/second_0005.png",
        "4/second_0001.png",
        "4/second_0002.png",
    ]
    assert all((root / p).read_bytes() == data for p, data in before.items())
    assert [r["path"] for r in manifest(root)] == after


def test_an_existing_file_is_never_replaced(tmp_path):
    image = np.zeros((8, 8, 3), np.uint8)
    # two writers of one session (two capture processes): each one's count goes stale
    writer, other = CaptureWriter(tmp_path, session="s"), CaptureWriter(tmp_path, session="s")
    first = writer.save(image, 1)  # s_0001; this writer counts on from 2
    taken = other.save(image + 255, 1)  # the other finds 2 free
    again = writer.save(image + 7, 1)  # 2 is taken meanwhile: this one moves on to 3
    assert [p.name for p in (first, taken, again)] == ["s_0001.png", "s_0002.png", "s_0003.png"]
    assert cv2.imread(str(taken)).min() == 255  # never replaced
    assert cv2.imread(str(first)).max() == 0


def test_interrupted_save_leaves_no_partial_file(tmp_path, monkeypatch):
    writer = CaptureWriter(tmp_path, session="s")
    writer.save(np.zeros((8, 8, 3), np.uint8), 5)

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "link", interrupted)
    with pytest.raises(KeyboardInterrupt):
        writer.save(np.zeros((8, 8, 3), np.uint8), 5)
    assert sorted(p.name for p in (tmp_path / "5").iterdir()) == ["s_0001.png"]
    assert len(manifest(tmp_path)) == 1


def test_source_running_dry_keeps_saved_frames(tmp_path):
    video = write_video(tmp_path / "clip.avi", frames=5)
    root = tmp_path / "captures"
    with (
        VideoCamera(str(video)) as cam,
        pytest.raises(CaptureError, match=r"ran out of frames after 5"),
    ):
        capture_guided(cam, CaptureWriter(root, session="s"), digits=[1, 2], samples=3)
    assert len(files(root)) == 5 and len(manifest(root)) == 5


def test_prompt_between_digits_can_stop(tmp_path):
    answers = iter(["", "q"])
    with SyntheticCamera() as cam:
        counts = capture_guided(
            cam, CaptureWriter(tmp_path, session="s"), [0, 1], 2, ask=lambda _: next(answers)
        )
    assert counts == {0: 2}


def test_bad_settings_are_clear_errors(tmp_path):
    with pytest.raises(CaptureError, match=r"session='a_b'"):
        CaptureWriter(tmp_path, session="a_b")
    with pytest.raises(CaptureError, match=r"image_format='xyz'"):
        CaptureWriter(tmp_path, image_format="xyz")
    with pytest.raises(CaptureError, match=r"digit must be 0-9"):
        CaptureWriter(tmp_path).save(np.zeros((4, 4, 3), np.uint8), 12)


def test_run_capture_from_the_config(data_dir, tmp_path):
    cfg = compose_config(
        "capture",
        [
            "camera=synthetic",
            f"root={tmp_path / 'c'}",
            "mode=guided",
            "samples=2",
            "digits=[7,9]",
            "interval=0",
            "countdown=0",
            "image_format=jpg",
            f"paths.data_dir={data_dir}",
        ],
    )
    writer = run_capture(cfg, ask=None)
    assert writer.counts == {7: 2, 9: 2}
    assert all(p.endswith(".jpg") for p in files(tmp_path / "c"))


def test_capture_command_reports_a_missing_device_in_one_line(tmp_path):
    command = [
        sys.executable,
        "-m",
        "digitrec.capture",
        "camera=webcam",
        "camera.device=7",
        f"root={tmp_path}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert "error: cannot open webcam 7" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_a_root_that_cannot_hold_captures_fails_before_the_camera_opens(tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    command = [
        sys.executable,
        "-m",
        "digitrec.capture",
        "camera=webcam",
        "camera.device=7",  # would fail with another message if it were opened
        f"root={tmp_path / 'a_file' / 'captures'}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert "cannot hold captures" in result.stderr and "a_file' is a file" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert (tmp_path / "a_file").read_text() == "not a folder"


def test_live_view_helpers():
    assert key_action(ord("3")) == 3 and key_action(ord("q")) == "quit" and key_action(27) == "quit"
    assert key_action(-1) is None and key_action(ord("x")) is None
    frame = SyntheticCamera(seed=2).read()
    crop = PhotoPreprocessor().extract(frame.image)
    view = draw_preview(Frame(frame.image, 0), crop, {3: 2})
    assert view.shape == frame.image.shape and not np.array_equal(view, frame.image)
    assert draw_preview(Frame(np.full((100, 100, 3), 255, np.uint8), 0), None, {}).shape == (
        100,
        100,
        3,
    )


def test_webcam_warmup_and_size_warning(monkeypatch, caplog):
    reads = []

    class FakeCapture:
        def __init__(self, *args):
            pass

        def isOpened(self):
            return True

        def set(self, *args):
            return True

        def get(self, prop):
            return 320.0

        def read(self):
            reads.append(1)
            return True, np.zeros((240, 320, 3), np.uint8)

        def release(self):
            pass

    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    caplog.set_level(logging.WARNING, logger="digitrec")
    cam = WebcamCamera(0, width=640, height=480, warmup_frames=4)
    assert len(reads) == 5  # 4 discarded, 1 checked and kept
    assert "delivers 320x240 frames, not the requested 640x480" in caplog.text
    assert cam.read().index == 0 and len(reads) == 5

    def failing(self):
        return False, None

    monkeypatch.setattr(FakeCapture, "read", failing)
    with pytest.raises(CameraError, match="reading a frame from webcam 0 failed"):
        cam.read()


@pytest.mark.parametrize(
    ("mode", "message"),
    [("interactive", r"mode=interactive needs a display"), ("sometimes", r"mode='sometimes'")],
)
def test_modes_that_cannot_run_here_are_clear_errors(tmp_path, monkeypatch, mode, message):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    cfg = compose_config("capture", ["camera=synthetic", f"root={tmp_path}", f"mode={mode}"])
    with pytest.raises(CaptureError, match=message):
        run_capture(cfg)
    assert not any(tmp_path.glob("*/*.png"))
