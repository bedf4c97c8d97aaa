"""Models written before the renames (experiment=seed -> guide, preprocess=seed -> guide,
preprocess=mnist -> photo, model/net=seed_cnn -> guide_cnn) still load and read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from digitrec.camera.synthetic import SyntheticCamera
from digitrec.inference import Recognizer
from digitrec.nets import GuideCNN
from digitrec.preprocess import PhotoPreprocessor

FIXTURES = Path(__file__).parent / "fixtures"
# a LeNet-5 trained one epoch with preprocess=mnist by the code of 2026-11-27, before the
# renames (its config names digitrec.preprocess.MnistPreprocessor), and its ONNX export
OLD_CHECKPOINT = FIXTURES / "lenet5_photo_2026-11-27.ckpt"
OLD_ONNX = FIXTURES / "lenet5_photo_2026-11-27.onnx"


def test_a_checkpoint_and_an_export_naming_mnistpreprocessor_load_and_agree():
    stored = torch.load(OLD_CHECKPOINT, weights_only=True)["hyper_parameters"]["preprocess"]
    assert stored["_target_"] == "digitrec.preprocess.MnistPreprocessor"
    frames = [f.image for f in SyntheticCamera(level="clean", max_frames=4, seed=2).frames()]
    readers = [Recognizer.load(OLD_CHECKPOINT), Recognizer.load(OLD_ONNX)]
    for reader in readers:
        assert isinstance(reader.inputs.reader, PhotoPreprocessor)
    a, b = ([p.probabilities for p in r.predict_batch(frames)] for r in readers)
    assert np.allclose(a, b, atol=1e-4)


def test_a_checkpoint_naming_seedcnn_loads(tmp_path):
    net = GuideCNN()
    path = tmp_path / "old.ckpt"
    torch.save(
        {
            "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
            "hyper_parameters": {
                "net": {"_target_": "digitrec.nets.SeedCNN"},
                "preprocess": {"_target_": "digitrec.preprocess.GuidePreprocessor", "size": 28},
            },
        },
        path,
    )
    reader = Recognizer.load(path)
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255
    expected = torch.softmax(net.eval()(torch.from_numpy(digit).float()[None, None] / 255), 1)
    assert np.allclose(reader.probabilities(digit[None]), expected.detach().numpy(), atol=1e-5)
