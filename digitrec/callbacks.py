"""Lightning callbacks of digitrec's own."""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.exceptions import SIGTERMException

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
