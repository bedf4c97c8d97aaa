"""Classifiers for preprocessed digits: a PyTorch net or an exported ONNX model.

Both take ``uint8`` digits ``(N, 1, 28, 28)`` (white ink on black, as preprocessing returns them)
and return class probabilities ``(N, 10)`` as ``float32`` numpy arrays. The pixel scaling and the
softmax live in :class:`DigitProbabilities`, which is also the graph that is exported, so eager
PyTorch, TorchScript and ONNX Runtime run exactly the same computation.
"""

from __future__ import annotations

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


class DigitProbabilities(nn.Module):
    """A trained net plus its input scaling and softmax: ``uint8`` digits in, probabilities out."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, digits: Tensor) -> Tensor:
        return torch.softmax(self.net(to_model_input(digits)), dim=1)


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
    """

    def __init__(
        self, net: nn.Module, device: str | torch.device | None = None, optimize: bool = True
    ) -> None:
        device = torch.device(device or "cpu")
        net = for_inference(net, device) if optimize else net.to(device)
        super().__init__(DigitProbabilities(net).eval(), device)


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
