"""Pretrain, then fine-tune on a small capture folder; the module's freeze/scheduler options."""

from __future__ import annotations

import pytest
import torch
from conftest import write_tree

from digitrec.checkpoint import CheckpointError
from digitrec.module import DigitClassifier
from digitrec.train import train


@pytest.fixture
def captures(tmp_path):
    files = [
        (d, f"s{session}_{i}.png") for d in range(10) for session in range(3) for i in range(3)
    ]
    write_tree(tmp_path / "captures", files, size=64)
    return tmp_path / "captures"


def net_weights(path) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith("net.")}


def test_finetune_starts_from_the_checkpoint_and_keeps_features_frozen(
    make_cfg, photo_checkpoint, captures
):
    summary = train(
        make_cfg(
            "experiment=finetune",
            f"init_from={photo_checkpoint}",
            f"data.root={captures}",
            "trainer.max_epochs=2",
        )
    )
    # the handwritten digits of the captures are read well after two epochs (chance 0.10)
    assert summary["metrics"]["test/acc"] >= 0.7
    before, after = net_weights(photo_checkpoint), net_weights(summary["last_checkpoint"])
    assert before.keys() == after.keys()  # the checkpoint's net (BatchNormCNN), not guide_cnn
    features = [k for k in before if k.startswith("net.features.")]
    classifier = [k for k in before if k.startswith("net.classifier.") and "weight" in k]
    assert features and classifier
    for name in features:  # weights and BatchNorm statistics untouched
        torch.testing.assert_close(after[name], before[name], rtol=0, atol=0, msg=name)
    assert any(not torch.equal(after[k], before[k]) for k in classifier)


def test_finetune_everything_with_freeze_off(make_cfg, photo_checkpoint, captures):
    summary = train(
        make_cfg(
            "experiment=finetune",
            f"init_from={photo_checkpoint}",
            f"data.root={captures}",
            "model.freeze=[]",
            "trainer.max_epochs=1",
        )
    )
    before, after = net_weights(photo_checkpoint), net_weights(summary["last_checkpoint"])
    assert not torch.equal(after["net.features.0.0.weight"], before["net.features.0.0.weight"])


def test_init_from_errors_name_the_file(make_cfg, tmp_path, captures):
    with pytest.raises(FileNotFoundError, match=r"init_from=.*missing.ckpt"):
        train(
            make_cfg(
                "experiment=finetune",
                f"init_from={tmp_path / 'missing.ckpt'}",
                f"data.root={captures}",
            )
        )
    weights_only = tmp_path / "weights.ckpt"
    torch.save({"state_dict": {"net.w": torch.zeros(2)}}, weights_only)
    with pytest.raises(CheckpointError, match=r"init_from=.*weights.ckpt.*holds no net config"):
        train(make_cfg("experiment=finetune", f"init_from={weights_only}", f"data.root={captures}"))
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"junk")
    with pytest.raises(CheckpointError, match=r"init_from=.*bad.ckpt.*not a readable checkpoint"):
        train(make_cfg("experiment=finetune", f"init_from={bad}", f"data.root={captures}"))


def test_freeze_names_must_match_parameters():
    net_cfg = {"_target_": "digitrec.nets.GuideCNN"}
    optimizer = {"_target_": "torch.optim.Adam", "_partial_": True}
    model = DigitClassifier(net_cfg, optimizer, freeze=["features"])
    assert not any(p.requires_grad for p in model.net.features.parameters())
    assert all(p.requires_grad for p in model.net.classifier.parameters())
    with pytest.raises(ValueError, match=r"model.freeze: 'backbone' names no parameters.*features"):
        DigitClassifier(net_cfg, optimizer, freeze=["backbone"])


def test_onecycle_schedule_spans_the_run(make_cfg):
    summary = train(make_cfg("model/scheduler=onecycle", "debug=limit"))
    state = torch.load(summary["last_checkpoint"], weights_only=True)
    (scheduler,) = state["lr_schedulers"]
    assert scheduler["total_steps"] == 2 * 10  # debug=limit: 2 epochs of 10 batches
    assert scheduler["last_epoch"] == 20


@pytest.mark.slow
def test_compiled_net_trains_and_its_checkpoint_loads_into_a_plain_net(make_cfg):
    from digitrec import Recognizer

    summary = train(make_cfg("model.compile_net=true", "debug=limit"))
    recognizer = Recognizer.from_checkpoint(summary["last_checkpoint"])
    assert recognizer.probabilities(torch.zeros(2, 28, 28, dtype=torch.uint8).numpy()).shape == (
        2,
        10,
    )


def test_finetune_on_one_capture_session_of_five_frames_per_digit(
    make_cfg, photo_checkpoint, tmp_path
):
    # what the README's recipe gives after one digitrec-capture session
    write_tree(
        tmp_path / "one",
        [(d, f"20261127-120000_{i}.png") for d in range(10) for i in range(5)],
        size=64,
    )
    summary = train(
        make_cfg(
            "experiment=finetune",
            f"init_from={photo_checkpoint}",
            f"data.root={tmp_path / 'one'}",
            "trainer.max_epochs=2",
        )
    )
    assert summary["tested_checkpoint"] is not None and "test/acc" in summary["metrics"]
