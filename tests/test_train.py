"""End-to-end training through digitrec.train (CPU, embedded data)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from digitrec.module import DigitClassifier
from digitrec.train import optimized_value, train
from digitrec.utils.cuda_check import NVML_CHECK


def test_fast_dev_run_writes_metrics_and_config(make_cfg, tmp_path):
    summary = train(make_cfg("debug=fdr"))
    run = tmp_path / "run"
    stored = json.loads((run / "metrics.json").read_text())
    assert stored == json.loads(json.dumps(summary))
    assert {"val/acc", "val/loss", "val/acc_best", "test/acc", "test/loss"} <= set(
        summary["metrics"]
    )
    config = (run / "config.yaml").read_text()
    assert "digitrec.nets.GuideCNN" in config and "${" not in config


def test_short_real_run_beats_chance_and_checkpoint_stands_alone(make_cfg):
    cfg = make_cfg("trainer.max_epochs=2", "+trainer.limit_train_batches=40", "model/net=lenet5")
    summary = train(cfg)
    assert summary["metrics"]["test/acc"] > 0.6  # chance is 0.1
    assert summary["tested_checkpoint"] == "best"
    best = Path(summary["best_checkpoint"])
    assert best.is_file() and Path(summary["last_checkpoint"]).is_file()

    # the checkpoint alone rebuilds the net and tells how to preprocess, loading no code
    model = DigitClassifier.load_from_checkpoint(best, map_location="cpu", weights_only=True)
    assert type(model.net).__name__ == "LeNet5"
    assert model.hparams.preprocess["_target_"] == "digitrec.preprocess.GuidePreprocessor"
    probs = model.predict_step(torch.rand(3, 1, 28, 28), 0)
    assert probs.shape == (3, 10)
    torch.testing.assert_close(probs.sum(1), torch.ones(3))


def test_validation_on_the_test_split_tests_the_final_weights(make_cfg):
    summary = train(
        make_cfg("data.val_fraction=0", "trainer.max_epochs=1", "+trainer.limit_train_batches=5")
    )
    assert summary["tested_checkpoint"] == "last"


def test_resume_from_checkpoint(make_cfg, tmp_path):
    steps = 6
    limits = [f"+trainer.limit_train_batches={steps}", "+trainer.limit_val_batches=1"]
    first = train(make_cfg("trainer.max_epochs=1", *limits, "test=false"))
    last = first["last_checkpoint"]
    assert torch.load(last, weights_only=True)["global_step"] == steps

    resumed = train(
        make_cfg(
            "trainer.max_epochs=2",
            *limits,
            f"ckpt_path={last}",
            "paths.output_dir=" + str(tmp_path / "resumed"),
        )
    )
    state = torch.load(resumed["last_checkpoint"], weights_only=True)
    assert state["epoch"] == 1 and state["global_step"] == 2 * steps


@pytest.mark.parametrize("validate_every", [1, 2])
def test_last_ckpt_holds_the_final_state_though_the_best_is_not_saved_then(
    make_cfg, tmp_path, validate_every
):
    # the best is the first validated epoch's (the lowest step, never bettered); with
    # validate_every=2 the last epoch is not validated either: last.ckpt still ends with the
    # final step
    steps = 4
    options = [
        f"+trainer.limit_train_batches={steps}",
        "+trainer.limit_val_batches=1",
        f"++trainer.check_val_every_n_epoch={validate_every}",
        "callbacks.model_checkpoint.monitor=step",
        "callbacks.model_checkpoint.mode=min",
        "test=false",
    ]
    summary = train(make_cfg("trainer.max_epochs=3", *options))
    best = torch.load(summary["best_checkpoint"], weights_only=True)
    assert best["global_step"] == validate_every * steps
    last = Path(summary["last_checkpoint"])
    assert last.name == "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == 3 * steps
    # and it resumes where training ended: one more epoch
    resumed = train(
        make_cfg(
            "trainer.max_epochs=4",
            *options,
            f"ckpt_path={last}",
            f"paths.output_dir={tmp_path / 'resumed'}",
        )
    )
    assert torch.load(resumed["last_checkpoint"], weights_only=True)["global_step"] == 4 * steps


def test_missing_resume_checkpoint_is_a_clear_error(make_cfg, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"ckpt_path=.*nope.ckpt.*no such checkpoint"):
        train(make_cfg("debug=fdr", f"ckpt_path={tmp_path / 'nope.ckpt'}"))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not a readable checkpoint"),
        (b"garbage" * 100, "not a readable checkpoint"),
        (None, "no state_dict"),
        ("weights", "not the training state a resume needs .*init_from="),
    ],
)
def test_damaged_resume_checkpoint_is_a_clear_error(make_cfg, tmp_path, content, reason):
    path = tmp_path / "bad.ckpt"
    if content is None:
        torch.save({"weights": torch.zeros(2)}, path)
    elif content == "weights":  # torch.save of a state dict: no Lightning training state
        torch.save({"state_dict": {"net.w": torch.zeros(2)}}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"ckpt_path=.*bad.ckpt.*{reason}"):
        train(make_cfg("debug=fdr", f"ckpt_path={path}"))


def test_optimized_metric_lookup():
    summary = {"metrics": {"val/acc_best": 0.9, "test/acc": 0.8}}
    assert optimized_value(summary, "val/acc_best") == 0.9
    assert optimized_value(summary, None) is None
    with pytest.raises(KeyError, match=r"optimized_metric='val/f1'.*test/acc, val/acc_best"):
        optimized_value(summary, "val/f1")


def test_resumed_run_equals_an_uninterrupted_one(make_cfg, tmp_path):
    """Interrupted after epoch 1 and resumed == never interrupted: same seed, CPU, with dropout,
    BatchNorm and per-image augmentation drawing random numbers all along."""
    common = [
        "model/net=cnn_bn",
        "augment=photo",
        "test=false",
        "+trainer.limit_train_batches=12",
        "+trainer.limit_val_batches=2",
        "data.batch_size=32",
    ]
    whole = train(make_cfg(*common, "trainer.max_epochs=2", f"paths.output_dir={tmp_path / 'a'}"))
    train(make_cfg(*common, "trainer.max_epochs=1", f"paths.output_dir={tmp_path / 'b'}"))
    # the restarted job runs in the same run dir with ckpt_path=last
    resumed = train(
        make_cfg(
            *common, "trainer.max_epochs=2", "ckpt_path=last", f"paths.output_dir={tmp_path / 'b'}"
        )
    )
    a = torch.load(whole["last_checkpoint"], weights_only=True)["state_dict"]
    b = torch.load(resumed["last_checkpoint"], weights_only=True)["state_dict"]
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=name)
    assert whole["metrics"]["val/acc"] == resumed["metrics"]["val/acc"]


def test_ckpt_path_last_without_a_checkpoint_starts_fresh(make_cfg, tmp_path):
    summary = train(make_cfg("debug=fdr", "ckpt_path=last"))
    assert summary["epochs"] == 1


def test_device_resident_batches_follow_the_default_loaders_order(make_cfg):
    from digitrec.data.batches import DeviceResidentBatches, InMemoryDigits
    from digitrec.data.datamodule import DigitDataModule

    dataset = InMemoryDigits(
        torch.arange(10 * 28 * 28, dtype=torch.uint8).reshape(10, 28, 28) % 251, torch.arange(10)
    )
    resident = DeviceResidentBatches(dataset, 4, True, 3, torch.device("cpu"))
    assert len(resident) == 3
    module = DigitDataModule(batch_size=4, seed=3)
    module.splits = {side: dataset for side in range(3)}
    loader = module.train_dataloader()
    for epoch in (0, 1):
        resident.sampler.set_epoch(epoch)
        loader.sampler.set_epoch(epoch)
        got = [labels.tolist() for _, labels in resident]
        assert got == [labels.tolist() for _, labels in loader]
    assert sorted(label for batch in got for label in batch) == list(range(10))
    summary = train(make_cfg("data.device_resident=true", "debug=limit"))
    assert summary["epochs"] == 2


def test_device_resident_data_refuses_several_processes():
    from types import SimpleNamespace

    from digitrec.data.batches import InMemoryDigits
    from digitrec.data.datamodule import DigitDataModule

    module = DigitDataModule(device_resident=True)
    dataset = InMemoryDigits(torch.zeros(4, 28, 28, dtype=torch.uint8), torch.arange(4))
    module.splits = {side: dataset for side in range(3)}
    module.trainer = SimpleNamespace(world_size=2, is_global_zero=True)
    with pytest.raises(ValueError, match=r"device_resident=true.*2 processes"):
        module.train_dataloader()


@pytest.mark.parametrize("device_resident", [False, True])
def test_a_last_batch_of_one_digit_is_dropped_so_batchnorm_trains(device_resident):
    import lightning as L

    from digitrec.data.datamodule import TensorDataModule
    from digitrec.data.split import Side

    count = 65  # one batch of 64 and one digit left over
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (count + 10, 28, 28), dtype=torch.uint8, generator=generator)
    labels = torch.arange(count + 10) % 10
    sides = torch.full((count + 10,), int(Side.TRAIN), dtype=torch.int8)
    sides[count:] = int(Side.TEST)
    data = TensorDataModule(
        images, labels, sides, batch_size=64, val_fraction=0.0, device_resident=device_resident
    )
    model = DigitClassifier(
        {"_target_": "digitrec.nets.BatchNormCNN"},
        {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 1e-3},
    )
    trainer = L.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, datamodule=data)
    assert trainer.global_step == 1
    # evaluation keeps every digit
    assert sum(len(y) for _, y in data.test_dataloader()) == 10


def test_sigterm_saves_last_checkpoint_records_it_and_exits_non_zero(data_dir, tmp_path):
    import json
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "digitrec.train",
        f"paths.data_dir={data_dir}",
        f"hydra.run.dir={run}",
        "trainer=cpu",
        "trainer.max_epochs=200",
        "++callbacks.rich_progress_bar=null",
        "++callbacks.model_summary=null",
        "data.batch_size=8",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    for line in process.stdout:  # wait until training runs
        seen.append(line)
        if "training batch" in line:
            break
    time.sleep(3)
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=120)
    assert process.returncode == 143, "".join(seen) + rest
    record = json.loads((run / "metrics.json").read_text())
    assert record["interrupted"] == "SIGTERM" and record["global_step"] > 0
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert record["last_checkpoint"] == str(run / "checkpoints" / "last.ckpt")


def test_user_errors_are_one_line_and_full_error_shows_the_traceback(data_dir, tmp_path):
    import os
    import subprocess
    import sys

    command = [
        sys.executable,
        "-m",
        "digitrec.train",
        "trainer=cpu",
        "data=folder",
        f"data.root={tmp_path / 'nowhere'}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "nowhere" in errors[0] and "does not exist" in errors[0]
    assert "Traceback" not in done.stderr
    full = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "HYDRA_FULL_ERROR": "1"},
    )
    assert full.returncode == 1 and "Traceback" in full.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "trainer.max_epochs=abc",
            r"trainer\.max_epochs must be a whole number >= 1 \(or -1\), got 'abc'",
        ),
        (
            "trainer.max_epochs=0",
            r"trainer\.max_epochs must be a whole number >= 1 \(or -1\), got 0",
        ),
        ("seed=abc", r"seed must be an integer or null, got 'abc'"),
        ("model.optimizer.lr=-1", r"model\.optimizer\.lr must be a number > 0, got -1"),
        ("model.optimizer.lr=abc", r"model\.optimizer\.lr must be a number > 0, got 'abc'"),
    ],
)
def test_bad_run_settings_are_named_before_any_work(make_cfg, override, message):
    with pytest.raises(ValueError, match=message):
        train(make_cfg(override))


def test_no_test_split_trains_and_says_it_is_not_tested(make_cfg, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="digitrec")
    summary = train(make_cfg("debug=fdr", "data.test_fraction=0"))
    assert summary["tested_checkpoint"] is None
    assert not any(k.startswith("test/") for k in summary["metrics"])
    assert any("not tested" in r.getMessage() for r in caplog.records)


def test_training_steps_check_for_gpus_without_nvml_and_restore_it(make_cfg, monkeypatch):
    # Lightning sets the NVML check on import; Adam's per-step GPU check then reloads NVML
    monkeypatch.setenv(NVML_CHECK, "1")
    seen: list[str | None] = []
    original = DigitClassifier.training_step

    def probe(self, batch, batch_idx):
        seen.append(os.environ.get(NVML_CHECK))
        if batch_idx == 0 and len(seen) > 1:
            raise RuntimeError("a failing step")
        return original(self, batch, batch_idx)

    monkeypatch.setattr(DigitClassifier, "training_step", probe)
    train(make_cfg("debug=fdr"))
    assert seen == [None] and os.environ[NVML_CHECK] == "1"
    with pytest.raises(RuntimeError, match="a failing step"):  # restored after a failed fit too
        train(make_cfg("debug=fdr"))
    assert seen == [None, None] and os.environ[NVML_CHECK] == "1"
