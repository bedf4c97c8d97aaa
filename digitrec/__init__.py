"""digitrec: read handwritten digits from webcam images with PyTorch Lightning + Hydra."""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from digitrec.inference import Prediction, Reading, Recognizer

__all__ = ["Prediction", "Reading", "Recognizer", "__version__"]


def __getattr__(name: str) -> Any:
    # lazy: `import digitrec` stays cheap; `from digitrec import Recognizer` loads inference
    if name in {"Prediction", "Reading", "Recognizer"}:
        from digitrec import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'digitrec' has no attribute {name!r}")
