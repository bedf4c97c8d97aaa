"""``digitrec-predict``: read digits from image files, folders, globs, videos or a camera.

Prints one JSON line per image or frame (and keeps a copy in the run dir); optionally writes
annotated images, and with a display shows a live window. See ``conf/predict.yaml``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import cv2
import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from digitrec.camera import CameraError, open_camera
from digitrec.config import config_dir, register_resolvers
from digitrec.data.folder import find_images
from digitrec.data.images import ImageReadError, read_image, write_image_atomic
from digitrec.inference import Recognizer
from digitrec.inference.overlay import draw_predictions
from digitrec.inference.records import reading_record
from digitrec.inference.smoothing import DigitSmoother, TextSmoother
from digitrec.utils.cli import print_error, user_errors
from digitrec.utils.display import has_display
from digitrec.utils.threads import for_frame_loops

register_resolvers()
log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})
WINDOW = "digitrec predict"


@dataclass(frozen=True)
class InputFrame:
    """One image to read, or the error that kept it from being read."""

    source: str
    frame: int | None = None  # index within a video or camera stream
    image: np.ndarray | None = None
    error: str | None = None
    labels: tuple[int, ...] | None = None  # true digits, when the source knows them
    stream: bool = False


def _is_video(spec: str) -> bool:
    return "://" in spec or Path(spec).suffix.lower() in VIDEO_EXTENSIONS


def iter_inputs(specs: Sequence[str]) -> Iterator[InputFrame]:
    """Expand image files, folders, globs and video files into frames, in the order given.

    Unreadable inputs become frames with an ``error``; the others are still read.
    """
    for spec in specs:
        spec = str(spec)
        if _is_video(spec):
            camera_cfg = {"_target_": "digitrec.camera.devices.VideoCamera", "path": spec}
            yield from iter_camera(camera_cfg, source=spec)
            continue
        try:
            files = find_images(spec)
        except FileNotFoundError as err:
            yield InputFrame(source=spec, error=str(err))
            continue
        for file in files:
            try:
                yield InputFrame(source=str(file), image=read_image(file))
            except ImageReadError as err:
                yield InputFrame(source=str(file), error=str(err))


def iter_camera(
    camera_cfg: Any, source: str | None = None, max_frames: int | None = None
) -> Iterator[InputFrame]:
    """Frames of a camera config (``conf/camera``); a failure to open or read is one error frame."""
    try:
        with open_camera(camera_cfg) as camera:
            name = source or camera.name
            for frame in camera.frames():
                if max_frames is not None and frame.index >= max_frames:
                    break
                yield InputFrame(
                    source=name,
                    frame=frame.index,
                    image=frame.image,
                    labels=frame.labels,
                    stream=True,
                )
    except CameraError as err:
        yield InputFrame(source=source or "camera", error=str(err))


class PredictionWriter:
    """Emits one JSON line per frame to stdout and to a file, and draws annotated images."""

    def __init__(self, output: Path | None, annotate_dir: Path | None, stdout: TextIO) -> None:
        self.stdout = stdout
        self.file = None
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            self.file = output.open("a", encoding="utf-8")
        self.annotate_dir = annotate_dir
        if annotate_dir is not None:
            annotate_dir.mkdir(parents=True, exist_ok=True)
        self.emitted = 0  # records written so far (annotated images are numbered by them)

    def emit(self, record: dict[str, Any]) -> None:
        self.emitted += 1
        line = json.dumps(record)
        print(line, file=self.stdout, flush=True)
        if self.file is not None:
            self.file.write(line + "\n")
            self.file.flush()

    def annotate(self, item: InputFrame, view: np.ndarray) -> Path | None:
        if self.annotate_dir is None:
            return None
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(item.source).stem).strip("_") or "frame"
        suffix = f"_{item.frame:06d}" if item.frame is not None else ""
        # numbered as the record about to be emitted for it
        path = self.annotate_dir / f"{self.emitted + 1:06d}_{stem}{suffix}.png"
        write_image_atomic(path, view)
        return path

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def predict_frames(
    recognizer: Recognizer,
    frames: Iterator[InputFrame],
    writer: PredictionWriter,
    read_numbers: bool = False,
    smooth: int = 1,
    show: bool = False,
) -> int:
    """Read every frame and emit its record; returns how many inputs could not be read."""
    errors = 0
    digit_smoother, text_smoother, current_source = None, None, None
    last_time = None
    for item in frames:
        if item.error is not None:
            errors += 1
            writer.emit({"source": item.source, "frame": item.frame, "error": item.error})
            continue
        if item.source != current_source:  # smoothing never mixes two streams
            current_source = item.source
            digit_smoother = DigitSmoother(smooth, recognizer.min_confidence)
            text_smoother = TextSmoother(smooth)
        began = time.perf_counter()
        if read_numbers:
            reading = recognizer.read(item.image)
            predictions, text = list(reading.digits), reading.text
        else:
            predictions, text = [recognizer.predict(item.image)], None
        latency_ms = (time.perf_counter() - began) * 1000
        record = reading_record(item.source, item.frame, predictions, text)
        caption = text
        if item.stream and smooth > 1:
            if read_numbers:
                caption = record["smoothed"] = text_smoother.update(text)
            else:
                record["smoothed"] = digit_smoother.update(predictions[0])
                caption = None if record["smoothed"] is None else f"steady: {record['smoothed']}"
        if item.labels is not None:
            record["true"] = "".join(map(str, item.labels))
        record["latency_ms"] = round(latency_ms, 3)
        quit_now = False
        if writer.annotate_dir is not None or show:
            now = time.perf_counter()
            fps = 1.0 / (now - last_time) if show and last_time is not None else None
            last_time = now
            view = draw_predictions(item.image, predictions, caption=caption, fps=fps)
            if (path := writer.annotate(item, view)) is not None:
                record["annotated"] = str(path)
            if show:
                cv2.imshow(WINDOW, view)
                quit_now = cv2.waitKey(1) & 0xFF in (ord("q"), ord("Q"), 27)
        writer.emit(record)
        if quit_now:
            break
    if show:
        cv2.destroyAllWindows()
    return errors


def _as_list(inputs: Any) -> list[str]:
    if inputs is None:
        return []
    if isinstance(inputs, str):
        return [inputs]
    return [str(i) for i in OmegaConf.to_container(inputs)]


def read_input_list(path: str | Path) -> list[str]:
    """The inputs listed in a text file, one path per line (blank lines and ``#`` comments
    skipped; relative paths are relative to the file): names with ``,`` or ``=`` need no
    quoting there."""
    file = Path(path).expanduser()
    try:
        lines = file.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"inputs_from={str(path)!r} cannot be read: {err}") from err
    listed = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not listed:
        raise ValueError(f"inputs_from={str(path)!r} lists no inputs")
    return [str(file.parent / p) if not Path(p).expanduser().is_absolute() else p for p in listed]


def run_predict(cfg: DictConfig, stdout: TextIO) -> int:
    """Load the model and read every input named by ``cfg``; returns the number of failures."""
    inputs = _as_list(cfg.get("inputs"))
    if cfg.get("inputs_from"):
        inputs += read_input_list(cfg.inputs_from)
    camera_cfg = cfg.get("camera")
    if not inputs and camera_cfg is None:
        raise ValueError(
            "nothing to read: give inputs=[photo.jpg,folder/,clip.mp4], inputs_from=list.txt "
            "or camera=..."
        )
    preprocess = cfg.get("preprocess")
    recognizer = Recognizer.load(
        cfg.model_path,
        device=cfg.get("device"),
        precision=cfg.get("precision", "32"),
        preprocess=OmegaConf.to_container(preprocess, resolve=True) if preprocess else None,
        min_confidence=cfg.min_confidence,
    )
    show = {"auto": None, True: True, False: False}[cfg.show]
    if show is None:
        show = camera_cfg is not None and has_display()
    frames = (
        iter_camera(camera_cfg, max_frames=cfg.get("max_frames"))
        if camera_cfg is not None
        else iter_inputs(inputs)
    )
    output_dir = Path(cfg.paths.output_dir)
    writer = PredictionWriter(
        output=Path(cfg.output) if cfg.get("output") else None,
        annotate_dir=output_dir / "annotated" if cfg.annotate else None,
        stdout=stdout,
    )
    try:
        return predict_frames(
            recognizer, frames, writer, cfg.read_numbers, int(cfg.smooth), bool(show)
        )
    finally:
        writer.close()


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="predict")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: one JSON line per input on stdout; errors also on stderr; exit 1 when
    the model cannot be loaded or any input could not be read."""
    for_frame_loops()
    with user_errors(CameraError):
        failures = run_predict(cfg, sys.stdout)
    if failures:
        print_error(f"{failures} input(s) could not be read (see the error lines)")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
