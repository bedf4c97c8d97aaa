"""Benchmark: epoch time of the guide's CNN on full-MNIST-sized data (60,000 training images).

The 60,000 images are synthesised from the embedded 5,000 (each digit 12 times, shifted,
rotated and scaled a little), so the run needs no download. The same training runs twice through
Lightning in one process: with the default loader (batches copied to the device) and with
``data.device_resident=true`` (the data lives on the device; one indexing operation per batch).
On a GPU the second is the figure that matters; on a CPU both are the same path.

    python scripts/bench_epoch.py [--epochs 3] [--batch-size 512] [--precision bf16-mixed]
"""

from __future__ import annotations

import argparse
import time

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from rich.console import Console
from rich.table import Table

from digitrec.augment import BatchAugment
from digitrec.camera.synthetic import embedded_digits_of_split
from digitrec.data.datamodule import TensorDataModule
from digitrec.data.split import Side
from digitrec.module import DigitClassifier
from digitrec.utils.malloc import tune_glibc_malloc

TRAIN_IMAGES = 60_000


def synthesise(count: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` digits: the embedded ones repeated, each copy with a small random affine warp
    (the training augmentation's, ``digitrec.augment.BatchAugment``)."""
    images, labels = embedded_digits_of_split("all", 0)
    repeats = -(-count // len(labels))
    base = torch.from_numpy(np.tile(images, (repeats, 1, 1))[:count]).float().div(255).unsqueeze(1)
    torch.manual_seed(seed)
    warp = BatchAugment(rotation=11.5, scale=(0.9, 1.1), shear=0.0, translate=0.04)
    warped = torch.cat([warp(base[i : i + 5000]) for i in range(0, count, 5000)])
    digits = warped.squeeze(1).mul(255).round().clamp(0, 255).to(torch.uint8)
    return digits, torch.from_numpy(np.tile(labels, repeats)[:count]).long()


class EpochTimes(Callback):
    """Wall-clock seconds of every training epoch (the device synchronised at both ends)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def _sync(self, trainer: L.Trainer) -> None:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._sync(trainer)
        self._began = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._sync(trainer)
        self.seconds.append(time.perf_counter() - self._began)


def run(images, labels, args, device_resident: bool) -> tuple[float, float]:
    """Median epoch seconds (first epoch excluded: warm-up) and the final training accuracy."""
    L.seed_everything(0, workers=True)
    sides = torch.full((len(labels),), int(Side.TRAIN), dtype=torch.int8)
    sides[-2000:] = int(Side.TEST)  # a small test split: the datamodule requires one
    data = TensorDataModule(
        images,
        labels,
        sides,
        batch_size=args.batch_size,
        val_fraction=0.0,
        device_resident=device_resident,
    )
    model = DigitClassifier(
        {"_target_": "digitrec.nets.GuideCNN"},
        {"_target_": "torch.optim.Adam", "_partial_": True, "lr": args.lr, "fused": True},
        compile_net=args.compile,
    )
    timer = EpochTimes()
    trainer = L.Trainer(
        max_epochs=args.epochs,
        accelerator="auto",
        devices=1,
        precision=args.precision,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[timer],
    )
    trainer.fit(model, datamodule=data)
    return float(np.median(timer.seconds[1:] or timer.seconds)), float(
        trainer.callback_metrics.get("train/acc", float("nan"))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--precision", default="32-true", help="32-true | bf16-mixed | 16-mixed")
    parser.add_argument("--compile", action="store_true", help="torch.compile the net")
    args = parser.parse_args()
    tune_glibc_malloc()

    images, labels = synthesise(TRAIN_IMAGES + 2000)
    device = "cuda " + torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    table = Table(
        title=f"the guide's CNN, {TRAIN_IMAGES:,} training images, batch {args.batch_size}, "
        f"{args.precision}, {device}"
    )
    for column in ("data", "epoch s (median)", "images/s", "train acc", "vs default loader"):
        table.add_column(column, justify="right")
    baseline = None
    for name, resident in (("default loader", False), ("device resident", True)):
        seconds, accuracy = run(images, labels, args, resident)
        baseline = baseline or seconds
        table.add_row(
            name,
            f"{seconds:.3f}",
            f"{TRAIN_IMAGES / seconds:,.0f}",
            f"{accuracy:.4f}",
            f"{seconds / baseline:.2f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
