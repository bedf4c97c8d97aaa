"""digitrec: read handwritten digits from webcam images with PyTorch Lightning + Hydra."""

__version__ = "0.1.0"
