"""Experiment trackers beside CSV and TensorBoard: MLflow and Weights & Biases, offline first.

``logger=mlflow`` and ``logger=wandb`` build Lightning's loggers through :func:`mlflow` and
:func:`wandb`, which first check that the optional package is installed (one line naming the
extra otherwise). :func:`log_run_config` gives them the composed config (flattened params, the
YAML as a file) and, in a sweep, the job's overrides as tags; :func:`log_run_summary` the
outcome (``metrics.json`` and the best checkpoint).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from digitrec.utils.mapping import flatten

_WANDB_TAG_MAX = 64


class MissingExtraError(RuntimeError):
    """An optional feature was chosen without its package installed."""


def _require(module: str, extra: str, choice: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(
            f"{choice} needs the {module} package: pip install 'digitrec[{extra}]'"
        )


def mlflow(**options: Any):
    """Lightning's ``MLFlowLogger`` (``conf/logger/mlflow.yaml`` lists the options)."""
    _require("mlflow", "mlflow", "logger=mlflow")
    from lightning.pytorch.loggers import MLFlowLogger

    return MLFlowLogger(**options)


def wandb(
    offline: bool = True, group: str | None = None, tags: list[str] | None = None, **options: Any
):
    """Lightning's ``WandbLogger``, offline unless ``offline=false`` (then your login applies);
    a sweep's jobs share the ``group`` named after the sweep dir, and the run's overrides are
    its ``tags``, unless given."""
    _require("wandb", "wandb", "logger=wandb")
    from lightning.pytorch.loggers import WandbLogger

    if group is None and (sweep := _sweep_dir()) is not None:
        group = sweep.name
    # W&B refuses tags over 64 characters (long paths): those overrides are in the config only
    tags = [t for t in (job_overrides() if tags is None else tags) if len(t) <= _WANDB_TAG_MAX]
    return WandbLogger(offline=offline, group=group, tags=tags or None, **options)


def job_overrides() -> list[str]:
    """This run's command-line overrides (a sweep's job: its own), when Hydra runs it."""
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def _sweep_dir() -> Path | None:
    """The sweep dir when this process runs a job of a Hydra multirun, else None."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return Path(HydraConfig.get().sweep.dir)
    return None


def flat_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as ``{"model/optimizer/lr": 0.001, ...}`` (lists as their text)."""
    flat = flatten(OmegaConf.to_container(cfg, resolve=True), "/")
    return {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in flat.items()}


def _trackers(loggers: list[Any]) -> tuple[list[Any], list[Any]]:
    from lightning.pytorch.loggers import MLFlowLogger, WandbLogger

    return (
        [x for x in loggers if isinstance(x, MLFlowLogger)],
        [x for x in loggers if isinstance(x, WandbLogger)],
    )


def log_run_config(loggers: list[Any], cfg: DictConfig, overrides: list[str]) -> None:
    """Give MLflow and W&B the composed config and, in a sweep, this job's ``overrides``."""
    mlflows, wandbs = _trackers(loggers)
    if not mlflows and not wandbs:
        return
    params = flat_config(cfg)
    text = OmegaConf.to_yaml(cfg, resolve=True)
    tags = {f"override.{o.split('=', 1)[0].lstrip('+~')}": o.split("=", 1)[-1] for o in overrides}
    for logger in mlflows:
        logger.log_hyperparams(params)
        logger.experiment.log_text(logger.run_id, text, "config.yaml")
        for key, value in tags.items():
            logger.experiment.set_tag(logger.run_id, key, value)
    for logger in wandbs:  # (its tags, the overrides, were given when it was made)
        logger.experiment.config.update(params, allow_val_change=True)


def log_run_summary(loggers: list[Any], summary: dict[str, Any], metrics_file: Path) -> None:
    """Give MLflow and W&B the run's outcome: its metrics and best checkpoint."""
    mlflows, wandbs = _trackers(loggers)
    best = summary.get("best_checkpoint") or summary.get("last_checkpoint") or ""
    for logger in mlflows:
        client, run = logger.experiment, logger.run_id
        client.set_tag(run, "best_checkpoint", best)
        client.set_tag(run, "metrics.json", json.dumps(summary["metrics"]))
        if metrics_file.is_file():
            client.log_artifact(run, str(metrics_file))
    for logger in wandbs:
        logger.experiment.summary.update({**summary["metrics"], "best_checkpoint": best})
        # the run is complete: written out now (Lightning leaves it open until exit)
        logger.experiment.finish()
