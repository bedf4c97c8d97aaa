"""``digitrec-export``: a training checkpoint -> an ONNX or TorchScript model for deployment.

The exported graph is :class:`~digitrec.inference.backends.DigitProbabilities`: ``uint8`` digits
``(N, 1, 28, 28)`` in (any N), class probabilities ``(N, 10)`` out. The checkpoint's preprocessing
config travels inside the file (ONNX metadata / a TorchScript extra file), so
``Recognizer.from_onnx(path)`` needs nothing else.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig
from rich.console import Console
from torch import nn

from digitrec.checkpoint import CheckpointError, net_from_checkpoint, read_checkpoint
from digitrec.config import config_dir, register_resolvers
from digitrec.inference.backends import DigitProbabilities
from digitrec.inference.recognizer import PREPROCESS_METADATA_KEY
from digitrec.utils.atomic import atomic_path
from digitrec.utils.cli import user_errors

register_resolvers()

FORMATS = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}
INPUT_NAME, OUTPUT_NAME = "digits", "probabilities"


def _example_digits(batch: int = 2) -> torch.Tensor:
    return torch.zeros(batch, 1, 28, 28, dtype=torch.uint8)


def export_onnx(net: nn.Module, metadata: dict[str, str], path: str | Path) -> Path:
    """Write ``net`` (with scaling and softmax) as an ONNX model with a dynamic batch axis."""
    import onnx

    model = DigitProbabilities(net).eval()
    batch = torch.export.Dim("batch")
    # the exporter narrates every stage on stdout and its optimiser logs each pass
    with contextlib.redirect_stdout(io.StringIO()), _quiet_loggers("onnx_ir", "onnxscript"):
        program = torch.onnx.export(
            model,
            (_example_digits(),),
            dynamo=True,
            dynamic_shapes=({0: batch},),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            verbose=False,
        )
    proto = program.model_proto
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    return _save_atomic(path, lambda tmp: onnx.save(proto, tmp))


@contextlib.contextmanager
def _quiet_loggers(*names: str) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def export_torchscript(net: nn.Module, metadata: dict[str, str], path: str | Path) -> Path:
    """Write ``net`` (with scaling and softmax) as a TorchScript module; metadata as extra files."""
    model = DigitProbabilities(net).eval()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=".*deprecated.*")
        scripted = torch.jit.script(model)
        return _save_atomic(path, lambda tmp: torch.jit.save(scripted, tmp, _extra_files=metadata))


def _save_atomic(path: str | Path, save: Any) -> Path:
    """Write via a temporary file and rename, so a failed export never leaves half a model."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        save(str(tmp))
    return target


def export_checkpoint(ckpt_path: str | Path, fmt: str, output: str | Path | None = None) -> Path:
    """Export a training checkpoint; ``output`` defaults to the checkpoint's path with the
    format's suffix (``.onnx`` or ``.torchscript.pt``)."""
    if fmt not in FORMATS:
        raise ValueError(f"format={fmt!r} is not one of {', '.join(FORMATS)}")
    state = read_checkpoint(ckpt_path, key="ckpt_path")
    net, hparams = net_from_checkpoint(state, ckpt_path)
    if not hparams.get("preprocess"):
        raise CheckpointError(f"ckpt_path={str(ckpt_path)!r} records no preprocessing config")
    target = Path(output) if output else Path(ckpt_path).with_suffix(FORMATS[fmt])
    source = str(Path(ckpt_path).expanduser().resolve())
    return export_net(net, hparams["net"], hparams["preprocess"], fmt, target, source)


def export_net(
    net: nn.Module,
    net_config: dict[str, Any],
    preprocess: dict[str, Any],
    fmt: str,
    target: str | Path,
    source: str | None = None,
) -> Path:
    """Export ``net`` (built from ``net_config``, reading inputs preprocessed by
    ``preprocess``) as ``fmt`` to ``target``; the configs travel in the file's metadata."""
    if fmt not in FORMATS:
        raise ValueError(f"format={fmt!r} is not one of {', '.join(FORMATS)}")
    metadata = {
        PREPROCESS_METADATA_KEY: json.dumps(preprocess),
        "digitrec.net": json.dumps(net_config),
    }
    if source:
        metadata["digitrec.source_checkpoint"] = source
    exporter = export_onnx if fmt == "onnx" else export_torchscript
    return exporter(net, metadata, Path(target))


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="export")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: export ``ckpt_path`` and print where the model went."""
    with user_errors():
        path = export_checkpoint(cfg.ckpt_path, cfg.format, cfg.get("output"))
    Console(soft_wrap=True).print(f"[bold]exported[/bold] {path}", highlight=False)


if __name__ == "__main__":
    main()
