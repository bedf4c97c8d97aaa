"""Per-image batch augmentation and re-photographed training digits."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from digitrec.augment import BatchAugment
from digitrec.camera.synthetic import embedded_digits_of_split
from digitrec.data import FolderDataModule
from digitrec.data import photo as photo_module
from digitrec.data.photo import load_or_render_photo_copies

MNIST = {"_target_": "digitrec.preprocess.PhotoPreprocessor"}


@pytest.fixture(scope="module")
def digits():
    images, labels = embedded_digits_of_split("train")
    return torch.from_numpy(images[:6]), torch.from_numpy(labels[:6])


def test_each_image_gets_its_own_draw(digits):
    images = digits[0][:1].float().div(255).unsqueeze(1).repeat(8, 1, 1, 1)
    torch.manual_seed(0)
    out = BatchAugment(elastic=0.8, thickness=0.4)(images)
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    assert len({tuple(o.flatten().round(decimals=3).tolist()) for o in out}) == 8
    # ink is moved around, not created or lost wholesale
    assert 0.6 < out.sum() / images.sum() < 1.5


def test_p_zero_is_the_identity(digits):
    images = digits[0].float().div(255).unsqueeze(1)
    torch.testing.assert_close(BatchAugment(p=0.0)(images), images, atol=1e-5, rtol=0)


def test_datamodule_augments_training_batches_only(tmp_path, digits):
    config = {"_target_": "digitrec.augment.BatchAugment", "rotation": 30.0}
    dm = FolderDataModule(root=tmp_path, preprocess=MNIST, augment=config)
    batch = (digits[0], digits[1])
    dm.trainer = SimpleNamespace(training=False)
    plain, _ = dm.on_after_batch_transfer(batch, 0)
    dm.trainer = SimpleNamespace(training=True)
    augmented, labels = dm.on_after_batch_transfer(batch, 0)
    assert torch.equal(labels, digits[1])
    assert not torch.allclose(plain, augmented)


def test_photo_copies_are_cached(tmp_path, digits, monkeypatch):
    images, labels = digits
    out_images, out_labels = load_or_render_photo_copies(
        images, labels, 2, ["clean", "hard"], MNIST, tmp_path
    )
    assert out_images.dtype == torch.uint8 and out_images.shape[1:] == (28, 28)
    assert 9 <= len(out_labels) <= 12
    # every photo keeps its source digit's label: at most two photos per source
    for digit in set(out_labels.tolist()):
        assert (out_labels == digit).sum() <= 2 * (labels == digit).sum()

    def no_rendering(*args, **kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr(photo_module, "render_photo_copies", no_rendering)
    again = load_or_render_photo_copies(images, labels, 2, ["clean", "hard"], MNIST, tmp_path)
    assert torch.equal(again[0], out_images)


def test_datamodule_adds_photos_of_training_images_only(small_folder_data):
    from digitrec.data import Side

    plain = small_folder_data()
    photos = small_folder_data(photo_copies=1, photo_levels=["clean"])
    added = len(photos.split(Side.TRAIN)) - len(plain.split(Side.TRAIN))
    assert 0.8 * len(plain.split(Side.TRAIN)) <= added <= len(plain.split(Side.TRAIN))
    for side in (Side.VAL, Side.TEST):
        assert len(photos.split(side)) == len(plain.split(side))
