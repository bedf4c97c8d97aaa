"""MLflow and Weights & Biases as loggers, offline: what a run writes is read back through
MLflow's own client and W&B's run file; a sweep is one MLflow experiment; a missing package is
one line naming the extra."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import pytest

from digitrec import loggers
from digitrec.train import train
from digitrec.utils.cli import user_errors

QUICK = [
    "trainer.max_epochs=2",
    "+trainer.limit_train_batches=6",
    "+trainer.limit_val_batches=2",
    "+trainer.limit_test_batches=2",
]


def _client(log_dir):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{log_dir / 'mlflow.db'}")


def test_mlflow_records_params_metrics_tags_and_files(make_cfg, tmp_path):
    log_dir = tmp_path / "logs"
    summary = train(make_cfg("logger=[csv,mlflow]", *QUICK, f"paths.log_dir={log_dir}"))
    client = _client(log_dir)
    experiment = client.get_experiment_by_name("train")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "run"  # the run dir's name
    assert run.data.params["model/optimizer/lr"] == "0.001"
    assert run.data.params["data/_target_"].endswith("EmbeddedDataModule")
    history = client.get_metric_history(run.info.run_id, "val/acc")
    assert [round(m.value, 6) for m in history] == [
        round(v, 6) for v in [history[0].value, summary["metrics"]["val/acc"]]
    ]
    tags = run.data.tags
    assert tags["best_checkpoint"] == summary["best_checkpoint"]
    assert json.loads(tags["metrics.json"]) == pytest.approx(summary["metrics"])
    files = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "metrics.json"} <= files
    assert experiment.artifact_location.startswith(str(log_dir))  # not the working dir
    assert (tmp_path / "run" / "csv").is_dir()  # logger=[...] combines loggers


def test_a_sweep_is_one_mlflow_experiment_and_one_wandb_group(data_dir, tmp_path):
    log_dir = tmp_path / "logs"
    command = [
        sys.executable,
        "-m",
        "digitrec.train",
        "-m",
        "logger=[mlflow,wandb]",
        "seed=0,1",
        "trainer=cpu",
        "++callbacks.rich_progress_bar=null",
        "++callbacks.model_summary=null",
        f"paths.data_dir={data_dir}",
        f"paths.log_dir={log_dir}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        *QUICK,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    client = _client(log_dir)
    experiment = client.get_experiment_by_name("train")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.tags["override.seed"] for r in runs) == ["0", "1"]
    assert sorted(r.info.run_name for r in runs) == ["0", "1"]  # the jobs' run dirs
    for job in ("0", "1"):
        (run_file,) = (tmp_path / "sweep" / job / "wandb").glob("offline-run-*/run-*.wandb")
        runs = [r.run for r in _wandb_records(run_file) if r.WhichOneof("record_type") == "run"]
        assert {run.run_group for run in runs} == {"sweep"}  # the sweep dir's name
        assert any(f"seed={job}" in run.tags for run in runs)  # its overrides as tags


def _wandb_records(path):
    """The records of a W&B run file (a LevelDB-style log of protobuf records): W&B has no
    offline reader of its own, and its file format is stable across versions."""
    from wandb.proto import wandb_internal_pb2

    raw, block, pos, pending = path.read_bytes(), 32768, 7, b""  # 7: the file's header
    while pos + 7 <= len(raw):
        left = block - pos % block
        if left < 7:  # a block's tail too short for a chunk header is padding
            pos += left
            continue
        _crc, length, kind = struct.unpack_from("<IHB", raw, pos)
        pos += 7
        if kind == 0 and length == 0:
            pos += left - 7
            continue
        data, pos = raw[pos : pos + length], pos + length
        if kind in (1, 2):  # full, first
            pending = data
        else:  # middle, last
            pending += data
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def test_wandb_offline_writes_the_config_and_final_metrics(make_cfg, tmp_path):
    summary = train(make_cfg("logger=wandb", *QUICK))
    (run_file,) = (tmp_path / "run" / "wandb").glob("offline-run-*/run-*.wandb")
    config, final = {}, {}
    for record in _wandb_records(run_file):
        kind = record.WhichOneof("record_type")
        if kind in ("config", "summary"):
            target = config if kind == "config" else final
            for item in getattr(record, kind).update:
                target[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    assert config["model/optimizer/lr"] == 0.001 and config["trainer/max_epochs"] == 2
    assert final["val/acc"] == pytest.approx(summary["metrics"]["val/acc"])
    assert final["best_checkpoint"] == summary["best_checkpoint"]


@pytest.mark.parametrize(("choice", "extra"), [("mlflow", "mlflow"), ("wandb", "wandb")])
def test_a_tracker_without_its_package_is_one_line(monkeypatch, capsys, choice, extra):
    real = loggers.importlib.util.find_spec
    monkeypatch.setattr(
        loggers.importlib.util, "find_spec", lambda name: None if name == choice else real(name)
    )
    with pytest.raises(SystemExit) as ended, user_errors(loggers.MissingExtraError):
        getattr(loggers, choice)()
    assert ended.value.code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (
        f"error: logger={choice} needs the {choice} package: pip install 'digitrec[{extra}]'"
    )
