"""digitrec on a real one-node SLURM cluster (``scripts/local_slurm.sh``): a sweep through
``hydra/launcher=slurm_cpu``, a job preempted mid-epoch that requeues and resumes exactly, and a
job over its time limit requeued at most ``max_num_timeout`` times.

Marked ``slurm`` (``pytest -m slurm``): they need root and Debian's slurmctld, slurmd and munge.
Elsewhere they skip saying so; under ``CI=true`` a missing cluster is a failure.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from digitrec.utils.net import free_local_port

pytestmark = pytest.mark.slurm

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "local_slurm.sh"
TOOLS = ("munged", "slurmctld", "slurmd", "sbatch", "scontrol", "squeue")


@pytest.fixture(scope="module")
def slurm(tmp_path_factory) -> Iterator[dict[str, str]]:
    """A one-node SLURM cluster for this module: the environment its commands need."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    reason = None
    if missing:
        reason = f"SLURM is not installed ({', '.join(missing)} missing)"
    elif os.geteuid() != 0:
        reason = "the local SLURM cluster runs its daemons as root"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: CI must run the SLURM tests (see .ci/run)")
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("slurm")
    ports = {"SLURMCTLD_PORT": str(free_local_port()), "SLURMD_PORT": str(free_local_port())}
    started = subprocess.run(
        ["bash", str(SCRIPT), "start", str(state)],
        capture_output=True,
        text=True,
        env={**os.environ, **ports},
        check=False,
    )
    assert started.returncode == 0, started.stderr
    env = {**os.environ, "SLURM_CONF": str(state / "slurm.conf")}
    try:
        yield env
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(state)], check=False)


def _wait(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _jobs(env: dict[str, str]) -> dict[str, str]:
    """Every job SLURM knows (array tasks one by one): id -> state."""
    shown = subprocess.run(
        ["squeue", "-h", "-r", "-o", "%i %T"], capture_output=True, text=True, env=env, check=True
    )
    return dict(line.split() for line in shown.stdout.splitlines())


def _job_info(job: str, env: dict[str, str]) -> str:
    return subprocess.run(
        ["scontrol", "show", "job", job], capture_output=True, text=True, env=env, check=True
    ).stdout


def _hurry(job: str, env: dict[str, str]) -> None:
    """Start a requeued job now (SLURM holds it back a while before it may start again)."""
    _wait(lambda: _jobs(env).get(job) == "PENDING", 60, f"job {job} to be requeued")
    subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], env=env, check=True)


def _sweep(sweep_dir: Path, data_dir: Path, env: dict[str, str], *overrides: str):
    command = [
        sys.executable,
        "-m",
        "digitrec.train",
        "-m",
        "hydra/launcher=slurm_cpu",
        "hydra.launcher.partition=debug",
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.mem_gb=2",
        f"hydra.sweep.dir={sweep_dir}",
        "trainer=cpu",
        f"paths.data_dir={data_dir}",
        "++callbacks.rich_progress_bar=null",
        "++callbacks.model_summary=null",
        "data.batch_size=8",
        *overrides,
    ]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


def _log_says(run_dir: Path, text: str) -> bool:
    log = run_dir / "train.log"
    return log.is_file() and text in log.read_text()


def _job_errors(sweep_dir: Path, job: str) -> str:
    """What the job's attempts wrote to stderr (submitit's log; Lightning's messages)."""
    return "".join(p.read_text() for p in sweep_dir.glob(f".submitit/*/{job}_*log.err"))


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_a_sweep_whose_job_is_preempted_mid_epoch_ends_as_if_it_never_was(
    slurm, data_dir, tmp_path
):
    sweep_dir = tmp_path / "sweep"
    # two jobs alike but for a tag: job 0 is preempted, job 1 runs through
    launcher = _sweep(sweep_dir, data_dir, slurm, "trainer.max_epochs=2", "+tag=a,b")
    try:
        _wait(lambda: len(_jobs(slurm)) == 2, 60, "the sweep's 2 jobs")
        job = next(j for j in _jobs(slurm) if j.endswith("_0"))
        _wait(lambda: _log_says(sweep_dir / "0", "training batch"), 120, "job 0 to train")
        time.sleep(2)  # mid-epoch
        subprocess.run(["scancel", "-s", "USR1", job], env=slurm, check=True)
        _wait(lambda: (sweep_dir / "0" / "hpc_ckpt_1.ckpt").is_file(), 60, "the hpc checkpoint")
        _hurry(job, slurm)
        output, _ = launcher.communicate(timeout=600)  # a busy 2-core machine runs both jobs slowly
    finally:
        launcher.kill()
    assert launcher.returncode == 0, output
    with open(sweep_dir / "summary.csv") as file:
        rows = list(csv.DictReader(file))
    assert sorted((row["job"], row["status"]) for row in rows) == [("0", "ok"), ("1", "ok")]
    assert f"Restored all states from the checkpoint at {sweep_dir / '0' / 'hpc_ckpt_1.ckpt'}" in (
        _job_errors(sweep_dir, job)
    )
    assert "Restarts=1" in _job_info(job, slurm)
    # the preempted job's final weights are the uninterrupted one's, bit for bit
    preempted = _weights(sweep_dir / "0" / "checkpoints" / "last.ckpt")
    through = _weights(sweep_dir / "1" / "checkpoints" / "last.ckpt")
    assert preempted.keys() == through.keys()
    for name in through:
        torch.testing.assert_close(preempted[name], through[name], rtol=0, atol=0, msg=name)
    metrics = [row["val/acc_best"] for row in rows]
    assert metrics[0] == metrics[1]


def test_a_job_over_its_time_limit_requeues_at_most_max_num_timeout_times(
    slurm, data_dir, tmp_path
):
    sweep_dir = tmp_path / "sweep"
    run = sweep_dir / "0"
    # SIGUSR1 45 s before a 2 minute limit: SLURM may send it up to 60 s early, so 15-75 s
    # after the start, after Python has started (a signal before that would end the process)
    launcher = _sweep(
        sweep_dir,
        data_dir,
        slurm,
        "hydra.launcher.timeout_min=2",
        "hydra.launcher.signal_delay_s=45",
        "hydra.launcher.max_num_timeout=1",
        "trainer.max_epochs=-1",  # until the time limit
        "seed=0",
    )
    try:
        job = _wait(lambda: next(iter(_jobs(slurm)), None), 60, "the job")
        _wait(lambda: (run / "hpc_ckpt_1.ckpt").is_file(), 150, "the first hpc checkpoint")
        _hurry(job, slurm)
        # the second attempt saves again but is not requeued: the time limit ends it
        _wait(lambda: (run / "hpc_ckpt_2.ckpt").is_file(), 150, "the second hpc checkpoint")
        _wait(lambda: job not in _jobs(slurm), 210, "the time limit to end the job")
    finally:
        launcher.kill()  # it would wait for a result the timed-out job never writes
        launcher.communicate()
    info = _job_info(job, slurm)
    assert "JobState=TIMEOUT" in info and "Restarts=1" in info, info
    assert _log_says(run, "not requeued: it was requeued 1 times already")
    assert f"Restored all states from the checkpoint at {run / 'hpc_ckpt_1.ckpt'}" in (
        _job_errors(sweep_dir, job)
    )
    # the second attempt resumed from the first one's checkpoint
    step_1 = torch.load(run / "hpc_ckpt_1.ckpt", map_location="cpu", weights_only=True)
    step_2 = torch.load(run / "hpc_ckpt_2.ckpt", map_location="cpu", weights_only=True)
    assert step_2["global_step"] > step_1["global_step"] > 0
