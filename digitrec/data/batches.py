"""Batches from in-memory tensors: one indexing operation per batch, no per-sample collate."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

log = logging.getLogger(__name__)


class InMemoryDigits(Dataset):
    """Preprocessed ``uint8`` digits ``(N, 28, 28)`` and their ``int64`` labels, held in memory.

    ``DataLoader`` calls :meth:`__getitems__` with a whole batch of indices, so a batch costs one
    tensor gather; pair it with :func:`collate_gathered`. Samplers (random, distributed) work as
    for any map-style dataset, so the same loader runs unchanged under DDP.
    """

    def __init__(self, images: Tensor, labels: Tensor) -> None:
        if images.dtype != torch.uint8 or images.ndim != 3:
            raise ValueError(
                f"expected uint8 images (N, H, W), got {images.dtype} {tuple(images.shape)}"
            )
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = labels.long()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.images[index], self.labels[index]

    def __getitems__(self, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        return self.images[index], self.labels[index]


class EpochShuffle(Sampler[int]):
    """A random order of ``size`` indices that depends only on ``seed`` and the epoch.

    Lightning calls :meth:`set_epoch` before every epoch, so a run resumed from a checkpoint sees
    the same batches as one that was never interrupted (a plain shuffling ``DataLoader`` draws its
    order from the global random state instead).
    """

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def permutation(self) -> Tensor:
        """This epoch's order as a tensor."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(self.size, generator=generator)

    def __iter__(self) -> Iterator[int]:
        return iter(self.permutation().tolist())


class MidEpochPosition:
    """How far a training epoch has got, for exact resumption mid-epoch.

    Lightning saves :meth:`state_dict` (the epoch and how many batches it has handed out) in
    every checkpoint, and when it resumes from one saved mid-epoch it calls
    :meth:`load_state_dict`; the next iteration then starts after those batches. Lightning
    fetches no batch ahead from loaders with a length, so at a checkpoint the batches handed out
    are exactly those trained on. The order itself depends only on the seed and the epoch
    (:class:`EpochShuffle`; Lightning's ``DistributedSampler`` under DDP), so a resumed epoch
    sees the very batches the interrupted one had left.
    """

    _handed_out = 0
    _resume: dict[str, int] | None = None

    def _epoch(self) -> int:
        return int(getattr(getattr(self, "sampler", None), "epoch", 0))

    def state_dict(self) -> dict[str, int]:
        """The epoch and the batches of it handed out so far."""
        return {"epoch": self._epoch(), "batches": self._handed_out}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Start the next iteration after the batches ``state`` says were handed out."""
        self._resume = {"epoch": int(state["epoch"]), "batches": int(state["batches"])}

    def _batches_to_skip(self) -> int:
        """At the start of an iteration: how many batches a resumption skips (once)."""
        resume, self._resume = self._resume, None
        if resume is None:
            return 0
        if resume["epoch"] < self._epoch():
            return 0  # saved as its epoch ended (after validation): this one starts afresh
        if resume["epoch"] > self._epoch():
            # never the case in Lightning's loop; skipping would then drop the wrong batches
            log.warning(
                "mid-epoch position of epoch %d restored in epoch %d: starting the epoch afresh",
                resume["epoch"],
                self._epoch(),
            )
            return 0
        return resume["batches"]

    def _counted(self, batches: Iterator[Any], skipped: int) -> Iterator[Any]:
        self._handed_out = skipped
        for batch in batches:
            self._handed_out += 1
            yield batch


class ResumableLoader(MidEpochPosition, DataLoader):
    """The training ``DataLoader``, resumable mid-epoch (:class:`MidEpochPosition`). Batches
    already trained on are gathered and dropped (one indexing operation each on in-memory
    data), so any sampler works, Lightning's distributed one included."""

    def __iter__(self) -> Iterator[Any]:
        # a generator: Lightning calls iter() before it sets the epoch, the first batch after
        skip = self._batches_to_skip()
        if skip:
            # a DataLoader draws its workers' base seed from the global generator as an epoch
            # begins: the interrupted run drew it before the checkpoint, so it is not drawn again
            with torch.random.fork_rng(devices=[]):
                batches = super().__iter__()
                for _ in range(skip):
                    next(batches, None)
        else:
            batches = super().__iter__()
        yield from self._counted(batches, skip)


class UnpaddedDistributedSampler(DistributedSampler):
    """Every index exactly once across the processes (``rank::world_size``), without the padding
    ``DistributedSampler`` adds to even out the shards, so test metrics count each image once.

    Only for loops that run no collective operation per batch (Lightning's test loop calls the
    module directly); processes may get one batch more or less than others.
    """

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False)
        self.indices = list(range(rank, len(dataset), num_replicas))  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def collate_gathered(batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """The ``collate_fn`` for :class:`InMemoryDigits`: the batch is already gathered."""
    return batch


def to_model_input(images: Tensor) -> Tensor:
    """``uint8`` digits ``(N, H, W)`` or ``(N, 1, H, W)`` -> ``float32`` ``(N, 1, H, W)`` in [0, 1].

    The one place where pixels are scaled: training batches (after transfer to the device) and
    inference both go through it.
    """
    if images.dtype != torch.uint8:
        raise TypeError(f"expected uint8 pixels, got {images.dtype}")
    if images.ndim == 3:
        images = images.unsqueeze(1)
    # the conversion makes a new tensor, so scaling it in place is safe and saves a copy
    return images.to(torch.float32).div_(255.0)


class DeviceResidentBatches(MidEpochPosition):
    """Batches of a split whose tensors live on the training device (a GPU): each batch is one
    indexing operation there, with no host-to-device copies (``data.device_resident=true``).

    An iterable Lightning accepts as a dataloader; its ``sampler`` (an :class:`EpochShuffle`)
    gets ``set_epoch`` from Lightning, so shuffling is the same as the default loader's, and it
    resumes mid-epoch as that one does (:class:`MidEpochPosition`).
    """

    def __init__(
        self,
        dataset: InMemoryDigits,
        batch_size: int,
        shuffle: bool,
        seed: int,
        device: torch.device,
        drop_last: bool = False,
    ) -> None:
        self.images = dataset.images.to(device)
        self.labels = dataset.labels.to(device)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = EpochShuffle(len(self.labels), seed) if shuffle else None
        self.batch_sampler = None  # Lightning inspects it, as on a DataLoader

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.labels) // self.batch_size
        return -(-len(self.labels) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        # a generator: Lightning calls iter() before it sets the epoch, the first batch after
        skip = self._batches_to_skip()
        yield from self._counted(self._batches(skip * self.batch_size), skip)

    def _batches(self, first: int) -> Iterator[tuple[Tensor, Tensor]]:
        count = len(self) * self.batch_size if self.drop_last else len(self.labels)
        device = self.images.device
        order = (
            self.sampler.permutation().to(device)
            if self.sampler is not None
            else torch.arange(count, device=device)
        )
        for start in range(first, count, self.batch_size):
            index = order[start : start + self.batch_size]
            yield self.images[index], self.labels[index]
