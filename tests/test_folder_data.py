"""The per-digit folder dataset: scanning, decoding, bad input and the preprocessing cache."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import torch
from conftest import write_tree

from digitrec.data import DatasetLayoutError, FolderDataModule, Side, scan_digit_folder
from digitrec.data import cache as cache_module
from digitrec.data.cache import TooManyBadImagesError, load_or_build_cache
from digitrec.data.images import ImageReadError, read_image

SEED_PREPROCESS = {"_target_": "digitrec.preprocess.GuidePreprocessor", "size": 28}


def small_tree(root, per_digit=3, ext=".png"):
    return write_tree(root, [(d, f"img{i}{ext}") for d in range(10) for i in range(per_digit)])


def test_labels_come_from_folder_names(tmp_path):
    write_tree(tmp_path, [(3, "a.png"), (3, "b.jpg"), (7, "c.bmp"), (0, "d.tiff")])
    (tmp_path / "3" / "notes.txt").write_text("not an image")
    (tmp_path / "3" / ".hidden.png").write_bytes(b"")
    index = scan_digit_folder(tmp_path)
    assert index.relpaths == ("0/d.tiff", "3/a.png", "3/b.jpg", "7/c.bmp")
    assert index.labels == (0, 3, 3, 7)


def test_missing_root_names_root_and_layout(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(
        DatasetLayoutError, match=r"nowhere.*does not exist.*<root>/<digit>/<image>"
    ):
        scan_digit_folder(missing)
    a_file = tmp_path / "digits.zip"
    a_file.write_bytes(b"PK")
    with pytest.raises(DatasetLayoutError, match=r"digits\.zip.*is a file, not a folder"):
        scan_digit_folder(a_file)


def test_root_without_images_is_an_error(tmp_path):
    (tmp_path / "5").mkdir()
    (tmp_path / "5" / "readme.md").write_text("x")
    with pytest.raises(DatasetLayoutError, match=r"no images found under dataset root"):
        scan_digit_folder(tmp_path)


def test_non_digit_folders_are_listed_in_one_warning(tmp_path, caplog_digitrec):
    write_tree(tmp_path, [(1, "a.png")])
    for name in ("cats", "10", "x1"):
        (tmp_path / name).mkdir()
        write_tree(tmp_path / name, [(2, "b.png")])
    index = scan_digit_folder(tmp_path)
    assert index.relpaths == ("1/a.png",)
    warnings = [r.getMessage() for r in caplog_digitrec.records if "not digits" in r.getMessage()]
    assert len(warnings) == 1
    assert "10, cats, x1" in warnings[0]


def test_missing_digits_are_named_in_a_warning(tmp_path, caplog_digitrec):
    write_tree(tmp_path, [(d, "a.png") for d in range(10) if d not in (3, 7)])
    scan_digit_folder(tmp_path)
    assert "no images of digit(s) 3, 7 under" in caplog_digitrec.text
    caplog_digitrec.clear()
    write_tree(tmp_path, [(3, "a.png"), (7, "a.png")])
    scan_digit_folder(tmp_path)
    assert "no images of digit" not in caplog_digitrec.text


def test_empty_digit_folder_warns(tmp_path, caplog_digitrec):
    write_tree(tmp_path, [(1, "a.png")])
    (tmp_path / "4").mkdir()
    scan_digit_folder(tmp_path)
    assert any(
        "holds no images" in r.getMessage() and "4" in r.getMessage()
        for r in caplog_digitrec.records
    )


def test_read_image_errors_name_the_file(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"\x00not an image at all" * 10)
    for path, reason in (
        (empty, "empty"),
        (garbage, "not a valid image"),
        (tmp_path / "gone.png", "cannot read"),
    ):
        with pytest.raises(ImageReadError, match=reason) as info:
            read_image(path)
        assert path.name in str(info.value)


def test_corrupt_images_are_skipped_counted_and_named(tmp_path, caplog_digitrec):
    small_tree(tmp_path, per_digit=10)
    (tmp_path / "2" / "broken.png").write_bytes(b"\x89PNG truncated")
    truncated = (tmp_path / "5" / "img0.png").read_bytes()[:40]
    (tmp_path / "5" / "cut.png").write_bytes(truncated)
    index = scan_digit_folder(tmp_path)
    tensors = load_or_build_cache(index, SEED_PREPROCESS, tmp_path / "cache", max_bad_fraction=0.05)
    assert len(tensors.labels) == 100
    assert set(tensors.skipped) == {"2/broken.png", "5/cut.png"}
    messages = " ".join(r.getMessage() for r in caplog_digitrec.records)
    assert "broken.png" in messages and "cut.png" in messages
    assert "skipped 2 of 102 images" in messages


def test_images_too_small_for_a_digit_are_skipped_by_name(tmp_path, caplog_digitrec):
    small_tree(tmp_path, per_digit=10)
    cv2.imwrite(str(tmp_path / "3" / "dot.png"), np.zeros((1, 1), np.uint8))
    tensors = load_or_build_cache(scan_digit_folder(tmp_path), SEED_PREPROCESS, tmp_path / "c")
    assert len(tensors.labels) == 100 and tensors.skipped == ("3/dot.png",)
    assert "dot.png' is too small to hold a digit (1x1 px" in caplog_digitrec.text


def test_too_many_bad_images_is_an_error(tmp_path):
    small_tree(tmp_path, per_digit=2)
    for i in range(3):
        (tmp_path / "1" / f"bad{i}.png").write_bytes(b"junk")
    index = scan_digit_folder(tmp_path)
    with pytest.raises(
        TooManyBadImagesError, match=r"3 of 23 images.*max_bad_fraction=0.1.*bad0.png"
    ):
        load_or_build_cache(index, SEED_PREPROCESS, tmp_path / "cache", max_bad_fraction=0.1)


def test_preprocess_none_rejects_other_sizes_by_name(tmp_path):
    write_tree(tmp_path, [(1, "small.png")], size=28)
    write_tree(tmp_path, [(2, "big.png")], size=64)
    index = scan_digit_folder(tmp_path)
    none = {"_target_": "digitrec.preprocess.MnistFormCheck", "size": 28}
    with pytest.raises(TooManyBadImagesError, match=r"big.png.*expected a 28x28 image.*got 64x64"):
        load_or_build_cache(index, none, tmp_path / "cache", max_bad_fraction=0.0)


def test_second_load_decodes_nothing(tmp_path, monkeypatch):
    small_tree(tmp_path / "d")
    first = load_or_build_cache(scan_digit_folder(tmp_path / "d"), SEED_PREPROCESS, tmp_path / "c")
    assert first.images.shape == (30, 28, 28) and first.images.dtype == torch.uint8

    def no_decoding(path):
        raise AssertionError(f"decoded {path} again")

    monkeypatch.setattr(cache_module, "read_image", no_decoding)
    second = load_or_build_cache(scan_digit_folder(tmp_path / "d"), SEED_PREPROCESS, tmp_path / "c")
    assert torch.equal(first.images, second.images)
    assert second.relpaths == first.relpaths


def test_cache_key_follows_files_and_preprocess_config(tmp_path):
    paths = small_tree(tmp_path / "d")
    cache_dir = tmp_path / "c"
    load_or_build_cache(scan_digit_folder(tmp_path / "d"), SEED_PREPROCESS, cache_dir)
    # another preprocessing config -> another cache file
    load_or_build_cache(
        scan_digit_folder(tmp_path / "d"), {**SEED_PREPROCESS, "interpolation": "linear"}, cache_dir
    )
    assert len(list(cache_dir.glob("*.pt"))) == 2
    # a modified file -> rebuilt with the new pixels
    write_tree(tmp_path / "d", [(0, "img0.png")], size=64)
    os.utime(paths[0], ns=(1, 1))
    load_or_build_cache(scan_digit_folder(tmp_path / "d"), SEED_PREPROCESS, cache_dir)
    assert len(list(cache_dir.glob("*.pt"))) == 3


def test_damaged_cache_is_rebuilt(tmp_path, caplog_digitrec):
    small_tree(tmp_path / "d")
    index = scan_digit_folder(tmp_path / "d")
    good = load_or_build_cache(index, SEED_PREPROCESS, tmp_path / "c")
    (cache_file,) = (tmp_path / "c").glob("*.pt")
    cache_file.write_bytes(b"damaged")
    again = load_or_build_cache(index, SEED_PREPROCESS, tmp_path / "c")
    assert torch.equal(good.images, again.images)
    messages = " ".join(r.getMessage() for r in caplog_digitrec.records)
    assert "rebuilding the cache" in messages and "unreadable" in messages


def test_a_cache_of_other_files_is_never_trusted(tmp_path, caplog_digitrec):
    small_tree(tmp_path / "d")
    write_tree(tmp_path / "other", [(d, f"o{d}.png") for d in range(10)], size=48)
    index = scan_digit_folder(tmp_path / "d")
    good = load_or_build_cache(index, SEED_PREPROCESS, tmp_path / "c")
    (path,) = (tmp_path / "c").glob("*.pt")
    # another dataset's valid cache under this dataset's name
    load_or_build_cache(scan_digit_folder(tmp_path / "other"), SEED_PREPROCESS, tmp_path / "o")
    (foreign,) = (tmp_path / "o").glob("*.pt")
    path.write_bytes(foreign.read_bytes())
    again = load_or_build_cache(index, SEED_PREPROCESS, tmp_path / "c")
    assert torch.equal(good.images, again.images) and again.relpaths == good.relpaths
    assert "built from other files" in caplog_digitrec.text
    # this dataset's own cache cut short
    stored = torch.load(path, weights_only=True)
    stored.update(images=stored["images"][:3], labels=stored["labels"][:3])
    torch.save(stored, path)
    again = load_or_build_cache(index, SEED_PREPROCESS, tmp_path / "c")
    assert torch.equal(good.images, again.images)
    assert f"holds 3 images and 3 labels for {len(good.relpaths)} files" in caplog_digitrec.text


def test_datamodule_serves_scaled_batches_by_split(tmp_path):
    write_tree(
        tmp_path / "d",
        [(d, f"s{k}_{i}.png") for d in range(10) for k in range(5) for i in range(4)],
    )
    dm = FolderDataModule(
        root=tmp_path / "d", preprocess=SEED_PREPROCESS, batch_size=8, val_fraction=0.2
    )
    dm.prepare_data()
    dm.setup("fit")
    sizes = {side: len(dm.split(side)) for side in Side}
    assert sum(sizes.values()) == 200 and all(sizes.values())
    images, labels = next(iter(dm.train_dataloader()))
    assert images.dtype == torch.uint8 and images.shape == (8, 28, 28)
    x, y = dm.on_after_batch_transfer((images, labels), 0)
    assert x.shape == (8, 1, 28, 28) and x.dtype == torch.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.5
    assert torch.equal(y, labels)
    # every image is served exactly once per epoch
    seen = torch.cat([b[1] for b in dm.train_dataloader()])
    assert len(seen) == sizes[Side.TRAIN]
    assert (
        np.bincount(seen.numpy(), minlength=10).tolist()
        == np.bincount(dm.split(Side.TRAIN).labels.numpy(), minlength=10).tolist()
    )


def test_empty_split_is_a_clear_error(tmp_path):
    write_tree(tmp_path / "d", [(d, f"only_{i}.png") for d in range(10) for i in range(2)])
    dm = FolderDataModule(
        root=tmp_path / "d", preprocess=SEED_PREPROCESS, val_fraction=0.1, test_fraction=0.2
    )
    dm.prepare_data()
    with pytest.raises(ValueError, match=r"split is empty.*data.root="):
        dm.setup("fit")


def test_cache_key_follows_the_preprocessing_code_version(tmp_path, monkeypatch):
    small_tree(tmp_path / "d")
    index = scan_digit_folder(tmp_path / "d")
    before = cache_module.cache_key(index, SEED_PREPROCESS)
    monkeypatch.setattr(cache_module, "PREPROCESS_VERSION", cache_module.PREPROCESS_VERSION + 1)
    assert cache_module.cache_key(index, SEED_PREPROCESS) != before


def test_predict_and_the_images_camera_find_images_by_one_rule(tmp_path):
    from digitrec.camera.devices import ImagesCamera
    from digitrec.data.folder import find_images
    from digitrec.predict import iter_inputs

    write_tree(tmp_path / "shots", [(1, "a.png"), (2, "b.png")])  # nested: shots/1/a.png ...
    (tmp_path / "shots" / ".hidden.png").write_bytes(b"x")
    (tmp_path / "shots" / "notes.txt").write_text("x")
    found = find_images(str(tmp_path / "shots"))
    assert [p.name for p in found] == ["a.png", "b.png"]  # recursive, visible images only
    assert ImagesCamera(str(tmp_path / "shots")).files == found
    assert [i.source for i in iter_inputs([str(tmp_path / "shots")])] == [str(p) for p in found]
    assert find_images(str(tmp_path / "shots" / "*" / "*.png")) == found
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no image files in folder"):
        find_images(str(tmp_path / "empty"))
