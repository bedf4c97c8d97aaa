"""The LightningModule that trains any digit net."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn
from torchmetrics import MaxMetric, MeanMetric
from torchmetrics.classification import MulticlassAccuracy


def _plain(config: Any) -> Any:
    """A DictConfig as plain Python containers (checkpoints then load with weights_only=True)."""
    if isinstance(config, DictConfig):
        return OmegaConf.to_container(config, resolve=True)
    return config


class DigitClassifier(L.LightningModule):
    """Trains ``net`` (any ``nn.Module`` mapping (N, 1, 28, 28) -> (N, 10) logits) with cross-entropy.

    ``net``, ``optimizer`` and ``scheduler`` are Hydra configs (``optimizer`` and ``scheduler`` with
    ``_partial_: true``), stored with ``preprocess`` as hyperparameters so that a checkpoint alone
    rebuilds the model and tells how to preprocess its inputs:
    ``DigitClassifier.load_from_checkpoint(path)``. A ready ``nn.Module`` may be passed as ``net``
    instead; it is then not stored and must be passed again when loading.
    """

    def __init__(
        self,
        net: Mapping[str, Any] | nn.Module,
        optimizer: Mapping[str, Any],
        scheduler: Mapping[str, Any] | None = None,
        preprocess: Mapping[str, Any] | None = None,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        net, optimizer, scheduler, preprocess = map(_plain, (net, optimizer, scheduler, preprocess))
        is_module = isinstance(net, nn.Module)
        # the hyperparameters hold configs only: the net's weights live in the state dict
        self.save_hyperparameters(
            {"net": None if is_module else net, "optimizer": optimizer, "scheduler": scheduler,
             "preprocess": preprocess, "num_classes": num_classes}
        )
        self.net = net if is_module else instantiate(net)

        self.train_loss, self.val_loss, self.test_loss = MeanMetric(), MeanMetric(), MeanMetric()
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc_best = MaxMetric()

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def _step(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        images, labels = batch
        logits = self(images)
        return F.cross_entropy(logits, labels), logits, labels

    def on_train_start(self) -> None:
        # the sanity check must not count towards the best validation accuracy
        self.val_acc_best.reset()

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss, logits, labels = self._step(batch)
        self.train_loss(loss.detach())
        self.train_acc(logits.detach(), labels)
        self.log("train/loss", self.train_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        loss, logits, labels = self._step(batch)
        self.val_loss(loss)
        self.val_acc(logits, labels)
        self.log("val/loss", self.val_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("val/acc", self.val_acc, on_step=False, on_epoch=True, prog_bar=True)

    def on_validation_epoch_end(self) -> None:
        self.val_acc_best(self.val_acc.compute())
        self.log("val/acc_best", self.val_acc_best.compute(), sync_dist=True, prog_bar=True)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        loss, logits, labels = self._step(batch)
        self.test_loss(loss)
        self.test_acc(logits, labels)
        self.log("test/loss", self.test_loss, on_step=False, on_epoch=True)
        self.log("test/acc", self.test_acc, on_step=False, on_epoch=True)

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Class probabilities ``(N, 10)`` for a batch of images (or of (images, labels))."""
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        return torch.softmax(self(images), dim=1)

    def configure_optimizers(self) -> Any:
        optimizer = instantiate(self.hparams.optimizer)(params=self.parameters())
        if not self.hparams.scheduler:
            return optimizer
        scheduler_cfg = dict(self.hparams.scheduler)
        interval = scheduler_cfg.pop("interval", "epoch")
        scheduler = instantiate(scheduler_cfg)(optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": interval, "monitor": "val/loss"},
        }
