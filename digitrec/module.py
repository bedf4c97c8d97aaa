"""The LightningModule that trains any digit net."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn
from torchmetrics import MaxMetric, MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from digitrec.data.labels import NOT_ONE_DIGIT
from digitrec.utils.buffered_metric import BufferedMetric
from digitrec.utils.cuda_check import restore_nvml_cuda_check, suspend_nvml_cuda_check

#: the checkpoint key of the best validation accuracy so far (a resumed run goes on from it)
_BEST_KEY = "digitrec_val_acc_best"


def _plain(config: Any) -> Any:
    """A DictConfig as plain Python containers (checkpoints then load with weights_only=True)."""
    if isinstance(config, DictConfig):
        return OmegaConf.to_container(config, resolve=True)
    return config


def freeze_parameters(net: nn.Module, prefixes: Sequence[str]) -> list[nn.Module]:
    """Stop training the parameters whose names start with one of ``prefixes`` (``features``,
    ``classifier.1``); returns the modules frozen whole (kept in eval mode while training)."""
    frozen: list[nn.Module] = []
    for prefix in prefixes:
        matched = [p for name, p in net.named_parameters() if _under(name, prefix)]
        if not matched:
            names = sorted({name.split(".")[0] for name, _ in net.named_parameters()})
            raise ValueError(
                f"model.freeze: {prefix!r} names no parameters of {type(net).__name__} "
                f"(its top-level parts: {', '.join(names)})"
            )
        for parameter in matched:
            parameter.requires_grad_(False)
        frozen += [m for name, m in net.named_modules() if name and _under(name, prefix)]
    return frozen


def _check_classes(num_classes: int, net: Any) -> None:
    """The classes are the ten digits: ``model.num_classes`` (and a configured net's own
    ``num_classes``) can only say so, as the reports, exports and readers assume it."""
    if num_classes != 10:
        raise ValueError(f"model.num_classes must be 10 (the digits 0-9), got {num_classes!r}")
    stored = net.get("num_classes", 10) if isinstance(net, Mapping) else 10
    if stored != 10:
        raise ValueError(f"model.net.num_classes must be 10 (the digits 0-9), got {stored!r}")


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def digit_or_spread_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy for digits; for crops that are not one digit (``NOT_ONE_DIGIT``, training
    only), the KL divergence of the prediction from equal probabilities. Branch-free, so it
    never waits for a device."""
    log_p = F.log_softmax(logits, dim=1)
    digit_loss = -log_p.gather(1, labels.clamp(min=0)[:, None])[:, 0]
    spread_loss = -(log_p.mean(dim=1) + math.log(logits.shape[1]))
    return torch.where(labels == NOT_ONE_DIGIT, spread_loss, digit_loss).mean()


class DigitClassifier(L.LightningModule):
    """Trains ``net`` (an ``nn.Module``: (N, 1, 28, 28) -> (N, 10) logits) with cross-entropy.

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
        channels_last: bool = True,
        freeze: Sequence[str] = (),
        compile_net: bool = False,
    ) -> None:
        super().__init__()
        net, optimizer, scheduler, preprocess = map(_plain, (net, optimizer, scheduler, preprocess))
        _check_classes(num_classes, net)
        is_module = isinstance(net, nn.Module)
        # the hyperparameters hold configs only: the net's weights live in the state dict
        self.save_hyperparameters(
            {
                "net": None if is_module else net,
                "optimizer": optimizer,
                "scheduler": scheduler,
                "preprocess": preprocess,
                "num_classes": num_classes,
                "channels_last": channels_last,
                "freeze": list(freeze),
                "compile_net": compile_net,
            }
        )
        self.net = net if is_module else instantiate(net)
        if channels_last:
            # NHWC convolution and pooling kernels are markedly faster on CPUs (and tensor cores);
            # the weights keep their logical shapes, so checkpoints are unaffected
            self.net.to(memory_format=torch.channels_last)
        self.frozen = freeze_parameters(self.net, freeze)
        if compile_net:
            # in place: the state dict keeps its names, so checkpoints load into plain nets
            self.net.compile()

        # inputs are well-formed by construction: skip torchmetrics' per-update argument checks
        self.train_loss, self.val_loss, self.test_loss = (
            MeanMetric(nan_strategy="ignore") for _ in range(3)
        )
        self.train_acc, self.val_acc, self.test_acc = (
            MulticlassAccuracy(
                num_classes, average="micro", ignore_index=NOT_ONE_DIGIT, validate_args=False
            )
            for _ in range(3)
        )
        # updated every step through buffers that hand many steps to torchmetrics at once
        self._epoch_metrics = {
            stage: (BufferedMetric(loss), BufferedMetric(accuracy))
            for stage, loss, accuracy in (
                ("train", self.train_loss, self.train_acc),
                ("val", self.val_loss, self.val_acc),
                ("test", self.test_loss, self.test_acc),
            )
        }
        self.val_acc_best = MaxMetric()
        self._resumed_best: Tensor | None = None
        self._nvml_check: str | None = None

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def train(self, mode: bool = True) -> DigitClassifier:
        super().train(mode)
        self._keep_frozen_in_eval()
        return self

    def on_train_epoch_start(self) -> None:
        # Lightning restores per-module modes around validation rather than calling train()
        self._keep_frozen_in_eval()

    def _keep_frozen_in_eval(self) -> None:
        # frozen layers stay as they were: their BatchNorm statistics must not follow the new data
        for module in self.frozen:
            module.eval()

    def _step(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        images, labels = batch
        logits = self(images)
        # on the CPU a batch of digits only takes the fused cross-entropy (the same loss in half
        # the time: 30 against 72 us forward and backward); on a GPU, looking would wait for it
        if labels.device.type == "cpu" and not bool((labels == NOT_ONE_DIGIT).any()):
            return F.cross_entropy(logits, labels), logits, labels
        return digit_or_spread_loss(logits, labels), logits, labels

    def on_fit_start(self) -> None:
        # every process is launched by now: GPU checks need not avoid initialising CUDA
        self._nvml_check = suspend_nvml_cuda_check()

    def on_fit_end(self) -> None:
        restore_nvml_cuda_check(self._nvml_check)
        self._nvml_check = None

    def on_train_start(self) -> None:
        # the sanity check must not count towards the best validation accuracy; a resumed run
        # goes on from the best of the epochs before the interruption
        self.val_acc_best.reset()
        if self._resumed_best is not None:
            self.val_acc_best.update(self._resumed_best)
            self._resumed_best = None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # torchmetrics keeps metric states out of the state dict (the weights stay as they were)
        checkpoint[_BEST_KEY] = self.val_acc_best.max_value.detach().cpu()  # -inf before any

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        best = checkpoint.get(_BEST_KEY)
        self._resumed_best = None if best is None or not torch.isfinite(best) else best

    # Metrics are updated every step but logged once per epoch: a per-step ``self.log`` of a
    # metric costs about as much as the guide's CNN's whole training step on a CPU.
    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss, logits, labels = self._step(batch)
        self._update("train", loss, logits, labels)
        return loss

    def _update(self, stage: str, loss: Tensor, logits: Tensor, labels: Tensor) -> None:
        loss_metric, accuracy = self._epoch_metrics[stage]
        loss_metric.update(loss)
        accuracy.update(logits, labels)

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._update("val", *self._step(batch))

    def on_validation_epoch_end(self) -> None:
        accuracy = self._log_epoch("val")
        self.val_acc_best.update(accuracy)
        self.log("val/acc_best", self.val_acc_best.compute(), prog_bar=True, sync_dist=True)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._update("test", *self._step(batch))

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def _log_epoch(self, stage: str) -> Tensor:
        """Log ``<stage>/loss`` and ``<stage>/acc`` (synced across processes), then reset."""
        loss, accuracy = self._epoch_metrics[stage]
        values = {f"{stage}/loss": loss.compute(), f"{stage}/acc": accuracy.compute()}
        # already reduced over processes by torchmetrics; sync_dist only averages equal values
        self.log_dict(values, prog_bar=stage != "test", sync_dist=True)
        loss.reset()
        accuracy.reset()
        return values[f"{stage}/acc"]

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Class probabilities ``(N, 10)`` for a batch of images (or of (images, labels))."""
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        return torch.softmax(self(images), dim=1)

    def configure_optimizers(self) -> Any:
        trainable = [p for p in self.parameters() if p.requires_grad]
        optimizer = instantiate(self.hparams.optimizer)(params=trainable)
        if not self.hparams.scheduler:
            return optimizer
        scheduler_cfg = dict(self.hparams.scheduler)
        interval = scheduler_cfg.pop("interval", "epoch")
        if "total_steps" in scheduler_cfg and scheduler_cfg["total_steps"] is None:
            # schedules over the whole run (OneCycleLR) need its length in optimizer steps
            scheduler_cfg["total_steps"] = int(self.trainer.estimated_stepping_batches)
        scheduler = instantiate(scheduler_cfg)(optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": interval, "monitor": "val/loss"},
        }
