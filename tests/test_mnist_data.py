"""data=mnist without a network: a clear error, and reading MNIST files already on disk."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch

from digitrec.data import MNISTDataModule, Side


def write_idx(path, array: np.ndarray) -> None:
    """Write ``array`` (uint8) in MNIST's idx format."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def fake_mnist(root, n_train=200, n_test=50):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)


def test_missing_mnist_offline_says_how_to_fix(tmp_path):
    dm = MNISTDataModule(root=tmp_path, download=False)
    with pytest.raises(
        FileNotFoundError,
        match=r"data.root=.*data.download=true.*MNIST/raw/train-images-idx3-ubyte",
    ):
        dm.prepare_data()


def test_mnist_files_on_disk_give_official_test_split(tmp_path):
    fake_mnist(tmp_path)
    dm = MNISTDataModule(root=tmp_path, download=False, val_fraction=0.1, batch_size=16)
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.split(Side.TEST)) == 50
    assert len(dm.split(Side.TRAIN)) + len(dm.split(Side.VAL)) == 200
    assert 5 <= len(dm.split(Side.VAL)) <= 40
    x, y = next(iter(dm.train_dataloader()))
    assert x.dtype == torch.uint8 and x.shape == (16, 28, 28) and y.dtype == torch.long
