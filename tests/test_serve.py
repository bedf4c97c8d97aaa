"""digitrec-serve's API and WebSocket through FastAPI's test client: reading, capture, undo,
every bad input (a JSON 4xx, nothing saved touched) and the token when bound elsewhere."""

from __future__ import annotations

import asyncio
import json
import struct

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from digitrec.camera.synthetic import SyntheticCamera
from digitrec.data.captures import CaptureWriter
from digitrec.inference import Recognizer
from digitrec.serve.app import create_app
from digitrec.serve.frames import LatestFrame


@pytest.fixture(scope="module")
def recognizer(photo_checkpoint) -> Recognizer:
    return Recognizer.load(photo_checkpoint)


@pytest.fixture(scope="module")
def frames():
    return list(SyntheticCamera(level="clean", max_frames=6, seed=4).frames())


def _png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def _client(recognizer, root, **options) -> TestClient:
    writer = CaptureWriter(root, session="test-1")
    return TestClient(create_app(recognizer, writer, **options))


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_status_and_the_page(recognizer, tmp_path):
    client = _client(recognizer, tmp_path, page={"frame_width": 480})
    status = client.get("/api/status").json()
    assert status["preprocess"] == "PhotoPreprocessor" and status["session"] == "test-1"
    assert (
        status["counts"] == {str(d): 0 for d in range(10)} and status["page"]["frame_width"] == 480
    )
    page = client.get("/")
    assert page.status_code == 200 and "static/app.js" in page.text
    assert "WebSocket" in client.get("/static/app.js").text


def test_predict_gives_digitrec_predicts_record(recognizer, tmp_path, frames):
    client = _client(recognizer, tmp_path)
    frame = frames[0]
    # the client's file name is shown, never used as a path
    answer = client.post("/api/predict", files={"image": ("../../etc/7.png", _png(frame.image))})
    assert answer.status_code == 200
    record = answer.json()
    assert record["source"] == "7.png" and record["text"] == str(frame.labels[0])
    assert record["digits"] == [frame.labels[0]] and len(record["boxes"]) == 1


def test_capture_saves_atomically_numbers_on_and_undo_moves_to_trash(recognizer, tmp_path, frames):
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "test-1_0001.png").write_bytes(b"an earlier capture")
    client = _client(recognizer, tmp_path)
    saved = client.post(
        "/api/capture", files={"image": ("f.png", _png(frames[0].image))}, data={"digit": "3"}
    ).json()
    assert saved["path"] == "3/test-1_0002.png" and saved["counts"]["3"] == 2
    assert saved["crop"].startswith("data:image/png;base64,")
    assert (tmp_path / "3" / "test-1_0001.png").read_bytes() == b"an earlier capture"
    written = cv2.imread(str(tmp_path / "3" / "test-1_0002.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(written, frames[0].image)
    lines = (tmp_path / "manifest.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["path"] == "3/test-1_0002.png"
    assert not any(p.name.endswith(".tmp.png") for p in tmp_path.rglob("*"))
    undone = client.post("/api/undo").json()
    assert undone["moved_to"] == "trash/3/test-1_0002.png" and undone["counts"]["3"] == 1
    assert (tmp_path / "trash" / "3" / "test-1_0002.png").is_file()
    assert json.loads((tmp_path / "manifest.jsonl").read_text().splitlines()[-1])["undo"]
    nothing = client.post("/api/undo")
    assert nothing.status_code == 409 and "nothing to undo" in nothing.json()["error"]


@pytest.mark.parametrize(
    ("files", "data", "status", "message"),
    [
        ({"image": ("big.png", "too big")}, {"digit": "1"}, 413, "over the"),
        (
            {"image": ("notes.txt", b"not an image at all")},
            {"digit": "1"},
            415,
            "'notes.txt' is not an image",
        ),
        ({"image": ("f.png", None)}, {"digit": "x"}, 422, "digit must be 0-9, got 'x'"),
        ({"image": ("f.png", None)}, {"digit": "12"}, 422, "digit must be 0-9, got '12'"),
        ({"image": ("f.png", None)}, {}, 422, "digit"),
    ],
)
def test_bad_captures_are_json_errors_and_touch_nothing(
    recognizer, tmp_path, frames, files, data, status, message
):
    kept = _png(frames[1].image)
    limit = len(kept) + 1000
    client = _client(recognizer, tmp_path, max_upload_bytes=limit)
    assert client.post(
        "/api/capture", files={"image": ("f.png", kept)}, data={"digit": "5"}
    ).is_success
    before = {p: (tmp_path / p).read_bytes() for p in _files(tmp_path)}
    name, content = files["image"]
    if content is None:
        content = _png(frames[2].image)
    elif content == "too big":
        content = b"x" * (limit + 1)
    files = {"image": (name, content)}
    answer = client.post("/api/capture", files=files, data=data)
    assert answer.status_code == status and message in answer.json()["error"]
    assert {p: (tmp_path / p).read_bytes() for p in _files(tmp_path)} == before
    assert client.get("/api/status").status_code == 200  # still serving


def test_a_bad_file_to_read_is_a_json_error(recognizer, tmp_path):
    client = _client(recognizer, tmp_path)
    answer = client.post("/api/predict", files={"image": ("a.jpg", b"\xff\xd8 truncated")})
    assert answer.status_code == 415 and "'a.jpg' is not an image" in answer.json()["error"]


def test_a_token_is_required_when_bound_elsewhere(recognizer, tmp_path):
    client = _client(recognizer, tmp_path, token="s3cret")
    refused = client.get("/api/status")
    assert refused.status_code == 401 and "token" in refused.json()["error"]
    assert client.get("/api/status", headers={"X-Digitrec-Token": "wrong"}).status_code == 401
    assert client.get("/?token=s3cret").status_code == 200  # sets the page's cookie
    assert client.get("/api/status").status_code == 200  # the cookie carries it
    bare = TestClient(create_app(recognizer, CaptureWriter(tmp_path), token="s3cret"))
    with pytest.raises(WebSocketDisconnect), bare.websocket_connect("/ws") as socket:
        socket.receive_json()


def test_the_socket_reads_the_newest_frame(recognizer, tmp_path, frames):
    client = _client(recognizer, tmp_path)
    with client.websocket_connect("/ws") as socket:
        for frame_id, frame in enumerate(frames[:3], start=1):
            jpeg = cv2.imencode(".jpg", frame.image)[1].tobytes()
            socket.send_bytes(struct.pack(">I", frame_id) + jpeg)
            reply = socket.receive_json()
            assert reply["id"] == frame_id and reply["text"] == str(frame.labels[0])
            assert (reply["width"], reply["height"]) == (640, 480)
            assert reply["digits"][0]["box"] is not None
        socket.send_bytes(struct.pack(">I", 9) + b"garbage")
        assert socket.receive_json() == {"id": 9, "error": "not a JPEG frame"}


def test_latest_frame_drops_what_was_not_taken():
    async def scenario():
        mailbox = LatestFrame()
        for n in range(3):
            mailbox.put(n)
        assert await mailbox.take() == 2 and mailbox.dropped == 2
        mailbox.put(3)
        assert await mailbox.take() == 3 and mailbox.dropped == 2

    asyncio.run(scenario())


def test_the_command_needs_a_token_only_off_this_machine(photo_checkpoint, tmp_path):
    from digitrec.config import compose_config
    from digitrec.serve.cli import build

    def cfg(*overrides):
        return compose_config(
            "serve", [f"model_path={photo_checkpoint}", f"capture_root={tmp_path}", *overrides]
        )

    assert build(cfg())[1] is None
    _, token = build(cfg("host=0.0.0.0"))
    assert token and len(token) >= 24


def test_a_bad_model_path_is_one_line(tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "digitrec.serve.cli",
            f"model_path={tmp_path / 'nope.ckpt'}",
            f"capture_root={tmp_path / 'c'}",
            f"hydra.run.dir={tmp_path / 'h'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "nope.ckpt" in errors[0], done.stderr


def test_a_page_that_leaves_mid_stream_costs_nothing(recognizer, tmp_path, frames):
    client = _client(recognizer, tmp_path)
    jpeg = cv2.imencode(".jpg", frames[0].image)[1].tobytes()
    with client.websocket_connect("/ws") as socket:
        for frame_id in range(1, 6):  # frames sent, never waited for
            socket.send_bytes(struct.pack(">I", frame_id) + jpeg)
    # the server serves on: a new page reads at once
    assert client.get("/api/status").status_code == 200
    with client.websocket_connect("/ws") as socket:
        socket.send_bytes(struct.pack(">I", 1) + jpeg)
        assert socket.receive_json()["text"] == str(frames[0].labels[0])
