"""Touching digits: the run's strokes parted at cuts, and the training crops cut from pairs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from digitrec.data.embedded import load_embedded_digits
from digitrec.data.labels import NOT_ONE_DIGIT
from digitrec.data.split import Side
from digitrec.data.touching import label_piece, render_touching_pairs
from digitrec.module import DigitClassifier, digit_or_spread_loss
from digitrec.preprocess import InkRun
from digitrec.preprocess.mnist_form import MnistForm
from digitrec.preprocess.runs import DigitCrop, Renderer

ADAM = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 1e-3}
SEED_CNN = {"_target_": "digitrec.nets.guide_cnn.GuideCNN"}
MNIST = {"_target_": "digitrec.preprocess.PhotoPreprocessor"}


def _keep_mask(shape: tuple[int, int]) -> Renderer:
    """A renderer that returns the ink it is given where it lies in a run's mask of ``shape``
    (to see exactly which ink a piece holds)."""

    def render(mask: np.ndarray, left: int, top: int, scale: float) -> DigitCrop:
        canvas = np.zeros(shape, np.uint8)
        canvas[top : top + mask.shape[0], left : left + mask.shape[1]] = mask
        return DigitCrop(box=(left, top, mask.shape[1], mask.shape[0]), image=canvas)

    return render


def _overlapping_strokes() -> np.ndarray:
    """Two strokes 40 px tall whose columns overlap by 10 px but never touch: an upright bar
    (columns 5-24) and a bar leaning back over it (a neighbour's flag: columns 21-44)."""
    mask = np.zeros((50, 50), np.uint8)
    cv2.rectangle(mask, (5, 5), (24, 44), 1, -1)
    cv2.line(mask, (21, 2), (30, 2), 1, 2)  # the flag, above the first bar, not touching it
    cv2.rectangle(mask, (28, 5), (44, 44), 1, -1)
    cv2.line(mask, (30, 2), (30, 5), 1, 2)
    return mask


def test_a_cut_gives_a_stroke_that_only_overhangs_it_to_its_own_side():
    mask = _overlapping_strokes()
    run = InkRun.of(mask, 0, 0, 1.0, _keep_mask(mask.shape))
    assert len(run.cuts) >= 3, run.cuts
    # some cut parts the two strokes: each side holds one stroke whole, none of the other's
    first = np.zeros_like(mask)
    cv2.rectangle(first, (5, 5), (24, 44), 1, -1)
    second = mask & (1 - first)
    parted = [
        k
        for k in range(1, len(run.cuts) - 1)
        if np.array_equal(run.piece(0, k).image, first)
        and np.array_equal(run.piece(k, len(run.cuts) - 1).image, second)
    ]
    assert parted, run.cuts


def test_a_cut_through_one_stroke_parts_it_at_the_column():
    mask = np.zeros((40, 80), np.uint8)
    cv2.rectangle(mask, (5, 5), (74, 34), 1, -1)  # one wide blob: two digits run together
    run = InkRun.of(mask, 0, 0, 1.0, _keep_mask(mask.shape))
    a = run.cuts[1]
    left = run.piece(0, 1).image
    assert left[:, a:].sum() == 0 and left[:, :a].sum() == mask[:, :a].sum()


def test_a_piece_is_rendered_from_its_own_box_as_from_the_whole_run():
    # two real digits written into each other, 60 px tall (below MnistForm's downscaling size)
    embedded, embedded_labels = load_embedded_digits()
    two = [embedded[np.flatnonzero(embedded_labels == d)[0]] for d in (4, 7)]
    mask = np.zeros((70, 110), np.uint8)
    for digit, left in zip(two, (5, 40), strict=True):
        big = cv2.resize(digit, (60, 60), interpolation=cv2.INTER_LINEAR) >= 128
        mask[5:65, left : left + 60] |= big.astype(np.uint8)
    form = MnistForm()
    run = InkRun.of(mask, 7, 3, 0.5, form)
    whole_mask_run = InkRun.of(mask, 0, 0, 0.5, _keep_mask(mask.shape))
    pieces = 0
    for i in range(len(run.cuts)):
        for j in range(i + 1, len(run.cuts)):
            piece = run.piece(i, j)
            ink = whole_mask_run.piece(i, j)
            assert (piece is None) == (ink is None)
            if piece is not None:
                expected = form(ink.image, 7, 3, 0.5)  # the piece's ink in the run's whole mask
                assert piece.box == expected.box
                assert np.array_equal(piece.image, expected.image), (i, j)
                pieces += 1
    assert pieces >= 10


def test_pieces_are_labelled_by_the_digit_boxes_they_match():
    digits = ((0, 0, 20, 40), (18, 0, 22, 40))
    assert label_piece((0, 0, 21, 40), digits) == 0
    assert label_piece((17, 1, 23, 39), digits) == 1
    assert label_piece((0, 0, 40, 40), digits) == NOT_ONE_DIGIT  # both: not one digit
    assert label_piece((0, 0, 10, 12), digits) == NOT_ONE_DIGIT  # a fragment
    assert label_piece((0, 0, 30, 40), digits) == NOT_ONE_DIGIT  # a digit and a half
    assert label_piece((0, 0, 27, 40), digits) is None  # neither clearly: left out
    three = ((0, 0, 20, 40), (18, 0, 22, 40), (38, 0, 20, 40))
    assert label_piece((17, 0, 23, 40), three) == 1  # the middle digit, slivers either side
    assert label_piece((18, 0, 40, 40), three) == NOT_ONE_DIGIT  # the last two
    assert label_piece((0, 0, 58, 40), three) == NOT_ONE_DIGIT  # all three
    # a 1 a fifth as wide as it is tall, with a sliver of its neighbour: still the 1
    one_and_five = ((0, 0, 8, 40), (6, 0, 22, 40))
    assert label_piece((0, 0, 12, 40), one_and_five) == 0
    assert label_piece((5, 0, 23, 40), one_and_five) == 1
    assert label_piece((0, 0, 28, 40), one_and_five) == NOT_ONE_DIGIT  # the 5 and the 1, not a 5


def test_touching_pairs_give_digits_and_not_one_digit_crops():
    embedded, embedded_labels = load_embedded_digits()
    images, labels = [], []
    for digit in (0, 3, 7):  # real handwritten digits, the first of each class
        images.append(embedded[np.flatnonzero(embedded_labels == digit)[0]])
        labels.append(digit)
    crops, crop_labels = render_touching_pairs(
        torch.from_numpy(np.stack(images)), torch.tensor(labels), 12, ["clean"], MNIST, seed=1
    )
    assert crops.dtype == torch.uint8 and crops.shape[1:] == (28, 28)
    found = set(crop_labels.tolist())
    assert NOT_ONE_DIGIT in found and found - {NOT_ONE_DIGIT} and found <= {0, 3, 7, -1}
    with pytest.raises(ValueError, match=r"touching_pairs.*preprocess=photo"):
        render_touching_pairs(
            torch.from_numpy(np.stack(images)),
            torch.tensor(labels),
            2,
            ["clean"],
            {"_target_": "digitrec.preprocess.GuidePreprocessor"},
        )


def test_touching_triples_give_middle_digits_and_bad_counts_fail():
    embedded, embedded_labels = load_embedded_digits()
    picks = [int(np.flatnonzero(embedded_labels == d)[0]) for d in (0, 3, 7)]
    images, labels = torch.from_numpy(embedded[picks]), torch.tensor([0, 3, 7])
    crops, crop_labels = render_touching_pairs(images, labels, 20, ["clean"], MNIST, 1, [3, 3])
    found = crop_labels.tolist()
    assert crops.shape[1:] == (28, 28) and NOT_ONE_DIGIT in found
    # every digit of the three is cut out of some photo, whichever place it was written in
    assert {0, 3, 7} <= set(found)
    for bad in (1, [3, 2], [2, 3, 4]):
        with pytest.raises(ValueError, match=r"data.touching_digits must be >= 2 or \[min, max\]"):
            render_touching_pairs(images, labels, 1, ["clean"], MNIST, 1, bad)


def test_not_one_digit_is_trained_towards_equal_probabilities_and_never_scored():
    model = DigitClassifier(net=SEED_CNN, optimizer=ADAM)
    images = torch.rand(4, 1, 28, 28)
    labels = torch.tensor([3, NOT_ONE_DIGIT, 5, NOT_ONE_DIGIT])
    loss, logits, _ = model._step((images, labels))
    assert torch.isfinite(loss) and loss > 0
    # equal logits cost nothing for a crop that is not one digit
    model.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    torch.nn.init.zeros_(model.net[1].weight)
    torch.nn.init.zeros_(model.net[1].bias)
    only_outliers = torch.full((2,), NOT_ONE_DIGIT)
    assert model._step((images[:2], only_outliers))[0].abs() < 1e-6
    model.train_acc.update(logits, labels)  # must not fail on the -1 labels
    scored = torch.zeros(4, 10)
    scored[0, 3] = scored[2, 0] = 5.0
    model.val_acc.update(scored, labels)
    assert model.val_acc.compute() == pytest.approx(0.5)  # 1 of the 2 digits; -1s not counted


def test_a_batch_of_digits_only_takes_the_fused_cross_entropy_with_the_same_loss():
    model = DigitClassifier(net=SEED_CNN, optimizer=ADAM)
    images = torch.rand(6, 1, 28, 28)
    digits = torch.tensor([3, 1, 4, 1, 5, 9])
    loss, logits, _ = model._step((images, digits))
    assert torch.allclose(loss, digit_or_spread_loss(logits, digits), atol=1e-6)
    assert torch.allclose(loss, torch.nn.functional.cross_entropy(logits, digits))
    mixed = digits.clone()
    mixed[2] = NOT_ONE_DIGIT  # then the loss also spreads that crop's probabilities
    loss, logits, _ = model._step((images, mixed))
    assert torch.allclose(loss, digit_or_spread_loss(logits, mixed))
    assert not torch.allclose(loss, torch.nn.functional.cross_entropy(logits, mixed.clamp(min=0)))


def test_data_option_adds_touching_pair_crops_to_training_only(small_folder_data):
    plain = small_folder_data()
    paired = small_folder_data(touching_pairs=6, photo_levels=["clean"])
    added = paired.split(Side.TRAIN).labels[len(plain.split(Side.TRAIN)) :]
    assert len(added) > 0 and set(added.tolist()) <= {*range(10), NOT_ONE_DIGIT}
    for side in (Side.VAL, Side.TEST):
        assert np.array_equal(paired.split(side).labels, plain.split(side).labels)
        assert NOT_ONE_DIGIT not in paired.split(side).labels


def test_box_iou():
    from digitrec.data.photo import box_iou

    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (20, 0, 10, 10)) == 0.0
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
