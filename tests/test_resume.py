"""Exact resumption mid-epoch: a run interrupted after any step ends with the weights of one
that never was (CPU, same seed), with the default loader and with the data on the device."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from digitrec.data.batches import (
    DeviceResidentBatches,
    EpochShuffle,
    InMemoryDigits,
    ResumableLoader,
    collate_gathered,
)
from digitrec.train import train

COMMON = [
    "model/net=cnn_bn",  # dropout and BatchNorm
    "augment=photo",  # random numbers drawn for every image
    "test=false",
    "+trainer.limit_train_batches=12",
    "+trainer.limit_val_batches=2",
    "data.batch_size=32",
    "trainer.max_epochs=2",
]
#: a SIGTERM sent to the run after its 17th step (of 24)
SIGTERM_AT_STEP_17 = [
    "+callbacks.sigterm._target_=conftest.SignalAtStep",
    "+callbacks.sigterm.step=17",
]


def _weights(path: str | Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


@pytest.mark.parametrize("loader", ["default", "device_resident"])
def test_a_run_resumed_mid_epoch_ends_with_the_weights_of_an_uninterrupted_one(
    make_cfg, tmp_path, loader
):
    options = [*COMMON, f"data.device_resident={loader == 'device_resident'}"]
    steps = tmp_path / "steps"
    # the uninterrupted run, which also saves its state after steps 5, 10, 15 and 20
    whole = train(
        make_cfg(
            *options,
            f"paths.output_dir={tmp_path / 'whole'}",
            "+callbacks.every_5_steps._target_=lightning.pytorch.callbacks.ModelCheckpoint",
            f"+callbacks.every_5_steps.dirpath={steps}",
            "+callbacks.every_5_steps.filename='step_{step}'",
            "+callbacks.every_5_steps.every_n_train_steps=5",
            "+callbacks.every_5_steps.save_top_k=-1",
            "+callbacks.every_5_steps.auto_insert_metric_name=false",
        )
    )
    final = _weights(whole["last_checkpoint"])
    # runs interrupted after step 5 (epoch 1 of 2) and after step 15 (epoch 2), resumed
    for step in (5, 15):
        (checkpoint,) = steps.glob(f"step_{step}.ckpt")
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        assert state["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [
            {"epoch": step // 12, "batches": step % 12}
        ]
        resumed = train(
            make_cfg(
                *options,
                f"paths.output_dir={tmp_path / f'resumed_{step}'}",
                f"ckpt_path={checkpoint}",
            )
        )
        weights = _weights(resumed["last_checkpoint"])
        assert weights.keys() == final.keys()
        for name in final:
            torch.testing.assert_close(weights[name], final[name], rtol=0, atol=0, msg=name)
        for metric in ("val/acc", "val/acc_best"):
            assert resumed["metrics"][metric] == whole["metrics"][metric], metric
    # the best validation accuracy before the interruption carries over (a sweep optimises it)
    state = torch.load(steps / "step_15.ckpt", map_location="cpu", weights_only=True)
    state["digitrec_val_acc_best"] = torch.tensor(0.999)
    torch.save(state, tmp_path / "best_so_far.ckpt")
    resumed = train(
        make_cfg(
            *options,
            f"paths.output_dir={tmp_path / 'resumed_best'}",
            f"ckpt_path={tmp_path / 'best_so_far.ckpt'}",
        )
    )
    assert resumed["metrics"]["val/acc_best"] == pytest.approx(0.999)


@pytest.mark.parametrize("loader", ["default", "device_resident"])
def test_a_run_stopped_by_sigterm_mid_epoch_resumes_from_last_ckpt_exactly(
    make_cfg, tmp_path, loader
):
    options = [*COMMON, f"data.device_resident={loader == 'device_resident'}"]
    whole = train(make_cfg(*options, f"paths.output_dir={tmp_path / 'whole'}"))
    run = tmp_path / "stopped"
    with pytest.raises(SystemExit) as stopped:
        train(make_cfg(*options, *SIGTERM_AT_STEP_17, f"paths.output_dir={run}"))
    assert stopped.value.code == 143
    record = json.loads((run / "metrics.json").read_text())
    assert record["interrupted"] == "SIGTERM" and record["global_step"] == 17
    resumed = train(make_cfg(*options, "ckpt_path=last", f"paths.output_dir={run}"))
    final, weights = _weights(whole["last_checkpoint"]), _weights(resumed["last_checkpoint"])
    for name in final:
        torch.testing.assert_close(weights[name], final[name], rtol=0, atol=0, msg=name)
    assert resumed["metrics"]["val/acc_best"] == whole["metrics"]["val/acc_best"]


def test_a_run_with_averaged_weights_resumes_exactly(make_cfg, tmp_path):
    # experiment=webcam's exponential moving average: its checkpoints hold the average as the
    # weights and the weights being trained beside them; both continue as if never stopped
    ema = [
        "+callbacks.ema._target_=lightning.pytorch.callbacks.EMAWeightAveraging",
        "+callbacks.ema.decay=0.9",
    ]
    whole = train(make_cfg(*COMMON, *ema, f"paths.output_dir={tmp_path / 'whole'}"))
    run = tmp_path / "stopped"
    with pytest.raises(SystemExit):
        train(make_cfg(*COMMON, *ema, *SIGTERM_AT_STEP_17, f"paths.output_dir={run}"))
    resumed = train(make_cfg(*COMMON, *ema, "ckpt_path=last", f"paths.output_dir={run}"))
    final = torch.load(whole["last_checkpoint"], map_location="cpu", weights_only=True)
    state = torch.load(resumed["last_checkpoint"], map_location="cpu", weights_only=True)
    for key in ("state_dict", "current_model_state"):
        for name, value in final[key].items():
            torch.testing.assert_close(state[key][name], value, rtol=0, atol=0, msg=name)
    average, current = final["state_dict"], final["current_model_state"]
    assert not torch.equal(average["net.classifier.6.weight"], current["net.classifier.6.weight"])


def _batches_of(loader) -> list[list[int]]:
    return [labels.tolist() for _, labels in loader]


@pytest.mark.parametrize("kind", ["loader", "device_resident"])
def test_the_batches_continue_where_the_state_says(kind):
    images = torch.zeros((50, 28, 28), dtype=torch.uint8)
    dataset = InMemoryDigits(images, torch.arange(50))

    def make():
        if kind == "loader":
            return ResumableLoader(
                dataset, batch_size=8, sampler=EpochShuffle(50, seed=3), collate_fn=collate_gathered
            )
        return DeviceResidentBatches(dataset, 8, True, 3, torch.device("cpu"))

    first = make()
    first.sampler.set_epoch(2)
    batches = iter(first)
    seen = [next(batches)[1].tolist() for _ in range(3)]
    state = first.state_dict()
    assert state == {"epoch": 2, "batches": 3}
    again = make()
    again.sampler.set_epoch(2)
    again.load_state_dict(state)
    rest = _batches_of(again)
    whole = make()
    whole.sampler.set_epoch(2)
    assert seen + rest == _batches_of(whole)
    # the skip applies once: the next epoch is whole again
    assert len(_batches_of(again)) == 7
