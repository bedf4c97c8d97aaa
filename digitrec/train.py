"""Train and test a digit classifier: ``python -m digitrec.train`` / ``digitrec-train``."""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint, Timer
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf, open_dict
from rich.console import Console

from digitrec.callbacks import LastCheckpoint, Requeued, slurm_plugins
from digitrec.checkpoint import CheckpointError, load_net_weights, net_config, read_checkpoint
from digitrec.config import config_dir, register_resolvers
from digitrec.data.cache import TooManyBadImagesError
from digitrec.data.split import Side
from digitrec.loggers import MissingExtraError, job_overrides, log_run_config, log_run_summary
from digitrec.run_record import record_config, resume_arguments
from digitrec.utils.cli import user_errors
from digitrec.utils.cuda_check import nvml_cuda_check_kept
from digitrec.utils.instantiate import instantiate_named
from digitrec.utils.malloc import tune_glibc_malloc

log = logging.getLogger(__name__)
register_resolvers()


class _NothingToActOn(logging.Filter):
    """Drop Lightning's messages a user cannot act on: the advert for its cloud logger, and the
    notice that our model summary callback replaces its default one."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "litlogger" not in message and "Skipping setting a default" not in message


for _name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
    logging.getLogger(_name).addFilter(_NothingToActOn())


class _SacctOnce(logging.Filter):
    """submitit polls SLURM's accounting (``sacct``) for job states and warns on every poll
    when a cluster keeps none; it then waits for each job's result file instead, which works.
    Said once, as what it means."""

    said = False

    def filter(self, record: logging.LogRecord) -> bool:
        if "Bypassing sacct error" not in record.getMessage():
            return True
        if _SacctOnce.said:
            return False
        _SacctOnce.said = True
        record.msg, record.args = _NO_SACCT, ()
        record.levelno, record.levelname = logging.INFO, "INFO"
        return True


_NO_SACCT = (
    "SLURM accounting (sacct) is off on this cluster: job states come from the jobs' result "
    "files (sacct's own 'Slurm accounting storage is disabled' lines are harmless)"
)
logging.getLogger("submitit").addFilter(_SacctOnce())

# Batches are gathered from memory in the main process: worker processes would only add overhead.
warnings.filterwarnings("ignore", ".*does not have many workers.*")
warnings.filterwarnings("ignore", ".*smaller than the logging interval.*")
# Lightning's own use of a torch API it deprecates (lightning.pytorch.utilities._pytree)
warnings.filterwarnings("ignore", ".*LeafSpec.*")


def _resume_path(ckpt_path: str | None, output_dir: Path, model: Any) -> str | None:
    """The checkpoint to resume from; ``last`` is this run dir's ``checkpoints/last.ckpt`` if one
    exists (a restarted or requeued job), else a fresh start."""
    if ckpt_path is None:
        return None
    if ckpt_path == "last":
        last = output_dir / "checkpoints" / "last.ckpt"
        if not last.is_file():
            log.info("ckpt_path=last: no %s yet, starting from scratch", last)
            return None
        ckpt_path = str(last)
    # fail here with the key's name, not deep inside Lightning with a pickle error
    state = read_checkpoint(ckpt_path, key="ckpt_path")
    _check_resumable(state, ckpt_path, model)
    return str(Path(ckpt_path).expanduser())


def _check_resumable(state: dict[str, Any], ckpt_path: str, model: Any) -> None:
    """A checkpoint resumes only the net and optimizer it was trained with (Lightning would
    fail deep inside with a ``KeyError`` or a shape mismatch): one line naming both."""
    missing = [
        k for k in ("pytorch-lightning_version", "optimizer_states", "loops") if k not in state
    ]
    if missing:
        raise CheckpointError(
            f"ckpt_path={ckpt_path!r} holds weights but not the training state a resume needs "
            f"(no {', '.join(missing)}): start from its weights with init_from= instead"
        )
    stored = state.get("hyper_parameters") or {}
    for part in ("net", "optimizer"):
        was = (stored.get(part) or {}).get("_target_")
        now = (model.hparams.get(part) or {}).get("_target_")
        if was and now and was != now:
            raise ValueError(
                f"ckpt_path={ckpt_path!r} was trained with model.{part} {was}, but this run's "
                f"is {now}: resume with the same model (or start from its weights: init_from=)"
            )


def _pretrained_net(cfg: DictConfig) -> dict[str, Any] | None:
    """Read ``init_from`` (fine-tuning) and make ``cfg.model.net`` the checkpoint's net config,
    so the weights fit whatever net the command line named."""
    if not cfg.get("init_from"):
        return None
    state = read_checkpoint(cfg.init_from, key="init_from")
    stored = net_config(state, cfg.init_from, key="init_from")
    if OmegaConf.to_container(cfg.model.net, resolve=True) != stored:
        log.info("init_from: using the checkpoint's net %s", stored.get("_target_"))
    with open_dict(cfg):
        cfg.model.net = stored
    return state


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    return {name: float(value) for name, value in metrics.items()}


def _train_loop_seconds(trainer: L.Trainer) -> float | None:
    """Seconds from the first to the end of the last training epoch (validation included)."""
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    return round(timer.time_elapsed("train"), 3) if timer else None


def _check_run_settings(cfg: DictConfig) -> None:
    """Settings that would otherwise fail only after the data is prepared (or, for 0 epochs,
    test an untrained net): one error naming the key, before any slow work."""
    seed = cfg.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed must be an integer or null, got {seed!r}")
    epochs = cfg.trainer.get("max_epochs")
    if epochs is not None and (
        isinstance(epochs, bool) or not isinstance(epochs, int) or (epochs < 1 and epochs != -1)
    ):
        raise ValueError(f"trainer.max_epochs must be a whole number >= 1 (or -1), got {epochs!r}")
    lr = (cfg.get("model") or {}).get("optimizer", {}).get("lr")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0):
        raise ValueError(f"model.optimizer.lr must be a number > 0, got {lr!r}")


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit ``cfg.model`` on ``cfg.data``, test it, and write ``metrics.json`` and ``config.yaml``.

    Returns the contents of ``metrics.json``: ``metrics`` (final val and test metrics), the best
    and last checkpoint paths, and which checkpoint was tested.
    """
    _check_run_settings(cfg)
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    if cfg.get("tune_malloc", True):
        tune_glibc_malloc()
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    pretrained = _pretrained_net(cfg)
    if rank_zero_only.rank == 0:
        record_config(cfg, output_dir)

    # data and model receive their sub-configs as plain configs: they build their parts themselves
    # and the model stores them in its checkpoint
    datamodule = instantiate(cfg.data, _recursive_=False)
    model = instantiate(cfg.model, _recursive_=False)
    if pretrained is not None:
        load_net_weights(model.net, pretrained, cfg.init_from)
        log.info("initialised the net from %s", cfg.init_from)
    callbacks = instantiate_named(cfg.get("callbacks"), "callbacks")
    loggers = instantiate_named(cfg.get("logger"), "logger")
    extra = {}
    if (plugins := slurm_plugins(callbacks)) and not cfg.trainer.get("plugins"):
        extra["plugins"] = plugins
    trainer: L.Trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, **extra
    )

    log_run_config(loggers, cfg, job_overrides())
    resume_from = _resume_path(cfg.get("ckpt_path"), output_dir, model)
    began = time.perf_counter()
    try:
        with nvml_cuda_check_kept():  # the module suspends it while it trains
            trainer.fit(model, datamodule=datamodule, ckpt_path=resume_from)
    except SIGTERMException:
        # Lightning stops cleanly on SIGTERM but exits 0, which a scheduler takes for success:
        # record the interruption and exit as a terminated process does
        _record_interruption(trainer, output_dir, "SIGTERM", output_dir / "checkpoints/last.ckpt")
        raise SystemExit(128 + signal.SIGTERM) from None
    except Requeued as requeued:
        # SLURM starts the job again in this run dir; SystemExit (not an error) so that a
        # launcher (submitit) records no failure for this attempt
        _record_interruption(trainer, output_dir, "requeued", requeued.checkpoint)
        raise SystemExit(0) from None
    fit_seconds = time.perf_counter() - began
    # read now: testing a checkpoint restores the Timer's state from that checkpoint
    train_loop_seconds = _train_loop_seconds(trainer)
    metrics = _scalars(trainer.callback_metrics)

    best, last = _checkpoint_paths(trainer)
    tested = None
    if cfg.get("test", True) and not getattr(datamodule, "has_test_split", True):
        log.info("no test split (data.test_fraction=0): the model is not tested")
    elif cfg.get("test", True):
        # "best" is chosen on validation; when validation ran on the test split, that choice
        # would peek at the test set, so the final weights are tested instead
        use_best = bool(best) and not getattr(datamodule, "validates_on_test", False)
        tested = "best" if use_best else "last"
        trainer.test(model, datamodule=datamodule, ckpt_path=best if use_best else None)
        metrics.update(_scalars(trainer.callback_metrics))

    if cfg.get("report") and tested and trainer.is_global_zero:
        summary_dir = write_test_report(model, datamodule, cfg.preprocess, output_dir / "report")
        log.info("test report written to %s", summary_dir)

    summary = {
        "metrics": _reported(metrics),
        "best_checkpoint": best or None,
        "last_checkpoint": last or None,
        "tested_checkpoint": tested,
        "epochs": trainer.current_epoch,
        "fit_seconds": round(fit_seconds, 3),
        "train_loop_seconds": train_loop_seconds,
    }
    if trainer.is_global_zero:
        (output_dir / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
        log_run_summary(loggers, summary, output_dir / "metrics.json")
    return summary


def _checkpoint_paths(trainer: L.Trainer) -> tuple[str, str]:
    """The best checkpoint (the first ``ModelCheckpoint`` that keeps the best, other checkpoint
    callbacks may be configured beside it) and the last one (:class:`LastCheckpoint`'s file, or
    that callback's ``last.ckpt`` where ``save_last`` is set); "" for none."""
    keepers = [c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint)]
    best_keeper = next((c for c in keepers if not isinstance(c, LastCheckpoint)), None)
    last_keeper = next((c for c in keepers if isinstance(c, LastCheckpoint)), None)
    best = best_keeper.best_model_path if best_keeper else ""
    last = last_keeper.path if last_keeper else ""
    if not last and best_keeper:
        last = best_keeper.last_model_path
    return best, last


def _reported(metrics: dict[str, float]) -> dict[str, float]:
    """The validation and test metrics that metrics.json reports, sorted by name."""
    return {k: v for k, v in sorted(metrics.items()) if k.startswith(("val/", "test/"))}


def _record_interruption(
    trainer: L.Trainer, output_dir: Path, reason: str, checkpoint: Path
) -> None:
    """metrics.json of a run stopped before the end: what it reached and where it was saved."""
    if not trainer.is_global_zero:
        return
    summary = {
        "interrupted": reason,
        "epochs": trainer.current_epoch,
        "global_step": trainer.global_step,
        "metrics": _reported(_scalars(trainer.callback_metrics)),
        "last_checkpoint": str(checkpoint) if checkpoint.is_file() else None,
    }
    (output_dir / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    log.warning(
        "interrupted (%s) at epoch %d, step %d; saved %s",
        reason,
        trainer.current_epoch,
        trainer.global_step,
        checkpoint,
    )


def write_test_report(
    model: L.LightningModule, datamodule: Any, preprocess: Any, out_dir: Path
) -> Path:
    """The evaluation report (as ``digitrec-eval`` writes it) of the tested weights on the test
    split, in ``out_dir``."""
    from digitrec.inference import Recognizer, TorchBackend
    from digitrec.inference.evaluation import evaluate_split
    from digitrec.report import write_report

    recognizer = Recognizer(TorchBackend(model.net, "cpu"), preprocess)
    result = evaluate_split(recognizer, datamodule, Side.TEST)
    write_report(result, out_dir, {"model": "tested weights", "data": datamodule.describe()})
    return out_dir


def optimized_value(summary: dict[str, Any], name: str | None) -> float | None:
    """The metric a sweeper optimises (``optimized_metric``), or None when none is named."""
    if not name:
        return None
    metrics = summary["metrics"]
    if name not in metrics:
        raise KeyError(
            f"optimized_metric={name!r} was not logged; logged: {', '.join(sorted(metrics))}"
        )
    return metrics[name]


def _in_multirun() -> bool:
    """Is this run one job of a Hydra multirun (a sweep)?"""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point: train, print where everything went, return the optimized metric.
    A user's error (a missing or bad data root, a bad value, an unusable checkpoint) is one line
    on stderr and exit 1; ``HYDRA_FULL_ERROR=1`` shows the traceback instead, and in a sweep the
    error is raised for the launcher to record."""
    # a sweep's job must raise: its launcher or sweeper records the failure and goes on
    with user_errors(TooManyBadImagesError, MissingExtraError, raise_if=_in_multirun):
        summary = train(cfg)
    if rank_zero_only.rank != 0:  # DDP: every process runs main(); one report is enough
        return optimized_value(summary, cfg.get("optimized_metric"))
    console = Console(soft_wrap=True)
    console.print(f"[bold]run dir[/bold]    {cfg.paths.output_dir}")
    console.print(
        f"[bold]checkpoint[/bold] {summary['best_checkpoint'] or summary['last_checkpoint']}"
    )
    shown = ", ".join(f"{k}={v:.4f}" for k, v in summary["metrics"].items() if k.endswith("acc"))
    console.print(f"[bold]metrics[/bold]    {shown}")
    return optimized_value(summary, cfg.get("optimized_metric"))


def cli() -> None:
    """``digitrec-train``: :func:`main`, resuming a run with the overrides it was started with
    (:mod:`digitrec.run_record`)."""
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    with user_errors():
        sys.argv[1:] = resume_arguments(sys.argv[1:], stamp)
    main()


if __name__ == "__main__":
    cli()
