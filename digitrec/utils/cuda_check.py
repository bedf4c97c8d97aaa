"""How ``torch.cuda.is_available()`` looks for GPUs while a model trains.

Importing Lightning sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` so that checking for GPUs before
processes are forked does not initialise CUDA. PyTorch's Adam and AdamW check for a GPU at
every ``step()``, and through NVML that check loads the NVML library anew each time: on a
machine without NVIDIA's driver it fails slowly, 0.3-0.8 ms of a 5-6 ms step of the guide's CNN on
a 2-core CPU. Once training has started (every process launched) the plain check is safe.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"


def suspend_nvml_cuda_check() -> str | None:
    """Use the plain CUDA check in this process from now on; returns the setting it had, for
    :func:`restore_nvml_cuda_check`."""
    return os.environ.pop(NVML_CHECK, None)


def restore_nvml_cuda_check(previous: str | None) -> None:
    """Put back the setting :func:`suspend_nvml_cuda_check` returned."""
    if previous is not None:
        os.environ[NVML_CHECK] = previous


@contextmanager
def nvml_cuda_check_kept() -> Iterator[None]:
    """The setting as it is now, put back on leaving (also when training fails, where
    Lightning calls no hook that could)."""
    previous = os.environ.get(NVML_CHECK)
    try:
        yield
    finally:
        restore_nvml_cuda_check(previous)
