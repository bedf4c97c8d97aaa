"""digitrec-serve's page in a real browser: Playwright driving Debian's chromium-headless-shell,
whose fake camera plays an MJPEG file of synthetic photos: the page shows the true digit and a
key press saves the frame into that digit's folder. Keeps a screenshot (``DIGITREC_SCREENSHOT``
names a file to keep it in; else the test's tmp dir).

Without the browser or Playwright these tests skip saying so; under ``CI=true`` that fails.
"""

from __future__ import annotations

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
        finally:
            browser.close()
    assert saved.startswith(f"{digit}/web-1_")
    frame = cv2.imread(str(root / saved))
    assert frame is not None and frame.shape[:2] == (480, 640)  # the camera's full frame
    assert screenshot.is_file()
