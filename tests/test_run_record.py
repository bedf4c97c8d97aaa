"""Resuming a run: its own overrides come back, its record is never rewritten."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from digitrec.run_record import resume_arguments, resumed_run_dir


def _recorded_run(tmp_path: Path, overrides: list[str]) -> Path:
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    return run


def test_resuming_in_place_puts_the_runs_overrides_first_and_keeps_its_record(tmp_path):
    run = _recorded_run(tmp_path, ["model/optimizer=sgd", "trainer.max_epochs=10", "seed=3"])
    args = ["ckpt_path=last", "trainer.max_epochs=20", f"hydra.run.dir={run}"]
    assert resume_arguments(args, "t") == [
        "model/optimizer=sgd",
        "seed=3",
        *args,
        "hydra.output_subdir=.hydra/resumed-t",
    ]


def test_a_checkpoint_of_a_run_brings_its_overrides_into_a_new_run_dir(tmp_path):
    run = _recorded_run(tmp_path, ["model/net=lenet5", "ckpt_path=old.ckpt"])
    args = [f"ckpt_path={run / 'checkpoints' / 'epoch_003.ckpt'}"]
    assert resumed_run_dir(args) == run
    assert resume_arguments(args, "t") == ["model/net=lenet5", *args]


@pytest.mark.parametrize(
    "args",
    [
        ["trainer.max_epochs=3"],  # not a resume
        ["ckpt_path=last"],  # no run dir named: a fresh one
        ["ckpt_path=null"],
        ["ckpt_path=/somewhere/model.ckpt"],  # not in a run dir
    ],
)
def test_anything_else_is_left_as_it_is(tmp_path, args):
    assert resume_arguments(args, "t") == args


def test_a_damaged_record_is_one_error_naming_it(tmp_path):
    run = _recorded_run(tmp_path, [])
    (run / ".hydra" / "overrides.yaml").write_text("{a: 1}")
    with pytest.raises(ValueError, match=r"overrides\.yaml is not a list of overrides"):
        resume_arguments(["ckpt_path=last", f"hydra.run.dir={run}"], "t")


def _train(data_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "digitrec.train",
        f"paths.data_dir={data_dir}",
        "trainer=cpu",
        "test=false",
        "data.batch_size=256",
        "++callbacks.rich_progress_bar=null",
        *overrides,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def test_resume_last_trains_the_runs_own_model_and_leaves_its_record(data_dir, tmp_path):
    run = tmp_path / "run"
    first = _train(data_dir, "model/optimizer=sgd", "trainer.max_epochs=1", f"hydra.run.dir={run}")
    assert first.returncode == 0, first.stderr[-2000:]
    # nothing a user cannot act on (Lightning's deprecation of its own code, its notice that
    # our model summary replaces its default one)
    said = first.stdout + first.stderr
    assert "LeafSpec" not in said and "Skipping setting a default" not in said
    record = [
        run / "config.yaml",
        run / ".hydra" / "config.yaml",
        run / ".hydra" / "overrides.yaml",
    ]
    before = [path.read_bytes() for path in record]

    # as the README says: the run dir and what to change, nothing else
    again = _train(data_dir, "ckpt_path=last", "trainer.max_epochs=2", f"hydra.run.dir={run}")
    assert again.returncode == 0, again.stderr[-2000:]
    assert [path.read_bytes() for path in record] == before
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["epoch"] == 1  # the second epoch ran
    assert state["hyper_parameters"]["optimizer"]["_target_"] == "torch.optim.SGD"
    resumed = yaml.safe_load((run / "config.resumed.yaml").read_text())
    assert resumed["trainer"]["max_epochs"] == 2
    assert list((run / ".hydra").glob("resumed-*/overrides.yaml"))

    # another optimizer cannot take over the checkpoint's state: one line naming both
    other = _train(data_dir, "ckpt_path=last", "model/optimizer=adam", f"hydra.run.dir={run}")
    assert other.returncode == 1
    errors = [line for line in other.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "torch.optim.SGD" in errors[0] and "Adam" in errors[0], other.stderr
    assert "Traceback" not in other.stderr
    assert [path.read_bytes() for path in record] == before
