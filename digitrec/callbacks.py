"""Lightning callbacks of digitrec's own."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, Checkpoint, ModelCheckpoint, RichProgressBar
from lightning.pytorch.plugins.environments import SLURMEnvironment
from lightning.pytorch.utilities.exceptions import SIGTERMException

log = logging.getLogger(__name__)

_KEY = "digitrec_rng_states"


class RNGStateCheckpoint(Callback):
    """Saves the Python, NumPy and torch (CPU and CUDA) random states in every checkpoint and
    restores them on resume, so that augmentation and dropout continue exactly where the
    interrupted run was: a resumed run then equals an uninterrupted one.

    The states are stored as tensors and plain numbers: checkpoints still load with
    ``weights_only=True``.
    """

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        kind, keys, position, has_gauss, gauss = np.random.get_state()
        version, python_state, python_gauss = random.getstate()
        checkpoint[_KEY] = {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
            "numpy": {
                "keys": torch.from_numpy(keys.astype(np.int64)),
                "position": int(position),
                "has_gauss": int(has_gauss),
                "gauss": float(gauss),
                "kind": str(kind),
            },
            "python": {"version": version, "state": list(python_state), "gauss": python_gauss},
        }

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        states = checkpoint.get(_KEY)
        if not states:  # a checkpoint from before this callback: nothing to restore
            return
        torch.set_rng_state(states["torch"])
        if states["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(states["cuda"])
        numpy_state = states["numpy"]
        np.random.set_state(
            (
                numpy_state["kind"],
                numpy_state["keys"].numpy().astype(np.uint32),
                numpy_state["position"],
                numpy_state["has_gauss"],
                numpy_state["gauss"],
            )
        )
        python_state = states["python"]
        random.setstate(
            (python_state["version"], tuple(python_state["state"]), python_state["gauss"])
        )


class ThrottledRichProgressBar(RichProgressBar):
    """Lightning's rich progress bar, its training bar and metrics updated every
    ``every_n_batches`` batches and at the end of an epoch.

    Lightning's updates both on every batch whatever its ``refresh_rate`` (rich's redraws per
    second): 2-3% of an epoch of the guide's CNN on a 2-core CPU, where a step takes 5 ms.
    """

    def __init__(self, every_n_batches: int = 10, **kwargs: Any) -> None:
        if every_n_batches < 1:
            raise ValueError(
                f"callbacks.rich_progress_bar.every_n_batches must be >= 1, got {every_n_batches}"
            )
        super().__init__(**kwargs)
        self.every_n_batches = int(every_n_batches)

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        done = batch_idx + 1
        if (
            done % self.every_n_batches == 0
            or done == self.total_train_batches
            or self.train_progress_bar_id is None  # the first batch after a mid-epoch restart
        ):
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


class LastCheckpoint(ModelCheckpoint):
    """``<dirpath>/last.ckpt``: the whole training state after every validation and where
    training ends, overwritten each time, so that it always holds the final weights
    (``ckpt_path=last`` resumes from it; digitrec-train reports it as ``last_checkpoint``).

    A ``ModelCheckpoint`` of its own because since Lightning 2.6 a monitoring one with
    ``save_last=True`` writes ``last.ckpt`` only when its metric improves, which leaves the
    best epoch's weights there instead of the last ones.
    """

    def __init__(self, dirpath: str, filename: str = "last") -> None:
        super().__init__(
            dirpath=dirpath,
            filename=filename,
            monitor=None,
            save_top_k=1,
            auto_insert_metric_name=False,
            enable_version_counter=False,  # overwrite last.ckpt, never last-v1.ckpt
        )

    @property
    def path(self) -> str:
        """The file written last ("" before the first save)."""
        return self.best_model_path

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # training that stops where no validation follows (a Timer or max_steps mid-epoch, a
        # last epoch that check_val_every_n_epoch skips) ends with state not saved yet
        if not self._should_skip_saving_checkpoint(trainer):
            self._save_topk_checkpoint(trainer, self._monitor_candidates(trainer))


class SaveOnInterrupt(Callback):
    """Saves ``<dirpath>/last.ckpt`` where a run is interrupted (SIGTERM, Ctrl-C), so that
    ``ckpt_path=last`` resumes from there.

    Lightning's ``OnExceptionCheckpoint`` removes its file again when the run is torn down, so
    it cannot keep ``last.ckpt``; errors (bugs) are not saved: their state is not worth resuming.
    """

    def __init__(self, dirpath: str, filename: str = "last") -> None:
        super().__init__()
        self.path = f"{dirpath}/{filename}.ckpt"

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if isinstance(exception, (SIGTERMException, KeyboardInterrupt)):
            trainer.save_checkpoint(self.path)


class Requeued(Exception):
    """The SLURM job was requeued to resume from ``checkpoint`` (raised to end this attempt)."""

    def __init__(self, checkpoint: Path, job_id: str) -> None:
        super().__init__(f"requeued SLURM job {job_id}; it resumes from {checkpoint}")
        self.checkpoint = checkpoint
        self.job_id = job_id


class RequeueOnSignal(Checkpoint):
    """Under SLURM, on ``SIGUSR1`` (sent ``--signal=USR1@<s>`` before the time limit, or by
    ``scancel -s USR1``): at the end of the training step under way (of the epoch, after its
    validation, when that step is the epoch's last), save
    ``hpc_ckpt_<n>.ckpt`` in the run dir and requeue the job (``scontrol requeue``), at most
    ``max_requeues`` times (default: the SLURM launcher's ``max_num_timeout``). The requeued job
    runs in the same run dir, where Lightning resumes from the newest ``hpc_ckpt``, exactly.

    Lightning's own SLURM handler saves inside the signal handler, wherever the step is (between
    an optimizer step and its progress counters, say), which no resumption can continue
    exactly: :func:`slurm_plugins` switches it off where this callback is used. The handler is
    set when the callback is made, so a signal while the data is prepared is not lost either
    (it is acted on after the first step), and stays: one after training (while testing) no
    longer ends the job. Outside SLURM it does nothing.

    A ``Checkpoint`` callback, so that Lightning calls it after the model's checkpoint
    callbacks, which save an epoch's checkpoints when it ends, before it requeues the job.
    """

    def __init__(self, max_requeues: int | None = None) -> None:
        super().__init__()
        self.max_requeues = max_requeues
        self._signalled = False
        self._armed = self.on_slurm()
        if self._armed:
            # from now on, not only from setup: preparing the data (inside fit, before any
            # callback hook) can take minutes, and SIGUSR1's default action ends the process
            signal.signal(signal.SIGUSR1, self._note)

    @staticmethod
    def on_slurm() -> bool:
        """Is this process a task of a SLURM batch job (not an interactive allocation)?"""
        return SLURMEnvironment.detect()

    def _note(self, signum: int, frame: Any) -> None:
        self._signalled = True  # all a signal handler should do; the work follows the step

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        # not after an epoch's last step: Lightning resumes from there without the validation
        # that follows it, so that epoch's metrics and best checkpoint would be lost
        if not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self._act_on_signal(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._act_on_signal(trainer)

    def _act_on_signal(self, trainer: L.Trainer) -> None:
        """If SIGUSR1 came (on any process): save, requeue and end this attempt."""
        if not self._armed:  # not on SLURM
            return
        signalled = self._signalled
        if trainer.world_size > 1:  # every process stops at the same step
            signalled = trainer.strategy.reduce_boolean_decision(signalled, all=False)
        if not signalled:
            return
        self._signalled = False
        log.info("SIGUSR1 (time limit near, or preempted): saving and requeueing")
        checkpoint = _next_hpc_path(Path(trainer.default_root_dir))
        trainer.save_checkpoint(checkpoint)
        job_id = _job_id()
        restarts = int(os.environ.get("SLURM_RESTART_COUNT", "0"))
        limit = self._limit()
        requeued = False
        if trainer.is_global_zero:
            if restarts >= limit:
                log.warning(
                    "saved %s; job %s not requeued: it was requeued %d times already "
                    "(max_requeues / hydra.launcher.max_num_timeout = %d)",
                    checkpoint,
                    job_id,
                    restarts,
                    limit,
                )
            else:
                requeued = _requeue(job_id)
        if trainer.world_size > 1:
            requeued = trainer.strategy.broadcast(requeued, src=0)
        if requeued:
            raise Requeued(checkpoint, job_id)

    def _limit(self) -> int:
        if self.max_requeues is not None:
            return int(self.max_requeues)
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            launcher = HydraConfig.get().launcher
            if "max_num_timeout" in launcher:
                return int(launcher.max_num_timeout)
        return _DEFAULT_MAX_REQUEUES


#: requeues allowed when neither ``max_requeues`` nor the launcher says (submitit's default)
_DEFAULT_MAX_REQUEUES = 3


def _job_id() -> str:
    """This SLURM job's id (``<array job>_<task>`` for an array task)."""
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array is not None:
        return f"{array}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ["SLURM_JOB_ID"]


def _next_hpc_path(folder: Path) -> Path:
    """``hpc_ckpt_<n>.ckpt`` after the highest ``n`` in ``folder`` (Lightning resumes from it)."""
    numbers = [int(p.stem.rsplit("_", 1)[1]) for p in folder.glob("hpc_ckpt_*.ckpt")]
    return folder / f"hpc_ckpt_{max(numbers, default=0) + 1}.ckpt"


def _requeue(job_id: str) -> bool:
    """``scontrol requeue`` this job; False (and a warning saying why) when SLURM refuses."""
    try:
        done = subprocess.run(
            ["scontrol", "requeue", job_id], capture_output=True, text=True, check=False
        )
    except OSError as err:
        log.warning("could not requeue SLURM job %s: %s", job_id, err)
        return False
    if done.returncode != 0:
        log.warning("SLURM refused to requeue job %s: %s", job_id, done.stderr.strip())
        return False
    log.info("requeued SLURM job %s", job_id)
    return True


def slurm_plugins(callbacks: list[Callback]) -> list[Any]:
    """The Trainer's plugins for a SLURM job whose callbacks include :class:`RequeueOnSignal`:
    Lightning's SLURM environment without its own requeue handler (none elsewhere)."""
    if not any(isinstance(c, RequeueOnSignal) for c in callbacks) or not RequeueOnSignal.on_slurm():
        return []
    return [SLURMEnvironment(auto_requeue=False)]
