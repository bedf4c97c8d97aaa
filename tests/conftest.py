"""Shared fixtures: the embedded data written once per test session, configs, small image trees."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np
import pytest
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig

from digitrec.config import compose_config
from digitrec.data.embedded import write_embedded_digits
from digitrec.synthesis import HandwritingSynthesizer

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"

# overrides that keep test runs quiet, CPU-only and inside tmp dirs
QUIET = ["trainer=cpu", "++callbacks.rich_progress_bar=null", "++callbacks.model_summary=null"]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """A data dir holding the embedded digits (and the caches tests build), shared by all tests."""
    root = tmp_path_factory.mktemp("data")
    write_embedded_digits(root / "embedded_mnist")
    return root


@pytest.fixture(scope="session")
def photo_checkpoint(data_dir: Path, tmp_path_factory) -> Path:
    """A checkpoint that reads photographed digits and numbers: a BatchNorm CNN trained with the
    photo preprocessing, affine augmentation and crops cut from photos of touching pairs (4
    epochs on the embedded data, ~25 s)."""
    from digitrec.train import train

    cfg = compose_config(
        "train",
        [
            f"paths.data_dir={data_dir}",
            f"paths.output_dir={tmp_path_factory.mktemp('photo_model')}",
            *QUIET,
            "preprocess=photo",
            "model/net=cnn_bn",
            "model/optimizer=adamw",
            "augment=affine",
            "data.batch_size=64",
            "data.touching_pairs=600",
            "trainer.max_epochs=4",
            "test=false",
        ],
    )
    return Path(train(cfg)["best_checkpoint"])


@pytest.fixture
def make_cfg(data_dir: Path, tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose ``train.yaml`` with the shared data dir, a per-test output dir and ``overrides``."""

    def make(*overrides: str, config_name: str = "train") -> DictConfig:
        return compose_config(
            config_name,
            [
                f"paths.data_dir={data_dir}",
                f"paths.output_dir={tmp_path / 'run'}",
                *QUIET,
                *overrides,
            ],
        )

    return make


_HANDWRITING = HandwritingSynthesizer()


def digit_image(digit: int, size: int = 48, seed: int = 0) -> np.ndarray:
    """A gray image of ``digit`` written by the handwriting synthesiser (white on black), its
    style and strokes varying with ``seed``. (OpenCV's Hershey fonts are kept out of anything a
    test trains on: they are reserved as an unseen-writer test source.)"""
    names = _HANDWRITING.styles[digit]
    drawing = _HANDWRITING.draw(
        digit, names[seed % len(names)], np.random.default_rng([seed, digit])
    )
    interpolation = cv2.INTER_AREA if size < drawing.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(drawing, (size, size), interpolation=interpolation)


def write_tree(root: Path, files: Iterable[tuple[int, str]], size: int = 48) -> list[Path]:
    """Write ``root/<digit>/<name>`` images for each (digit, name); returns their paths."""
    paths = []
    for i, (digit, name) in enumerate(files):
        path = root / str(digit) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        ok, data = cv2.imencode(Path(name).suffix, digit_image(digit, size, seed=i))
        assert ok
        path.write_bytes(data.tobytes())
        paths.append(path)
    return paths


@pytest.fixture
def small_folder_data(tmp_path: Path) -> Callable[..., object]:
    """A per-digit folder of 100 drawn digits (5 sessions x 2 frames each) and a function that
    returns a set-up ``FolderDataModule`` reading it with the photo preprocessing, given extra
    data options."""
    from digitrec.data.datamodule import FolderDataModule

    write_tree(
        tmp_path / "d",
        [(d, f"s{k}_{i}.png") for d in range(10) for k in range(5) for i in range(2)],
        size=48,
    )

    def set_up(**options):
        datamodule = FolderDataModule(
            root=tmp_path / "d",
            preprocess={"_target_": "digitrec.preprocess.PhotoPreprocessor"},
            cache_dir=tmp_path / "c",
            val_fraction=0.2,
            **options,
        )
        datamodule.prepare_data()
        datamodule.setup()
        return datamodule

    return set_up


@pytest.fixture
def caplog_digitrec(caplog):
    """caplog capturing digitrec's warnings."""
    caplog.set_level(logging.WARNING, logger="digitrec")
    return caplog


class SignalAtStep(Callback):
    """Sends this process ``signal_name`` after training step ``step`` (a scheduler stopping
    it, SLURM warning of a time limit); used as ``+callbacks.x._target_=conftest.SignalAtStep``."""

    def __init__(self, step: int, signal_name: str = "SIGTERM") -> None:
        self.step = step
        self.signal = signal.Signals[signal_name]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signal)


def run_script(name: str, tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    """Run ``scripts/<name>`` with Hydra overrides in a subprocess, its run dir under tmp_path."""
    command = [sys.executable, str(SCRIPTS / name), *overrides, f"hydra.run.dir={tmp_path / 'h'}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def write_video(path, frames=12, size=(160, 120)):
    """An MJPG video of ``frames`` frames, each a digit (``i % 10``) written black on white."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    assert writer.isOpened()
    for i in range(frames):
        image = np.full((size[1], size[0]), 255, np.uint8)
        side = min(size) * 3 // 4
        top, left = (size[1] - side) // 2, (size[0] - side) // 2
        image[top : top + side, left : left + side] = 255 - digit_image(i % 10, side, seed=i)
        writer.write(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path
