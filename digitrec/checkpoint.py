"""Read digitrec checkpoints safely: weights only (no pickled code runs) and clear errors."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from torch import nn


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged or not one of digitrec's; the message names it."""


def first_line(err: BaseException) -> str:
    """An exception's message cut to its first line (for one-line errors)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def read_checkpoint(path: str | Path, key: str = "checkpoint") -> dict[str, Any]:
    """Load a Lightning checkpoint file as plain data, never executing code stored in it.

    ``key`` names the setting the path came from in error messages (``ckpt_path=...``).
    Raises :class:`FileNotFoundError` for a missing file and :class:`CheckpointError` for a
    truncated or foreign one.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(f"{key}={str(path)!r}: no such checkpoint file")
    try:
        with warnings.catch_warnings():  # torch warns before refusing a TorchScript archive
            warnings.filterwarnings("ignore", message=".*TorchScript archive.*")
            state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, random bytes, pickled objects we refuse to run
        raise CheckpointError(
            f"{key}={str(path)!r} is not a readable checkpoint: {_load_failure(file, err)}"
        ) from err
    if not isinstance(state, dict) or "state_dict" not in state:
        raise CheckpointError(f"{key}={str(path)!r} is not a Lightning checkpoint (no state_dict)")
    return state


def _load_failure(file: Path, err: Exception) -> str:
    if not zipfile.is_zipfile(file):
        return "not a PyTorch checkpoint (damaged, truncated or another format)"
    if "torchscript" in str(err).lower():
        return "it is a TorchScript export, not a training checkpoint (Recognizer.from_torchscript)"
    if "weights only load failed" in str(err).lower():
        return "it holds pickled objects other than tensors and plain data; refusing to run them"
    return first_line(err)


def net_from_checkpoint(state: dict[str, Any], path: str | Path) -> tuple[nn.Module, dict]:
    """Rebuild the trained net of a :class:`~digitrec.module.DigitClassifier` checkpoint.

    Returns the net (weights loaded, in eval mode, on the CPU) and the checkpoint's
    hyperparameters (``net``, ``preprocess``, ... as plain data).
    """
    net = instantiate(net_config(state, path))
    load_net_weights(net, state, path)
    return net.eval(), state["hyper_parameters"]


def net_config(state: dict[str, Any], path: str | Path, key: str = "checkpoint") -> dict[str, Any]:
    """The net config stored in a checkpoint's hyperparameters (``key`` names the setting the
    path came from in the error)."""
    net = (state.get("hyper_parameters") or {}).get("net")
    if not isinstance(net, dict):
        raise CheckpointError(
            f"{key}={str(path)!r} holds no net config: it was not written by digitrec's "
            "DigitClassifier with a configured net"
        )
    return net


def load_net_weights(net: nn.Module, state: dict[str, Any], path: str | Path) -> None:
    """Copy a checkpoint's ``net.*`` weights into ``net`` (all of them, names and shapes equal)."""
    prefix = "net."
    # a net compiled with torch.compile(net) saves its weights under "_orig_mod."
    weights = {
        name[len(prefix) :].replace("_orig_mod.", ""): value
        for name, value in state["state_dict"].items()
        if name.startswith(prefix)
    }
    try:
        net.load_state_dict(weights)
    except RuntimeError as err:
        raise CheckpointError(
            f"checkpoint {str(path)!r} does not fit the net {type(net).__name__}: {first_line(err)}"
        ) from err
