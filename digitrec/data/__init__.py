"""Data: the per-digit folder dataset, its cache and split, and the LightningDataModules."""

from digitrec.data.datamodule import DigitDataModule, FolderDataModule, MNISTDataModule
from digitrec.data.folder import DatasetLayoutError, FolderIndex, scan_digit_folder
from digitrec.data.split import Side, assign_sides

__all__ = [
    "DatasetLayoutError",
    "DigitDataModule",
    "FolderDataModule",
    "FolderIndex",
    "MNISTDataModule",
    "Side",
    "assign_sides",
    "scan_digit_folder",
]
