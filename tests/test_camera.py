"""Cameras without a webcam: video files, still photos, the synthetic camera, bad devices."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from conftest import write_video

from digitrec.camera import CameraError, open_camera
from digitrec.camera.devices import ImagesCamera, VideoCamera, WebcamCamera
from digitrec.camera.synthetic import SyntheticCamera, embedded_digits_of_split


def test_video_file_reads_every_frame_then_ends(tmp_path):
    video = write_video(tmp_path / "clip.avi", frames=12)
    with open_camera(
        {"_target_": "digitrec.camera.devices.VideoCamera", "path": str(video)}
    ) as cam:
        frames = list(cam.frames())
        assert cam.settings()["width"] == 160
    assert [f.index for f in frames] == list(range(12))
    assert frames[0].image.shape == (120, 160, 3)


def test_video_loop_restarts(tmp_path):
    video = write_video(tmp_path / "clip.avi", frames=3)
    with VideoCamera(str(video), loop=True) as cam:
        assert all(cam.read() is not None for _ in range(7))


def test_camera_is_released_when_the_block_fails(tmp_path):
    video = write_video(tmp_path / "clip.avi", frames=3)
    with (
        pytest.raises(RuntimeError, match="boom"),
        open_camera({"_target_": "digitrec.camera.devices.VideoCamera", "path": str(video)}) as cam,
    ):
        cam.read()
        raise RuntimeError("boom")
    assert not cam._capture.isOpened()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"_target_": "digitrec.camera.devices.VideoCamera", "path": "/no/such/clip.mp4"},
            r"video '/no/such/clip.mp4': no such file",
        ),
        (
            {"_target_": "digitrec.camera.devices.WebcamCamera", "device": 7},
            r"cannot open webcam 7 \(backend any\)",
        ),
        (
            {"_target_": "digitrec.camera.devices.WebcamCamera", "backend": "nope"},
            r"camera.backend='nope'",
        ),
        (
            {"_target_": "digitrec.camera.devices.ImagesCamera", "path": "/no/photos/*.jpg"},
            r"camera.path: no image files match '/no/photos/\*.jpg'",
        ),
        (
            {"_target_": "digitrec.camera.synthetic.SyntheticCamera", "level": "extreme"},
            r"camera.level",
        ),
        (
            {
                "_target_": "digitrec.camera.synthetic.SyntheticCamera",
                "digits_per_frame": [2, 3, 5],
            },
            r"camera.digits_per_frame must be .*\[min, max\].*got \[2, 3, 5\]",
        ),
    ],
)
def test_open_failures_name_the_device_or_path(config, message):
    with pytest.raises(CameraError, match=message), open_camera(config):
        pass


def test_a_file_that_is_not_a_video_is_a_clear_error(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video")
    with pytest.raises(CameraError, match=r"notes.mp4.*not a video"):
        VideoCamera(str(fake))


def test_images_folder_and_glob_replay_in_name_order(tmp_path):
    for name, value in (("b.png", 50), ("a.jpg", 100), ("c.bmp", 150)):
        cv2.imwrite(str(tmp_path / name), np.full((20, 30), value, np.uint8))
    (tmp_path / "notes.txt").write_text("x")
    with ImagesCamera(str(tmp_path)) as cam:
        frames = list(cam.frames())
    assert [int(f.image.mean()) for f in frames] == [100, 50, 150]
    assert frames[0].image.shape == (20, 30, 3)
    with ImagesCamera(str(tmp_path / "*.png")) as cam:
        assert len(list(cam.frames())) == 1


def test_corrupt_photo_is_a_clear_read_error(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((10, 10), np.uint8))
    (tmp_path / "b.png").write_bytes(b"broken")
    with ImagesCamera(str(tmp_path)) as cam:
        cam.read()
        with pytest.raises(CameraError, match=r"b.png"):
            cam.read()


def test_synthetic_camera_reports_true_labels_and_follows_prompts():
    with SyntheticCamera(level="hard", max_frames=4, seed=3) as cam:
        cam.prompt(6)
        frames = list(cam.frames())
    assert [f.labels for f in frames] == [(6,)] * 4
    assert frames[0].image.shape == (480, 640, 3) and frames[0].image.dtype == np.uint8
    again = SyntheticCamera(level="hard", max_frames=1, seed=3)
    again.prompt(6)
    assert np.array_equal(again.read().image, frames[0].image)


def test_synthetic_numbers_and_held_out_split():
    cam = SyntheticCamera(digits_per_frame=[3, 5], seed=1)
    frame = cam.read()
    assert 3 <= len(frame.labels) <= 5
    test_images, _ = embedded_digits_of_split("test")
    train_images, _ = embedded_digits_of_split("train")
    assert 800 < len(test_images) < 1200 and len(train_images) > 3000
    test_set = {im.tobytes() for im in test_images}
    assert not any(im.tobytes() in test_set for im in train_images[:500])


def test_webcam_class_checks_is_opened(monkeypatch):
    class Closed:
        def __init__(self, *args):
            pass

        def isOpened(self):
            return False

        def release(self):
            pass

    monkeypatch.setattr(cv2, "VideoCapture", Closed)
    with pytest.raises(CameraError, match="cannot open webcam 0"):
        WebcamCamera(0)


def test_a_truncated_video_ends_with_a_warning_naming_it(tmp_path, caplog):
    video = write_video(tmp_path / "clip.avi", frames=30)
    data = video.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    with (
        caplog.at_level("WARNING", logger="digitrec"),
        open_camera({"_target_": "digitrec.camera.devices.VideoCamera", "path": str(cut)}) as cam,
    ):
        frames = list(cam.frames())
    assert 0 < len(frames) < 30
    assert f"ended after {len(frames)} of the 30 frames" in caplog.text and "cut.avi" in caplog.text
    caplog.clear()
    with open_camera(
        {"_target_": "digitrec.camera.devices.VideoCamera", "path": str(video)}
    ) as cam:
        assert len(list(cam.frames())) == 30
    assert "truncated" not in caplog.text


def test_held_out_writers_are_those_the_training_data_holds_out(make_cfg):
    from hydra.utils import instantiate

    from digitrec.data.split import Side

    data = instantiate(make_cfg("data=embedded", "preprocess=none").data, _recursive_=False)
    data.prepare_data()
    data.setup()
    for side, name in ((Side.TEST, "test"), (Side.VAL, "val")):
        images, labels = embedded_digits_of_split(name)
        held_out = data.split(side)
        assert len(labels) == len(held_out) and np.array_equal(
            np.sort(labels), np.sort(held_out.labels.numpy())
        )
        # the very digits: every held-out image of the data module is among the camera's
        assert {img.tobytes() for img in held_out.images.numpy()} == {
            img.tobytes() for img in images
        }


def _numbered_capture(delay: float):
    """A stand-in for cv2.VideoCapture delivering frames 0, 1, 2 ... (the number in every
    pixel's first bytes), one every ``delay`` seconds."""

    class NumberedCapture:
        def __init__(self, *args):
            self.count = 0

        def isOpened(self):
            return True

        def set(self, *args):
            return True

        def get(self, prop):
            return 0.0

        def read(self):
            time.sleep(delay)
            image = np.zeros((48, 64, 3), np.uint8)
            image[0, 0, :2] = divmod(self.count, 256)
            self.count += 1
            return True, image

        def release(self):
            pass

    return NumberedCapture


def _number(frame) -> int:
    high, low = frame.image[0, 0, :2]
    return int(high) * 256 + int(low)


def test_newest_frame_mode_skips_to_now_when_the_reader_is_slow(monkeypatch):
    monkeypatch.setattr(cv2, "VideoCapture", _numbered_capture(delay=0.002))
    with WebcamCamera(0, width=None, height=None, warmup_frames=0, newest_frame=True) as cam:
        numbers = []
        for _ in range(6):
            time.sleep(0.05)  # a reader 25x slower than the camera
            numbers.append(_number(cam.read()))
            newest = cam._capture.count - 1
            assert newest - numbers[-1] <= 10  # the frame of now, not one queued long ago
        assert numbers == sorted(set(numbers)) and numbers[-1] - numbers[1] >= 40
        assert cam.dropped >= 40 and cam.settings()["newest_frame"] is True
    plain = WebcamCamera(0, width=None, height=None, warmup_frames=0)
    assert [_number(plain.read()) for _ in range(4)] == [0, 1, 2, 3]  # every frame in turn
    plain.close()


def test_newest_frame_mode_hands_out_each_frame_once_when_the_reader_is_fast(monkeypatch):
    monkeypatch.setattr(cv2, "VideoCapture", _numbered_capture(delay=0.02))
    with WebcamCamera(0, width=None, height=None, warmup_frames=0, newest_frame=True) as cam:
        numbers = [_number(cam.read()) for _ in range(8)]  # waits for each new frame
    assert numbers == sorted(set(numbers)) and numbers[0] <= 1  # 0: read when opening
    assert numbers[-1] - numbers[0] <= 16  # no frame twice, and few skipped
