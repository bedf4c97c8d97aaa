"""RequeueOnSignal in a process that looks like a SLURM job (environment variables, a stand-in
``scontrol`` on PATH): SIGUSR1 saves ``hpc_ckpt_<n>`` after the step and requeues, at most
``max_requeues`` times. (The real cluster: tests/test_slurm.py.)"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import lightning as L
import pytest
import torch

from digitrec.train import train


@pytest.fixture
def slurm_job(monkeypatch, tmp_path) -> Path:
    """Environment of task 0 of SLURM batch job 4242; returns the file the stand-in
    ``scontrol`` appends its arguments to."""
    calls = tmp_path / "scontrol_calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scontrol = bin_dir / "scontrol"
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    scontrol.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for name, value in {
        "SLURM_JOB_ID": "4242",
        "SLURM_JOB_NAME": "train",
        "SLURM_NTASKS": "1",
        "SLURM_NTASKS_PER_NODE": "1",
        "SLURM_PROCID": "0",
        "SLURM_LOCALID": "0",
        "SLURM_NODEID": "0",
        "SLURM_NODELIST": "localhost",
    }.items():
        monkeypatch.setenv(name, value)
    return calls


# two epochs of 10 steps
TRAINING = [
    "test=false",
    "+trainer.limit_train_batches=10",
    "+trainer.limit_val_batches=2",
    "trainer.max_epochs=2",
]


def usr1_after(step: int) -> list[str]:
    """Overrides that send this process SIGUSR1 after training step ``step``."""
    return [
        "+callbacks.usr1._target_=conftest.SignalAtStep",
        f"+callbacks.usr1.step={step}",
        "+callbacks.usr1.signal_name=SIGUSR1",
    ]


OPTIONS = [*TRAINING, *usr1_after(13)]


def test_sigusr1_saves_after_the_step_and_requeues(make_cfg, tmp_path, slurm_job):
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as ended:
        train(make_cfg(*OPTIONS, f"paths.output_dir={run}"))
    assert ended.value.code == 0  # requeued: no failure for a launcher to record
    assert slurm_job.read_text().split() == ["requeue", "4242"]
    state = torch.load(run / "hpc_ckpt_1.ckpt", map_location="cpu", weights_only=True)
    # acted on at the end of the step (checkpoint callbacks, this one too, come last)
    assert state["global_step"] == 13
    record = json.loads((run / "metrics.json").read_text())
    assert record["interrupted"] == "requeued"
    assert record["last_checkpoint"] == str(run / "hpc_ckpt_1.ckpt")
    # a later signal (while testing, say) only sets a flag: the job is not ended by it
    assert signal.getsignal(signal.SIGUSR1) != signal.SIG_DFL


def test_a_signal_at_an_epochs_last_step_saves_after_its_validation_and_resumes_exactly(
    make_cfg, tmp_path, slurm_job, monkeypatch
):
    run = tmp_path / "run"
    with pytest.raises(SystemExit):
        train(make_cfg(*TRAINING, *usr1_after(10), f"paths.output_dir={run}"))
    state = torch.load(run / "hpc_ckpt_1.ckpt", map_location="cpu", weights_only=True)
    # at the end of step 10, the epoch's last: saved once epoch 0 was validated and saved
    assert state["global_step"] == 10
    assert (run / "checkpoints" / "epoch_000.ckpt").is_file()
    assert state["digitrec_val_acc_best"] > 0
    for name in [k for k in os.environ if k.startswith("SLURM_")]:
        monkeypatch.delenv(name)
    resumed = train(make_cfg(*TRAINING, f"ckpt_path={run / 'hpc_ckpt_1.ckpt'}"))
    whole = train(make_cfg(*TRAINING, f"paths.output_dir={tmp_path / 'whole'}"))
    weights, final = (
        torch.load(summary["last_checkpoint"], map_location="cpu", weights_only=True)["state_dict"]
        for summary in (resumed, whole)
    )
    for name in final:
        torch.testing.assert_close(weights[name], final[name], rtol=0, atol=0, msg=name)
    assert resumed["metrics"]["val/acc_best"] == whole["metrics"]["val/acc_best"]


def test_past_max_requeues_it_saves_and_trains_on(
    make_cfg, tmp_path, slurm_job, monkeypatch, caplog_digitrec
):
    monkeypatch.setenv("SLURM_RESTART_COUNT", "2")
    run = tmp_path / "run"
    summary = train(
        make_cfg(
            *OPTIONS,
            "callbacks.requeue_on_signal.max_requeues=2",
            f"paths.output_dir={run}",
        )
    )
    assert summary["epochs"] == 2 and not slurm_job.exists()  # never asked SLURM
    assert (run / "hpc_ckpt_1.ckpt").is_file()
    assert "job 4242 not requeued: it was requeued 2 times already" in caplog_digitrec.text


def test_throttled_progress_bar_updates_every_n_batches_and_at_the_end(monkeypatch, tmp_path):
    from lightning.pytorch.callbacks import RichProgressBar
    from lightning.pytorch.demos.boring_classes import BoringModel

    from digitrec.callbacks import ThrottledRichProgressBar

    updated: list[int] = []
    monkeypatch.setattr(
        RichProgressBar, "on_train_batch_end", lambda self, *a, **k: updated.append(a[-1] + 1)
    )
    trainer = L.Trainer(
        max_epochs=2,
        limit_train_batches=23,
        limit_val_batches=0,
        callbacks=[ThrottledRichProgressBar(every_n_batches=10)],
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(BoringModel())
    # every 10th batch and each epoch's last
    assert updated == [10, 20, 23] * 2
    with pytest.raises(ValueError, match=r"every_n_batches must be >= 1, got 0"):
        ThrottledRichProgressBar(every_n_batches=0)
