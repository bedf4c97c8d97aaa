"""Metric updates kept over steps and handed to torchmetrics together."""

from __future__ import annotations

import pytest
import torch
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from digitrec.utils.buffered_metric import BufferedMetric


def _steps(count: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    steps = []
    for size in [32] * (count - 1) + [7]:  # the last batch smaller, as at an epoch's end
        logits = torch.randn(size, 10, generator=generator, requires_grad=True)
        labels = torch.randint(-1, 10, (size,), generator=generator)  # -1: not one digit
        steps.append((logits.square().mean(), logits, labels))
    return steps


@pytest.mark.parametrize("every", [1, 3, 64])
def test_buffered_updates_compute_what_per_step_updates_do(every):
    steps = _steps(10)
    loss, accuracy = MeanMetric(), MulticlassAccuracy(10, average="micro", ignore_index=-1)
    buffered_loss = BufferedMetric(MeanMetric(), every)
    buffered_accuracy = BufferedMetric(
        MulticlassAccuracy(10, average="micro", ignore_index=-1), every
    )
    for step_loss, logits, labels in steps:
        loss.update(step_loss.detach())
        accuracy.update(logits.detach(), labels)
        buffered_loss.update(step_loss)  # not detached: the buffer detaches
        buffered_accuracy.update(logits, labels)
    assert buffered_loss.compute() == pytest.approx(loss.compute().item(), rel=1e-6)
    assert buffered_accuracy.compute() == pytest.approx(accuracy.compute().item())


def test_updates_reach_the_metric_every_n_steps_and_on_compute():
    buffered = BufferedMetric(MeanMetric(), every=3)
    for value in (1.0, 2.0):
        buffered.update(torch.tensor(value))
    assert buffered.metric.update_count == 0  # kept, not handed on yet
    buffered.update(torch.tensor(3.0))
    assert buffered.metric.update_count == 1  # three steps in one update
    buffered.update(torch.tensor(10.0))
    assert buffered.compute() == pytest.approx(4.0)  # (1 + 2 + 3 + 10) / 4: the kept step too


def test_reset_forgets_kept_steps_too():
    buffered = BufferedMetric(MeanMetric(), every=5)
    buffered.update(torch.tensor(100.0))
    buffered.reset()
    buffered.update(torch.tensor(1.0))
    assert buffered.compute() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="every must be >= 1"):
        BufferedMetric(MeanMetric(), every=0)
