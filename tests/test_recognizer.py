"""The Recognizer: checkpoint, ONNX and TorchScript models reading digits and numbers."""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import pytest
import torch

from digitrec import Prediction, Recognizer
from digitrec.camera.synthetic import SyntheticCamera, embedded_digits_of_split
from digitrec.checkpoint import CheckpointError
from digitrec.data.photo import box_iou
from digitrec.export import export_checkpoint
from digitrec.inference.smoothing import DigitSmoother, TextSmoother
from digitrec.synthesis.render import PhotoRenderer


@pytest.fixture(scope="module")
def recognizer(photo_checkpoint) -> Recognizer:
    return Recognizer.from_checkpoint(photo_checkpoint)


@pytest.fixture(scope="module")
def photos():
    return list(SyntheticCamera(level="medium", max_frames=30, seed=21).frames())


def test_predict_gives_digit_confidence_probabilities_and_box(recognizer):
    rng = np.random.default_rng(3)
    images, labels = embedded_digits_of_split("test", 0)
    frame = PhotoRenderer(level="clean").render([images[7]], [labels[7]], rng)
    prediction = recognizer.predict(frame.image)
    assert isinstance(prediction, Prediction)
    assert prediction.digit == labels[7]
    assert prediction.probabilities.shape == (10,)
    assert prediction.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert prediction.confidence == pytest.approx(prediction.probabilities.max())
    assert box_iou(prediction.box, frame.boxes[0]) > 0.5
    record = prediction.to_dict()
    assert record["digit"] == labels[7] and len(record["probabilities"]) == 10


def test_predict_batch_matches_predict_and_reads_paths(recognizer, photos, tmp_path):
    batch = recognizer.predict_batch([f.image for f in photos])
    assert [p.digit for p in batch] == [recognizer.predict(f.image).digit for f in photos]
    assert sum(p.digit == f.labels[0] for p, f in zip(batch, photos, strict=True)) >= 27
    import cv2

    path = tmp_path / "photo.jpg"
    cv2.imwrite(str(path), photos[0].image)
    assert recognizer.predict(path).digit == recognizer.predict(photos[0].image).digit
    assert recognizer.predict(str(path)).box is not None


def test_crops_go_through_the_net_in_chunks_of_batch_size(recognizer):
    images, _ = embedded_digits_of_split("test", 0)
    crops = np.asarray(images[:150], np.uint8)
    calls: list[int] = []
    classify = recognizer.classify

    def counting(digits: np.ndarray) -> np.ndarray:
        calls.append(len(digits))
        return classify(digits)

    assert recognizer.batch_size == 64
    recognizer.classify = counting
    try:
        chunked = recognizer.probabilities(crops)
    finally:
        recognizer.classify = classify
    assert calls == [64, 64, 22]
    one_by_one = np.concatenate([recognizer.probabilities(crops[k : k + 1]) for k in range(150)])
    np.testing.assert_allclose(chunked, one_by_one, atol=1e-5)


@pytest.mark.parametrize("value", [0, 255, 128])
def test_blank_images_have_no_digit(recognizer, value):
    for shape in ((480, 640, 3), (28, 28), (90, 60)):
        prediction = recognizer.predict(np.full(shape, value, np.uint8))
        assert prediction.digit is None and prediction.box is None and prediction.confidence == 0


def test_min_confidence_turns_unsure_readings_into_none(photo_checkpoint, photos):
    sure = Recognizer.from_checkpoint(photo_checkpoint, min_confidence=1.0)
    predictions = sure.predict_batch([f.image for f in photos])
    unsure = [p for p in predictions if p.confidence < 1.0]
    assert unsure and all(p.digit is None and p.box is not None for p in unsure)
    with pytest.raises(ValueError, match="min_confidence"):
        Recognizer.from_checkpoint(photo_checkpoint, min_confidence=1.5)


def test_read_returns_numbers_left_to_right(recognizer):
    frames = list(SyntheticCamera(level="clean", max_frames=20, seed=7, digits_per_frame=[3, 5]))
    readings = [recognizer.read(f.image) for f in frames]
    right = sum(
        r.text == "".join(map(str, f.labels)) for r, f in zip(readings, frames, strict=True)
    )
    assert right >= 15, [(r.text, f.labels) for r, f in zip(readings, frames, strict=True)]
    for reading in readings:
        assert len(reading.digits) == len(reading.text)
        xs = [p.box[0] for p in reading.digits]
        assert xs == sorted(xs)
    assert recognizer.read(np.full((480, 640), 230, np.uint8)).text == ""


def test_exports_match_pytorch_and_read_the_same_digits(
    photo_checkpoint, recognizer, photos, tmp_path
):
    onnx_path = export_checkpoint(photo_checkpoint, "onnx", tmp_path / "m.onnx")
    script_path = export_checkpoint(photo_checkpoint, "torchscript", tmp_path / "m.torchscript.pt")
    digits = np.random.default_rng(0).integers(0, 256, (37, 28, 28), dtype=np.uint8)
    expected = recognizer.probabilities(digits)
    from_onnx = Recognizer.from_onnx(onnx_path)
    from_script = Recognizer.load(script_path)
    np.testing.assert_allclose(from_onnx.probabilities(digits), expected, atol=1e-4)
    np.testing.assert_allclose(from_script.probabilities(digits), expected, atol=1e-4)
    # the preprocessing travelled inside the files
    assert from_onnx.inputs.config == recognizer.inputs.config
    assert from_script.inputs.config == recognizer.inputs.config
    images = [f.image for f in photos]
    assert [p.digit for p in from_onnx.predict_batch(images)] == [
        p.digit for p in recognizer.predict_batch(images)
    ]
    # dynamic batch axis
    assert onnx.load(str(onnx_path)).graph.input[0].type.tensor_type.shape.dim[0].dim_param


def test_bf16_precision_reads_the_same_digits_and_refuses_exports(
    photo_checkpoint, recognizer, photos, tmp_path
):
    half = Recognizer.load(photo_checkpoint, precision="bf16")
    assert half.classify.model.dtype == torch.bfloat16
    assert next(half.classify.model.parameters()).dtype == torch.bfloat16
    digits = np.stack([c.image for f in photos if (c := recognizer.locate(f.image)) is not None])
    expected = recognizer.probabilities(digits)
    got = half.probabilities(digits)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(got, expected, atol=0.05)  # bfloat16 keeps 8 bits of mantissa
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()
    with pytest.raises(ValueError, match=r"precision must be one of \['32', 'bf16'\], got '16'"):
        Recognizer.load(photo_checkpoint, precision="16")
    onnx_path = export_checkpoint(photo_checkpoint, "onnx", tmp_path / "m.onnx")
    with pytest.raises(ValueError, match=r"precision=bf16 applies to training checkpoints.*m.onnx"):
        Recognizer.load(onnx_path, precision="bf16")
    # the exported graph stays float32 whatever precision the eager path can run in
    graph = onnx.load(str(onnx_path)).graph
    assert onnx.TensorProto.FLOAT in {init.data_type for init in graph.initializer}
    assert onnx.TensorProto.BFLOAT16 not in {init.data_type for init in graph.initializer}


def test_default_export_path_is_beside_the_checkpoint(photo_checkpoint, tmp_path):
    import shutil

    copy = tmp_path / "run" / "best.ckpt"
    copy.parent.mkdir()
    shutil.copy(photo_checkpoint, copy)
    assert export_checkpoint(copy, "onnx") == tmp_path / "run" / "best.onnx"
    with pytest.raises(ValueError, match="format='tflite'"):
        export_checkpoint(copy, "tflite")


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (None, FileNotFoundError, "no such checkpoint"),
        (b"", CheckpointError, "not a readable checkpoint"),
        (b"PK\x03\x04 truncated", CheckpointError, "not a readable checkpoint"),
        ("foreign", CheckpointError, "not a Lightning checkpoint"),
        ("no-net", CheckpointError, "holds no net config"),
    ],
)
def test_bad_checkpoints_give_a_clear_error(tmp_path, content, error, message):
    path = tmp_path / "model.ckpt"
    if content == "foreign":
        torch.save({"weights": torch.zeros(3)}, path)
    elif content == "no-net":
        torch.save({"state_dict": {}, "hyper_parameters": {"net": None}}, path)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(error, match=rf"model.ckpt.*{message}"):
        Recognizer.from_checkpoint(path)


def test_truncated_checkpoint_and_bad_onnx_files(photo_checkpoint, tmp_path):
    data = photo_checkpoint.read_bytes()
    truncated = tmp_path / "cut.ckpt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut.ckpt.*not a readable checkpoint"):
        Recognizer.from_checkpoint(truncated)
    garbage = tmp_path / "bad.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(CheckpointError, match=r"bad.onnx.*not a readable ONNX model"):
        Recognizer.from_onnx(garbage)
    with pytest.raises(FileNotFoundError, match=r"missing\.onnx"):
        Recognizer.load(tmp_path / "missing.onnx")
    # an ONNX model digitrec did not export has no preprocessing metadata
    plain = onnx.load(str(export_checkpoint(photo_checkpoint, "onnx", tmp_path / "m.onnx")))
    del plain.metadata_props[:]
    onnx.save(plain, str(tmp_path / "plain.onnx"))
    with pytest.raises(CheckpointError, match=r"plain.onnx.*no 'digitrec.preprocess' metadata"):
        Recognizer.from_onnx(tmp_path / "plain.onnx")
    assert (
        Recognizer.from_onnx(
            tmp_path / "plain.onnx",
            preprocess={"_target_": ("digitrec.preprocess.PhotoPreprocessor")},
        )
        .predict(np.zeros((50, 50), np.uint8))
        .digit
        is None
    )


def test_mnist_form_checkpoint_reads_crops_as_trained_and_photos_via_mnist(make_cfg):
    from digitrec.train import train

    summary = train(make_cfg("preprocess=none", "trainer.max_epochs=1", "test=false"))
    recognizer = Recognizer.from_checkpoint(summary["best_checkpoint"])
    assert recognizer.inputs.trained["_target_"].endswith("MnistFormCheck")
    assert recognizer.inputs.config["_target_"].endswith("PhotoPreprocessor")
    images, labels = embedded_digits_of_split("test", 0)
    crop = recognizer.locate(images[0])
    np.testing.assert_array_equal(crop.image, images[0])  # exactly the training input
    assert crop.box == (0, 0, 28, 28)
    predictions = recognizer.predict_batch(list(images[:200]))
    assert np.mean([p.digit == y for p, y in zip(predictions, labels[:200], strict=True)]) > 0.85


def test_smoothers_vote_over_recent_frames():
    def prediction(digit):
        if digit is None:
            return Prediction(None, 0.0, None, None)
        probabilities = np.full(10, 0.01, np.float32)
        probabilities[digit] = 0.91
        return Prediction(digit, 0.91, probabilities, (0, 0, 5, 5))

    smoother = DigitSmoother(window=3)
    assert [smoother.update(prediction(d)) for d in (4, 4, 7, 4, None, None, None)] == [
        4,
        4,
        4,
        4,
        4,
        None,
        None,
    ]
    text = TextSmoother(window=3)
    assert [text.update(t) for t in ("12", "17", "12", "17", "17")] == [
        "12",
        "17",
        "12",
        "17",
        "17",
    ]
    with pytest.raises(ValueError, match="window"):
        DigitSmoother(window=0)


def test_export_command(photo_checkpoint, tmp_path):
    from conftest import run_script

    out = tmp_path / "digits.onnx"
    done = run_script("export.py", tmp_path, f"ckpt_path={photo_checkpoint}", f"output={out}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"exported {out}" in done.stdout.replace("\n", "")
    assert Recognizer.from_onnx(out).predict(np.zeros((40, 40), np.uint8)).digit is None
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"\0" * 10)
    failed = run_script("export.py", tmp_path, f"ckpt_path={bad}", "format=torchscript")
    assert failed.returncode == 1
    assert "bad.ckpt" in failed.stderr and "not a readable checkpoint" in failed.stderr
    assert "Traceback" not in failed.stderr and not (tmp_path / "bad.torchscript.pt").exists()


def test_batchnorm_folding_keeps_the_outputs():
    from torch import nn

    from digitrec.inference.optimize import fuse_batchnorm
    from digitrec.nets.cnn_bn import BatchNormCNN

    torch.manual_seed(0)
    net = BatchNormCNN().eval()
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
    fused = fuse_batchnorm(net)
    assert not any(isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d) for m in fused.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())  # the original is untouched
    images = torch.rand(16, 1, 28, 28)
    with torch.inference_mode():
        torch.testing.assert_close(fused(images), net(images), atol=1e-5, rtol=1e-5)


def test_bad_torchscript_files_give_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such TorchScript model file.*gone"):
        Recognizer.load(tmp_path / "gone.torchscript.pt")
    junk = tmp_path / "junk.torchscript.pt"
    junk.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match=r"junk.torchscript.pt.*is not a TorchScript model"):
        Recognizer.load(junk)


def test_float_16_bit_and_transparent_images_are_read(tmp_path):
    from digitrec.data.images import read_image
    from digitrec.preprocess import to_gray_uint8

    ink = np.full((60, 60), 255, np.uint8)
    cv2.line(ink, (30, 8), (30, 52), 0, 5)  # a dark 1 on white
    files = {
        "float.tiff": ink.astype(np.float32) / 255.0,
        "deep.png": ink.astype(np.uint16) * 257,
        "bright_float.tiff": ink.astype(np.float32),
    }
    for name, pixels in files.items():
        assert cv2.imwrite(str(tmp_path / name), pixels)
    # black ink on a transparent background (the transparent pixels are black too)
    transparent = np.zeros((60, 60, 4), np.uint8)
    transparent[..., 3] = 255 - ink
    assert cv2.imwrite(str(tmp_path / "transparent.png"), transparent)
    for name in [*files, "transparent.png"]:
        gray = to_gray_uint8(read_image(tmp_path / name))
        assert gray.dtype == np.uint8
        assert gray[30, 30] < 40 and gray[5, 5] > 215, name  # ink dark, paper light


def test_one_rule_says_which_preprocessing_reads_what():
    from digitrec.inference.inputs import InputPreprocessing
    from digitrec.preprocess import GuidePreprocessor, MnistFormCheck, PhotoPreprocessor

    photo = {"_target_": "digitrec.preprocess.PhotoPreprocessor"}
    guide = {"_target_": "digitrec.preprocess.GuidePreprocessor", "size": 28}
    crops = {"_target_": "digitrec.preprocess.MnistFormCheck"}
    # the model's own, when it finds digits: it reads everything
    own = InputPreprocessing.choose(photo)
    assert isinstance(own.reader, PhotoPreprocessor) and own.crops is None
    # a net trained on 28x28 crops: its own reads 28x28 inputs, preprocess=photo the photos
    for trained, kind in ((guide, GuidePreprocessor), (crops, MnistFormCheck)):
        split = InputPreprocessing.choose(trained)
        assert isinstance(split.reader, PhotoPreprocessor) and isinstance(split.crops, kind)
        assert split.trained == trained and split.config["_target_"].endswith("PhotoPreprocessor")
    # a user's choice reads everything, as given, whatever the net was trained with
    chosen = InputPreprocessing.choose(photo, chosen=guide)
    assert isinstance(chosen.reader, GuidePreprocessor) and chosen.crops is None
    assert chosen.trained == photo and chosen.config == guide
    # 28x28 inputs read by the crops' preprocessing: blank or mostly-ink crops hold no digit
    split = InputPreprocessing.choose(crops)
    assert split.locate(np.zeros((28, 28), np.uint8)) is None
    assert split.locate(np.full((28, 28), 255, np.uint8)) is None
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 12:16] = 255
    assert np.array_equal(split.locate(digit).image, digit)
    assert split.runs(digit) is not None  # the photo reader segments numbers
    assert chosen.runs(digit) is None  # the guide's resize cannot
