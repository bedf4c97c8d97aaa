"""End-to-end training through digitrec.train (CPU, embedded data)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from digitrec.module import DigitClassifier
from digitrec.train import optimized_value, train


def test_fast_dev_run_writes_metrics_and_config(make_cfg, tmp_path):
    summary = train(make_cfg("debug=fdr"))
    run = tmp_path / "run"
    stored = json.loads((run / "metrics.json").read_text())
    assert stored == json.loads(json.dumps(summary))
    assert {"val/acc", "val/loss", "val/acc_best", "test/acc", "test/loss"} <= set(
        summary["metrics"]
    )
    config = (run / "config.yaml").read_text()
    assert "digitrec.nets.SeedCNN" in config and "${" not in config


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


def test_missing_resume_checkpoint_is_a_clear_error(make_cfg, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"ckpt_path=.*nope.ckpt.*no such checkpoint"):
        train(make_cfg("debug=fdr", f"ckpt_path={tmp_path / 'nope.ckpt'}"))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not a readable checkpoint"),
        (b"garbage" * 100, "not a readable checkpoint"),
        (None, "no state_dict"),
    ],
)
def test_damaged_resume_checkpoint_is_a_clear_error(make_cfg, tmp_path, content, reason):
    path = tmp_path / "bad.ckpt"
    if content is None:
        torch.save({"weights": torch.zeros(2)}, path)
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


def test_multirun_of_two_nets(data_dir, tmp_path):
    env = {
        **os.environ,
        "DIGITREC_LOG_DIR": str(tmp_path / "logs"),
        "DIGITREC_DATA_DIR": str(data_dir),
    }
    command = [
        sys.executable,
        "-m",
        "digitrec.train",
        "-m",
        "model/net=seed_cnn,lenet5",
        "debug=fdr",
        "trainer=cpu",
        "callbacks.rich_progress_bar=null",
    ]
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    jobs = sorted(p.parent for p in sweep.glob("*/metrics.json"))
    assert [j.name for j in jobs] == ["0", "1"]
    nets = [(j / "config.yaml").read_text() for j in jobs]
    assert "SeedCNN" in nets[0] and "LeNet5" in nets[1]
