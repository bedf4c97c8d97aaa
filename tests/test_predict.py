"""digitrec-predict: files, folders, videos and cameras in; JSON lines and annotated images out."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import run_script

from digitrec.camera.synthetic import SyntheticCamera
from digitrec.inference import Prediction, Recognizer
from digitrec.inference.overlay import draw_predictions
from digitrec.predict import iter_inputs


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """12 rendered photos named <n>_<digit>.jpg in nested folders, and one corrupt file."""
    root = tmp_path_factory.mktemp("photos")
    for i, frame in enumerate(SyntheticCamera(level="medium", max_frames=12, seed=31)):
        folder = root / ("a" if i < 6 else "b")
        folder.mkdir(exist_ok=True)
        cv2.imwrite(str(folder / f"{i:02d}_{frame.labels[0]}.jpg"), frame.image)
    (root / "b" / "99_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return root


def test_predict_a_folder_with_a_corrupt_file(photo_checkpoint, photo_folder, tmp_path):
    done = run_script(
        "predict.py",
        tmp_path,
        f"model_path={photo_checkpoint}",
        f"inputs=[{photo_folder}]",
        "annotate=true",
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "1 input(s) could not be read" in done.stderr
    assert "Traceback" not in done.stderr
    records = json_lines(done.stdout)
    assert len(records) == 13
    (error,) = [r for r in records if "error" in r]
    assert "99_corrupt.png" in error["source"] and "99_corrupt.png" in error["error"]
    read = [r for r in records if "error" not in r]
    right = sum(r["digit"] == int(r["source"].rsplit("_", 1)[1][0]) for r in read)
    assert right >= 11
    for record in read:
        assert 0 <= record["confidence"] <= 1 and len(record["box"]) == 4
        assert record["latency_ms"] > 0
    annotated = sorted((tmp_path / "h" / "annotated").glob("*.png"))
    assert len(annotated) == 12 and cv2.imread(str(annotated[0])).shape == (480, 640, 3)
    # the run dir keeps a copy of the lines
    assert json_lines((tmp_path / "h" / "predictions.jsonl").read_text()) == records


def test_predict_a_video_file_frame_by_frame(photo_checkpoint, tmp_path):
    frames = list(SyntheticCamera(level="clean", max_frames=3, seed=8))
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    for frame in frames:
        for _ in range(4):  # a steady scene: each digit held for 4 frames
            writer.write(frame.image)
    writer.release()
    done = run_script("predict.py", tmp_path, f"model_path={photo_checkpoint}", f"inputs=[{video}]")
    assert done.returncode == 0, done.stderr[-2000:]
    records = json_lines(done.stdout)
    assert [r["frame"] for r in records] == list(range(12))
    # the same readings as the Recognizer gives the decoded frames
    capture = cv2.VideoCapture(str(video))
    decoded = [capture.read()[1] for _ in range(12)]
    capture.release()
    expected = Recognizer.from_checkpoint(photo_checkpoint).predict_batch(decoded)
    assert [r["digit"] for r in records] == [p.digit for p in expected]
    truth = [f.labels[0] for f in frames for _ in range(4)]
    assert sum(r["digit"] == t for r, t in zip(records, truth, strict=True)) >= 8
    # a steady scene: the smoothed reading settles on the frame's reading
    assert [records[i]["smoothed"] for i in (3, 7, 11)] == [records[i]["digit"] for i in (3, 7, 11)]


def test_read_numbers_from_the_synthetic_camera(photo_checkpoint, tmp_path):
    done = run_script(
        "predict.py",
        tmp_path,
        f"model_path={photo_checkpoint}",
        "camera=synthetic",
        "camera.level=clean",
        "camera.digits_per_frame=[2,4]",
        "max_frames=6",
        "read_numbers=true",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    records = json_lines(done.stdout)
    assert len(records) == 6
    for record in records:
        assert len(record["digits"]) == len(record["boxes"]) == len(record["confidences"])
        assert 2 <= len(record["true"]) <= 4
    assert sum(r["text"] == r["true"] for r in records) >= 4


def test_bad_model_or_no_input_is_one_line(photo_checkpoint, tmp_path):
    missing = run_script(
        "predict.py", tmp_path, f"model_path={tmp_path / 'x.ckpt'}", "inputs=a.png"
    )
    assert missing.returncode == 1
    assert "x.ckpt" in missing.stderr and "no such checkpoint file" in missing.stderr
    assert "Traceback" not in missing.stderr
    nothing = run_script("predict.py", tmp_path, f"model_path={photo_checkpoint}")
    assert nothing.returncode == 1 and "nothing to read" in nothing.stderr
    half = run_script(
        "predict.py", tmp_path, f"model_path={photo_checkpoint}", "inputs=a.png", "precision=fp16"
    )
    assert half.returncode == 1 and "Traceback" not in half.stderr
    assert "precision must be one of ['32', 'bf16'], got 'fp16'" in half.stderr


def test_iter_inputs_expands_files_folders_and_globs(photo_folder, tmp_path):
    items = list(
        iter_inputs(
            [
                str(photo_folder / "a"),
                str(photo_folder / "b" / "*.jpg"),
                str(tmp_path / "nope.png"),
                str(tmp_path / "*.gif"),
            ]
        )
    )
    assert [i.source.rsplit("/", 1)[-1] for i in items[:6]] == sorted(
        p.name for p in (photo_folder / "a").iterdir()
    )
    assert len(items) == 6 + 6 + 2
    assert "no such file or folder" in items[-2].error and "no image files match" in items[-1].error


def test_overlay_draws_boxes_and_labels():
    image = np.full((240, 320), 255, np.uint8)
    prediction = Prediction(3, 0.87, np.full(10, 0.1, np.float32), (50, 60, 40, 50))
    view = draw_predictions(image, [prediction], caption="3", fps=30.0)
    assert view.shape == (240, 320, 3)
    assert (view[60, 50:90] != 255).any()  # the box's top edge
    assert (view[100:200, 150:] == 255).all()  # away from the box and the text: untouched
    empty = draw_predictions(np.zeros((100, 100, 4), np.uint8), [])
    assert empty.shape == (100, 100, 3) and empty.any()  # "no digit"


def test_live_window_loop_shows_frames_and_quits_on_q(photo_checkpoint, monkeypatch, tmp_path):
    """The live path with OpenCV's window calls replaced (no display here)."""
    import io

    from digitrec.predict import PredictionWriter, iter_camera, predict_frames

    shown, keys = [], iter([-1, -1, ord("q")])
    monkeypatch.setattr(cv2, "imshow", lambda name, view: shown.append(view))
    monkeypatch.setattr(cv2, "waitKey", lambda delay: next(keys))
    monkeypatch.setattr(cv2, "destroyAllWindows", lambda: None)
    camera = {"_target_": "digitrec.camera.synthetic.SyntheticCamera", "level": "clean"}
    out = io.StringIO()
    writer = PredictionWriter(output=None, annotate_dir=None, stdout=out)
    recognizer = Recognizer.from_checkpoint(photo_checkpoint)
    failures = predict_frames(recognizer, iter_camera(camera), writer, smooth=3, show=True)
    assert failures == 0
    assert len(shown) == 3 and shown[0].shape == (480, 640, 3)  # q on the third frame
    records = json_lines(out.getvalue())
    assert [r["frame"] for r in records] == [0, 1, 2] and all("smoothed" in r for r in records)


def test_a_camera_that_cannot_open_is_one_error_frame(tmp_path):
    from digitrec.predict import iter_camera

    camera = {"_target_": "digitrec.camera.devices.VideoCamera", "path": str(tmp_path / "x.mp4")}
    (frame,) = list(iter_camera(camera))
    assert frame.image is None and "cannot open video" in frame.error and "x.mp4" in frame.error


def test_inputs_from_a_list_file_with_names_hydra_cannot_take(photo_checkpoint, tmp_path):
    frame = next(iter(SyntheticCamera(level="clean", max_frames=1, seed=4)))
    odd = tmp_path / "shots" / "a,b=c.png"  # a comma and an equals sign: Hydra would split it
    odd.parent.mkdir()
    cv2.imwrite(str(odd), frame.image)
    listing = tmp_path / "list.txt"
    listing.write_text("# my photos\nshots/a,b=c.png\n\n")
    done = run_script(
        "predict.py", tmp_path, f"model_path={photo_checkpoint}", f"inputs_from={listing}"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (record,) = json_lines(done.stdout)
    assert record["source"].endswith("a,b=c.png") and record["digit"] == frame.labels[0]
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    none = run_script(
        "predict.py", tmp_path, f"model_path={photo_checkpoint}", f"inputs_from={empty}"
    )
    assert (
        none.returncode == 1 and "inputs_from=" in none.stderr and "lists no inputs" in none.stderr
    )
