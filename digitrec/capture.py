"""Capture labelled webcam frames: ``digitrec-capture`` / ``python scripts/capture.py``.

Frames are saved raw (what the camera saw) as ``<root>/<digit>/<session>_<n>.png``: the session
id is new for every run, numbers continue after the files already there, nothing is ever
overwritten, and each file appears atomically (written aside, then linked into place), so an
interrupted capture leaves no truncated image. ``<root>/manifest.jsonl`` gets one line per frame.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable

import cv2
import hydra
import numpy as np
from omegaconf import DictConfig
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from digitrec.camera import Camera, CameraError, Frame, open_camera
from digitrec.config import config_dir, register_resolvers
from digitrec.data.captures import CaptureError, CaptureWriter, ensure_writable_root
from digitrec.preprocess import DigitFinder, build_preprocessor
from digitrec.utils.cli import user_errors
from digitrec.utils.display import has_display
from digitrec.utils.threads import for_frame_loops

log = logging.getLogger(__name__)
register_resolvers()

WINDOW = "digitrec capture"


def capture_guided(
    camera: Camera,
    writer: CaptureWriter,
    digits: Iterable[int],
    samples: int,
    interval: float = 0.0,
    countdown: int = 0,
    ask: Callable[[str], str] | None = None,
    console: Console | None = None,
) -> dict[int, int]:
    """For each digit, save ``samples`` frames, ``interval`` seconds apart, after an optional
    ``countdown``. ``ask`` (e.g. ``input``) is called between digits when interactive; an answer
    of ``q`` stops. Returns the frames saved per digit."""
    console = console or Console(stderr=True)
    digits = [int(d) for d in digits]
    with Progress(console=console, transient=False) as progress:
        task = progress.add_task("capturing", total=len(digits) * samples)
        for digit in digits:
            if ask is not None:
                progress.stop()
                answer = ask(f"Show the digit {digit} to the camera and press Enter (q to stop): ")
                progress.start()
                if answer.strip().lower() == "q":
                    break
            camera.prompt(digit)
            for remaining in range(countdown, 0, -1):
                progress.update(task, description=f"digit {digit} in {remaining}")
                time.sleep(1)
            progress.update(task, description=f"digit {digit}")
            for _ in range(samples):
                frame = camera.read()
                if frame is None:
                    raise CaptureError(
                        f"{camera.name} ran out of frames after {sum(writer.counts.values())} "
                        "were saved (they are kept)"
                    )
                writer.save(frame.image, digit)
                progress.advance(task)
                if interval > 0:
                    time.sleep(interval)
    return dict(writer.counts)


def draw_preview(frame: Frame, crop, counts: dict[int, int], zoom: int = 4) -> np.ndarray:
    """The live view: the frame, the digit's box, its 28x28 preprocessed view and the counts."""
    view = frame.image.copy()
    if crop is not None:
        x, y, w, h = crop.box
        cv2.rectangle(view, (x, y), (x + w, y + h), (0, 200, 0), 2)
        small = cv2.resize(crop.image, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
        size = small.shape[0]
        if size + 10 <= min(view.shape[:2]):
            view[10 : 10 + size, -10 - size : -10] = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
    else:
        cv2.putText(view, "no digit", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 255), 2)
    text = "  ".join(f"{d}:{counts.get(d, 0)}" for d in range(10))
    cv2.putText(
        view, text, (10, view.shape[0] - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1
    )
    cv2.putText(
        view,
        "0-9: save as that digit   q: quit",
        (10, view.shape[0] - 32),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.5,
        (255, 255, 0),
        1,
    )
    return view


def key_action(key: int) -> int | str | None:
    """What a key press means in the live view: a digit to save, ``"quit"``, or None."""
    if key < 0:
        return None
    char = chr(key & 0xFF)
    if char.isdigit():
        return int(char)
    if char in ("q", "Q", "\x1b"):
        return "quit"
    return None


def capture_interactive(camera: Camera, writer: CaptureWriter, preprocess) -> dict[int, int]:
    """Live preview; keys 0-9 save the current frame under that digit, q quits."""
    try:
        while (frame := camera.read()) is not None:
            crop = preprocess.extract(frame.image) if isinstance(preprocess, DigitFinder) else None
            cv2.imshow(WINDOW, draw_preview(frame, crop, writer.counts))
            action = key_action(cv2.waitKey(1))
            if action == "quit":
                break
            if isinstance(action, int):
                writer.save(frame.image, action)
    finally:
        cv2.destroyAllWindows()
    return dict(writer.counts)


def run_capture(cfg: DictConfig, ask: Callable[[str], str] | None = None) -> CaptureWriter:
    """Open the camera once and capture as ``cfg`` says; returns the writer (counts, session).
    The root is checked before the camera opens: a bad root loses no frame."""
    ensure_writable_root(cfg.root)
    mode = cfg.mode
    if mode == "auto":
        mode = "interactive" if has_display() else "guided"
    if mode not in ("interactive", "guided"):
        raise CaptureError(f"mode={cfg.mode!r}: use auto, interactive or guided")
    with open_camera(cfg.camera) as camera:
        writer = CaptureWriter(cfg.root, cfg.get("session"), cfg.image_format, camera.settings())
        try:
            if mode == "interactive":
                if not has_display():
                    raise CaptureError(
                        "mode=interactive needs a display and opencv-python (not -headless)"
                    )
                capture_interactive(camera, writer, build_preprocessor(cfg.preprocess))
            else:
                prompt = (
                    ask
                    if ask is not None
                    else (input if cfg.prompt and sys.stdin.isatty() else None)
                )
                capture_guided(
                    camera, writer, cfg.digits, cfg.samples, cfg.interval, cfg.countdown, prompt
                )
        except KeyboardInterrupt:
            log.warning(
                "interrupted: the %d frames saved so far are kept", sum(writer.counts.values())
            )
    return writer


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="capture")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: capture, then print what was saved where."""
    console = Console(soft_wrap=True)
    for_frame_loops()
    with user_errors(CameraError, CaptureError):
        writer = run_capture(cfg)
    table = Table(title=f"session {writer.session} -> {writer.root}")
    table.add_column("digit")
    table.add_column("frames saved")
    for digit in sorted(writer.counts):
        table.add_row(str(digit), str(writer.counts[digit]))
    console.print(table)
    console.print(f"manifest: {writer.manifest}")


if __name__ == "__main__":
    main()
