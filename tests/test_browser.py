"""digitrec-serve's page in a real browser: Playwright driving Debian's chromium-headless-shell,
whose fake camera plays an MJPEG file of synthetic photos: the page shows the true digit and a
key press saves the frame into that digit's folder. Keeps a screenshot (``DIGITREC_SCREENSHOT``
names a file to keep it in; else the test's tmp dir).

Without the browser or Playwright these tests skip saying so; under ``CI=true`` that fails.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import cv2
import pytest

from digitrec.camera.synthetic import SyntheticCamera
from digitrec.data.captures import CaptureWriter
from digitrec.inference import Recognizer
from digitrec.serve.app import create_app
from digitrec.serve.background import served_in_thread

BROWSER = "chromium-headless-shell"


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which(BROWSER)
    reason = None
    if path is None:
        reason = f"{BROWSER} is not installed (apt-get install -y {BROWSER})"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "Playwright is not installed (pip install playwright)"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: CI must run the browser tests (see .ci/run)")
        pytest.skip(reason)
    return path


DROP = """async (b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
  const drop = new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true });
  document.getElementById("drop").dispatchEvent(drop);
}"""


def _png(seed: int) -> tuple[bytes, int]:
    """A synthetic photo as PNG bytes, and its digit."""
    frame = next(iter(SyntheticCamera(level="clean", max_frames=1, seed=seed).frames()))
    return cv2.imencode(".png", frame.image)[1].tobytes(), int(frame.labels[0])


def _mjpeg(path: Path, seed: int) -> int:
    """A fake camera's MJPEG file (concatenated JPEG frames) of one synthetic photo; its digit."""
    frame = next(iter(SyntheticCamera(level="clean", max_frames=1, seed=seed).frames()))
    jpeg = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    path.write_bytes(jpeg * 30)
    return int(frame.labels[0])


@pytest.fixture
def served(photo_checkpoint, tmp_path):
    """The app on a free local port in a thread: (url, capture root)."""
    root = tmp_path / "captures"
    app = create_app(Recognizer.load(photo_checkpoint), CaptureWriter(root, session="web-1"))
    with served_in_thread(app) as url:
        yield url, root


def test_the_page_reads_the_webcam_and_a_key_saves_the_frame(chromium, served, tmp_path):
    from playwright.sync_api import sync_playwright

    url, root = served
    digit = _mjpeg(tmp_path / "camera.mjpeg", seed=5)
    screenshot = Path(os.environ.get("DIGITREC_SCREENSHOT", tmp_path / "page.png"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=[
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={tmp_path / 'camera.mjpeg'}",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            page.wait_for_function(
                f"document.getElementById('text').textContent === '{digit}'", timeout=60_000
            )
            assert page.text_content("#connection") == "connected"
            page.keyboard.press(str(digit))
            page.wait_for_function(
                "document.getElementById('last-saved').textContent.includes('/')", timeout=30_000
            )
            saved = page.text_content("#last-saved")
            page.wait_for_timeout(2500)  # a full window of the frame rate shown
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))
            # an image dropped on the page is read as digitrec-predict reads it
            page.evaluate(DROP, base64.b64encode(_png(seed=8)[0]).decode())
            page.wait_for_function(
                "document.getElementById('results').textContent.includes('dropped.png')",
                timeout=30_000,
            )
            dropped = json.loads(page.text_content("#results").splitlines()[-1])
            # Backspace undoes the save: the file goes to trash/
            page.keyboard.press("Backspace")
            page.wait_for_function(
                "document.getElementById('last-saved').textContent.startsWith('moved to')",
                timeout=30_000,
            )
        finally:
            browser.close()
    assert saved.startswith(f"{digit}/web-1_")
    frame = cv2.imread(str(root / "trash" / saved))  # saved, then undone
    assert frame is not None and frame.shape[:2] == (480, 640)  # the camera's full frame
    assert not (root / saved).exists() and screenshot.is_file()
    assert dropped["source"] == "dropped.png" and dropped["text"] == str(_png(seed=8)[1])
