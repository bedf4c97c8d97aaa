"""Multiruns at scale: grid sweeps, Optuna, the summary, submitit, SLURM config and DDP on CPUs."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from digitrec.config import compose_config
from digitrec.sweep_summary import main as summary_main
from digitrec.sweep_summary import summarize

QUIET = ["trainer=cpu", "callbacks.rich_progress_bar=null", "callbacks.model_summary=null"]


def run_train(data_dir: Path, log_dir: Path, *overrides: str, timeout: int = 400):
    env = {**os.environ, "DIGITREC_LOG_DIR": str(log_dir), "DIGITREC_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "digitrec.train", *overrides]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def only_sweep(log_dir: Path) -> Path:
    (sweep,) = (log_dir / "train" / "multiruns").iterdir()
    return sweep


def read_csv(path: Path) -> list[dict]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_grid_multirun_runs_every_job_and_summarises_them(data_dir, tmp_path):
    done = run_train(
        data_dir,
        tmp_path,
        "-m",
        "model/net=guide_cnn,lenet5",
        "model.optimizer.lr=1e-3,3e-3",
        "debug=limit",
        *QUIET,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    sweep = only_sweep(tmp_path)
    jobs = sorted(p.parent.name for p in sweep.glob("*/metrics.json"))
    assert jobs == ["0", "1", "2", "3"]
    rows = read_csv(sweep / "summary.csv")
    assert sorted(r["job"] for r in rows) == jobs
    scores = [float(r["val/acc_best"]) for r in rows]
    assert scores == sorted(scores, reverse=True)  # sorted by the optimized metric
    assert {r["overrides"] for r in rows} == {
        f"model/net={net} model.optimizer.lr={lr}"
        for net in ("guide_cnn", "lenet5")
        for lr in ("0.001", "0.003")
    }
    assert all(Path(r["checkpoint"]).is_file() for r in rows)
    markdown = (sweep / "summary.md").read_text()
    assert "Every job: `" in markdown and markdown.count("| ok |") == 4
    assert (sweep / "summary.png").stat().st_size > 0
    # every job dir is its own, and the configs differ as asked
    configs = {(sweep / j / "config.yaml").read_text() for j in jobs}
    assert len(configs) == 4


def test_seeds_are_aggregated_and_the_command_rewrites_a_summary(data_dir, tmp_path, capsys):
    done = run_train(data_dir, tmp_path, "-m", "seed=0,1,2", "debug=fdr", *QUIET)
    assert done.returncode == 0, done.stderr[-3000:]
    sweep = only_sweep(tmp_path)
    (group,) = read_csv(sweep / "summary_by_config.csv")
    values = [float(r["val/acc_best"]) for r in read_csv(sweep / "summary.csv")]
    assert group["runs"] == "3"
    assert float(group["mean"]) == pytest.approx(sum(values) / 3)
    assert float(group["min"]) == min(values) and float(group["max"]) == max(values)
    (sweep / "summary.md").unlink()
    summary_main([str(sweep), "--metric", "test/acc"])
    assert "`test/acc`, highest first" in capsys.readouterr().out
    assert (sweep / "summary.md").is_file()
    with pytest.raises(SystemExit):
        summary_main([str(tmp_path / "nope")])


def test_summary_marks_failed_jobs(tmp_path):
    for job, metrics in (("0", {"val/acc_best": 0.5}), ("1", None), ("2", {"val/acc_best": 0.7})):
        (tmp_path / job / ".hydra").mkdir(parents=True)
        (tmp_path / job / ".hydra" / "overrides.yaml").write_text(f"- model.optimizer.lr={job}\n")
        if metrics is not None:
            (tmp_path / job / "metrics.json").write_text(json.dumps({"metrics": metrics}))
    paths = summarize(tmp_path)
    rows = read_csv(paths["csv"])
    assert [(r["job"], r["status"]) for r in rows] == [("2", "ok"), ("0", "ok"), ("1", "failed")]
    with pytest.raises(ValueError, match="no job dirs"):
        summarize(tmp_path / "0")


def test_optuna_search_survives_a_failing_trial_and_keeps_its_study(data_dir, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    done = run_train(
        data_dir,
        tmp_path,
        "hparams_search=optuna",
        # random sampling with this seed tries -1.0 first, then 0.001 (with the grid sampler the
        # sweeper plugin crashes when the grid's last trial fails, whichever order it shuffles)
        "hydra/sweeper/sampler=random",
        "hydra.sweeper.sampler.seed=0",
        # a negative learning rate makes the optimizer refuse: that trial fails
        "hydra.sweeper.params={model/net: guide_cnn, data.batch_size: 32, augment: none,"
        " model.optimizer.lr: 'choice(0.001, -1.0)'}",
        "hydra.sweeper.n_trials=2",
        "debug=fdr",
        *QUIET,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    sweep = only_sweep(tmp_path)
    assert (sweep / "optuna.db").stat().st_size > 0
    rows = read_csv(sweep / "summary.csv")
    assert sorted((r["job"], r["status"]) for r in rows) == [("0", "failed"), ("1", "ok")]
    import optuna

    study = optuna.load_study(study_name="digitrec", storage=f"sqlite:///{sweep / 'optuna.db'}")
    states = sorted(t.state.name for t in study.trials)
    assert states == ["COMPLETE", "FAIL"]


def test_submitit_local_launcher_runs_two_jobs(data_dir, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    done = run_train(
        data_dir, tmp_path, "-m", "hydra/launcher=submitit_local", "seed=0,1", "debug=fdr", *QUIET
    )
    assert done.returncode == 0, done.stderr[-3000:]
    sweep = only_sweep(tmp_path)
    assert sorted(p.parent.name for p in sweep.glob("*/metrics.json")) == ["0", "1"]
    assert (sweep / ".submitit").is_dir()
    assert len(read_csv(sweep / "summary.csv")) == 2


def test_slurm_launcher_config_requeues_through_lightning():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from submitit.slurm.slurm import _make_sbatch_string

    cfg = compose_config_with_hydra(
        [
            "hydra/launcher=slurm",
            "hydra.launcher.partition=gpu",
            "hydra.launcher.nodes=2",
            "hydra.launcher.gpus_per_node=4",
            "hydra.launcher.tasks_per_node=4",
        ]
    )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    script = _make_sbatch_string(
        command="python -m digitrec.train",
        folder="/tmp/x",
        partition=launcher.partition,
        nodes=launcher.nodes,
        ntasks_per_node=launcher.tasks_per_node,
        gpus_per_node=launcher.gpus_per_node,
        time=launcher.timeout_min,
        signal_delay_s=launcher.signal_delay_s,
        additional_parameters=dict(launcher.additional_parameters),
    )
    assert "#SBATCH --signal=USR1@120" in script  # Lightning's requeue signal, not submitit's
    assert "#SBATCH --requeue" in script and "#SBATCH --partition=gpu" in script
    # the command line's cluster shape reaches the job script
    for line in ("--nodes=2", "--ntasks-per-node=4", "--gpus-per-node=4"):
        assert f"#SBATCH {line}" in script, line


def compose_config_with_hydra(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    from digitrec.config import config_dir, register_resolvers

    register_resolvers()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=True)


def test_ddp_on_two_cpu_processes_tests_every_image_once(data_dir, tmp_path):
    common = ["data.test_fraction=0.21"]  # 1,105 test images: an odd count two shares cannot split
    done = run_train(
        data_dir,
        tmp_path,
        "trainer=ddp_cpu",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=5",
        "+trainer.limit_val_batches=1",
        "data.global_batch_size=64",
        "callbacks.rich_progress_bar=null",
        *common,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "training batch: 32 per process x 2 processes = 64" in done.stdout + done.stderr
    (run,) = (tmp_path / "train" / "runs").iterdir()
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["epochs"] == 1
    assert done.stdout.count("run dir") == 1  # one report, from rank 0
    # the same checkpoint evaluated in one process: DDP's test accuracy counted each image once
    from digitrec.evaluate import evaluate

    report = evaluate(
        compose_config(
            "eval",
            [
                f"model_path={summary['best_checkpoint']}",
                f"paths.data_dir={data_dir}",
                f"paths.output_dir={tmp_path / 'eval'}",
                *common,
            ],
        )
    )
    assert report["count"] == 1105
    assert summary["metrics"]["test/acc"] == pytest.approx(report["accuracy"], abs=1e-6)


def test_global_batch_size_must_divide_among_processes():
    from digitrec.data.datamodule import EmbeddedDataModule

    module = EmbeddedDataModule(root="unused", preprocess={}, global_batch_size=100)
    assert module.per_device_batch_size(4) == 25
    with pytest.raises(ValueError, match=r"global_batch_size=100 does not divide evenly among 3"):
        module.per_device_batch_size(3)
    assert compose_config("train", ["trainer=ddp"]).trainer.strategy == "ddp"
