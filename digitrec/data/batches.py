"""Batches from in-memory tensors: one indexing operation per batch, no per-sample collate."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset, DistributedSampler, Sampler


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


class DeviceResidentBatches:
    """Batches of a split whose tensors live on the training device (a GPU): each batch is one
    indexing operation there, with no host-to-device copies (``data.device_resident=true``).

    An iterable Lightning accepts as a dataloader; its ``sampler`` (an :class:`EpochShuffle`)
    gets ``set_epoch`` from Lightning, so shuffling is the same as the default loader's.
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
        count = len(self) * self.batch_size if self.drop_last else len(self.labels)
        device = self.images.device
        order = (
            self.sampler.permutation().to(device)
            if self.sampler is not None
            else torch.arange(count, device=device)
        )
        for start in range(0, count, self.batch_size):
            index = order[start : start + self.batch_size]
            yield self.images[index], self.labels[index]
