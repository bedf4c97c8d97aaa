"""Classifiers for preprocessed digits: a PyTorch net or an exported ONNX model.

Both take ``uint8`` digits ``(N, 1, 28, 28)`` (white ink on black, as preprocessing returns them)
and return class probabilities ``(N, 10)`` as ``float32`` numpy arrays. The pixel scaling and the
softmax live in :class:`DigitProbabilities`, which is also the graph that is exported, so eager
PyTorch, TorchScript and ONNX Runtime run exactly the same computation.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import Tensor, nn

from digitrec.data.batches import to_model_input
from digitrec.inference.optimize import for_inference


class DigitClassifierBackend(Protocol):
    """``uint8`` digits ``(N, 1, 28, 28)`` -> probabilities ``(N, 10)``."""

    def __call__(self, digits: np.ndarray) -> np.ndarray: ...


#: inference precisions of :class:`TorchBackend`: the net's weights and activations
PRECISIONS = {"32": torch.float32, "bf16": torch.bfloat16}


class DigitProbabilities(nn.Module):
    """A trained net plus its input scaling and softmax: ``uint8`` digits in, probabilities out.
    ``dtype`` is the net's own (its inputs are cast to it; the softmax is always float32)."""

    def __init__(self, net: nn.Module, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.net = net
        self.dtype = dtype

    def forward(self, digits: Tensor) -> Tensor:
        inputs = to_model_input(digits)
        if self.dtype != torch.float32:  # a Python constant: exported graphs stay float32
            inputs = inputs.to(self.dtype)
        return torch.softmax(self.net(inputs).float(), dim=1)


class ScriptedBackend:
    """Runs a torch module that maps ``uint8`` digits to probabilities (a TorchScript export of
    :class:`DigitProbabilities`, or one in memory) on ``device``, without autograd."""

    def __init__(
        self, model: Callable[[Tensor], Tensor], device: str | torch.device | None
    ) -> None:
        self.device = torch.device(device or "cpu")
        self.model = model

    def __call__(self, digits: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            batch = torch.from_numpy(np.ascontiguousarray(digits)).to(self.device)
            return self.model(batch).float().cpu().numpy()


class TorchBackend(ScriptedBackend):
    """Runs a trained net as :class:`DigitProbabilities`, eagerly, on ``device`` (CPU unless
    told otherwise).

    With ``optimize`` (the default) the net runs with its BatchNorms folded into the layers
    before them and NHWC memory layout: same outputs, about 1.5x faster on one crop.
    ``precision="bf16"`` runs it in bfloat16 (weights and activations): on a CPU with native
    bfloat16 (AVX512-BF16, AMX) batches run 2-3x faster, the probabilities differ from float32's
    by up to about 0.015; elsewhere it is slower, and a warning says so.
    """

    def __init__(
        self,
        net: nn.Module,
        device: str | torch.device | None = None,
        optimize: bool = True,
        precision: str = "32",
    ) -> None:
        device = torch.device(device or "cpu")
        dtype = precision_dtype(precision)
        net = for_inference(net, device) if optimize else net.to(device)
        if dtype != torch.float32:
            if device.type == "cpu" and not cpu_has_native_bf16():
                warnings.warn(
                    "precision=bf16: this CPU has no native bfloat16; it runs slower than 32",
                    stacklevel=2,
                )
            net = net.to(dtype)
        super().__init__(DigitProbabilities(net, dtype).eval(), device)


def cpu_has_native_bf16() -> bool:
    """Does this CPU compute in bfloat16 natively (AVX512-BF16, AMX), rather than emulate it?"""
    # PyTorch has no public query for it: oneDNN's own check
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def precision_dtype(precision: str | int) -> torch.dtype:
    """The dtype of an inference ``precision`` ("32" or "bf16"); a one-line error otherwise."""
    dtype = PRECISIONS.get(str(precision))
    if dtype is None:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    return dtype


class OnnxBackend:
    """Runs an exported model (see :mod:`digitrec.export`) with ONNX Runtime on the CPU."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name

    def metadata(self) -> dict[str, str]:
        """The exported model's metadata (digitrec stores its preprocessing config there)."""
        return dict(self.session.get_modelmeta().custom_metadata_map)

    def __call__(self, digits: np.ndarray) -> np.ndarray:
        (probabilities,) = self.session.run(None, {self.input_name: digits})
        return probabilities
