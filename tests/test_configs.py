"""Every config composes, and every option of every group instantiates."""

from __future__ import annotations

import re
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

from digitrec.config import compose_config, config_dir
from digitrec.data import DigitDataModule
from digitrec.module import DigitClassifier
from digitrec.preprocess import build_preprocessor
from digitrec.utils.instantiate import instantiate_named

CONF = config_dir()


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_config_dir_is_the_repositorys_conf():
    assert CONF == Path(__file__).resolve().parents[1] / "conf"


@pytest.mark.parametrize("name", options("data"))
def test_data_options_instantiate(make_cfg, name):
    cfg = make_cfg(f"data={name}", "data.batch_size=17", "data.val_fraction=0.25")
    dm = instantiate(cfg.data, _recursive_=False)
    assert isinstance(dm, DigitDataModule)
    assert f"{type(dm).__module__}.{type(dm).__name__}" == cfg.data._target_
    # what the command line sets reaches the data module
    assert (dm.batch_size, dm.val_fraction) == (17, 0.25)


@pytest.mark.parametrize("name", options("preprocess"))
def test_preprocess_options_instantiate(make_cfg, name):
    from conftest import digit_image

    preprocess = build_preprocessor(make_cfg(f"preprocess={name}").preprocess)
    digit = digit_image(7, size=28)  # a drawn 7, white on black
    out = preprocess(digit)
    assert out is not None and out.shape == (28, 28) and out.dtype == digit.dtype


@pytest.mark.parametrize("group", ["model/net", "model/optimizer", "model/scheduler"])
def test_model_group_options_instantiate(make_cfg, group):
    for name in options(group):
        # outside a fit the run length is unknown: give schedules over the whole run one
        extra = ["model.scheduler.total_steps=100"] if name == "onecycle" else []
        cfg = make_cfg(f"{group}={name}", *extra)
        model = instantiate(cfg.model, _recursive_=False)
        assert isinstance(model, DigitClassifier)
        assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
        L.Trainer(logger=False, max_epochs=3, enable_progress_bar=False).strategy.connect(model)
        configured = model.configure_optimizers()
        optimizer = configured["optimizer"] if isinstance(configured, dict) else configured
        # the configured classes, over every trainable parameter
        assert type(optimizer) is get_class(cfg.model.optimizer._target_), name
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        assert sum(p.numel() for g in optimizer.param_groups for p in g["params"]) == trainable
        if cfg.model.scheduler:
            scheduler = configured["lr_scheduler"]["scheduler"]
            assert type(scheduler) is get_class(cfg.model.scheduler._target_), name
        else:
            assert not isinstance(configured, dict), name


@pytest.mark.parametrize("name", options("trainer"))
def test_trainer_options_instantiate(make_cfg, name):
    cfg = make_cfg(f"trainer={name}")
    if cfg.trainer.accelerator == "gpu" and not torch.cuda.is_available():
        pytest.skip("trainer=gpu needs a CUDA GPU")
    trainer = instantiate(cfg.trainer, logger=False, enable_progress_bar=False)
    assert isinstance(trainer, L.Trainer)


@pytest.mark.parametrize("group", ["callbacks", "logger"])
def test_callback_and_logger_options_instantiate(make_cfg, group):
    for name in options(group):
        cfg = make_cfg(f"{group}={name}")
        objects = instantiate_named(cfg.get(group), group)
        assert (len(objects) == 0) == (name == "none"), name


def test_early_stopping_adds_to_the_default_callbacks(make_cfg):
    names = set(make_cfg("callbacks=early_stopping").callbacks)
    assert {"model_checkpoint", "early_stopping", "timer"} <= names


@pytest.mark.parametrize("name", options("experiment"))
def test_experiments_compose(make_cfg, name):
    cfg = make_cfg(f"experiment={name}")
    OmegaConf.resolve(cfg)
    _assert_applied(cfg, CONF / "experiment" / f"{name}.yaml")


def _assert_applied(cfg, path: Path) -> None:
    """Every value a ``# @package _global_`` config file sets is in the composed config."""
    own = OmegaConf.to_container(OmegaConf.load(path))
    for key, node in own.items():
        if key == "defaults":
            continue
        flat = _flatten(node, str(key))
        for dotted, value in flat.items():
            if value == "???":
                continue
            assert OmegaConf.select(cfg, dotted) == value, f"{path.name}: {dotted}"


def _flatten(node, prefix: str) -> dict:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}.{key}"))
        return out
    return {prefix: node}


def test_experiment_seed_is_the_guide(make_cfg):
    cfg = make_cfg("experiment=guide")
    assert cfg.model.net._target_ == "digitrec.nets.GuideCNN"
    assert cfg.model.optimizer._target_ == "torch.optim.Adam"
    assert cfg.model.optimizer.lr == 1e-3
    assert not cfg.model.scheduler  # scheduler=none: an empty node
    assert (cfg.trainer.max_epochs, cfg.data.batch_size) == (5, 32)
    assert (cfg.data.test_fraction, cfg.data.val_fraction) == (0.2, 0.0)
    assert cfg.preprocess._target_ == "digitrec.preprocess.GuidePreprocessor"


@pytest.mark.parametrize("name", options("debug"))
def test_debug_options_compose(make_cfg, name):
    _assert_applied(make_cfg(f"debug={name}"), CONF / "debug" / f"{name}.yaml")


def test_run_dirs_differ_for_runs_started_together():
    dirs = set()
    for _ in range(5):
        from hydra import compose, initialize_config_dir

        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose("train", return_hydra_config=True)
        dirs.add(cfg.hydra.run.dir)
    assert len(dirs) == 5
    assert all(d.startswith("outputs/train/runs/") for d in dirs)


def test_unknown_group_option_is_a_clear_error():
    with pytest.raises(Exception, match=r"model/net.*nope"):
        compose_config("train", ["model/net=nope"])


@pytest.mark.parametrize("name", options("augment"))
def test_augment_options_instantiate(make_cfg, name):
    cfg = make_cfg(f"augment={name}")
    dm = instantiate(cfg.data, _recursive_=False)
    assert (dm.augment is None) == (name == "none")


def test_camera_options_instantiate(tmp_path):
    import cv2
    import numpy as np

    from digitrec.camera import Camera, CameraError, open_camera

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8), np.uint8))
    (tmp_path / "notes.txt").write_text("not a video")
    paths = {
        "images": [f"camera.path={tmp_path}"],
        "video": [f"camera.path={tmp_path / 'notes.txt'}"],
    }
    for name in options("camera"):
        cfg = compose_config("capture", [f"camera={name}", *paths.get(name, [])])
        if name in ("webcam", "video"):  # no webcam here; a text file is no video
            with pytest.raises(CameraError), open_camera(cfg.camera):
                pass
            continue
        with open_camera(cfg.camera) as camera:
            assert isinstance(camera, Camera) and camera.read() is not None


@pytest.mark.parametrize("config_name", ["capture", "preprocess_folder", "split_folder"])
def test_tool_configs_compose(config_name):
    folders = ["src=a", "dst=b"] if config_name != "capture" else []
    cfg = compose_config(config_name, folders)
    # every interpolation outside paths (those need a running Hydra job) resolves
    for key in cfg:
        if key != "paths" and OmegaConf.is_config(node := cfg[key]):
            OmegaConf.to_container(node, resolve=True)
    assert cfg.task_name == config_name.split("_")[0]
    if folders:
        assert (cfg.src, cfg.dst) == ("a", "b")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("preprocess.size=32", r"preprocess\.size must be 28 .*got 32"),
        ("model.num_classes=11", r"model\.num_classes must be 10 .*got 11"),
        ("model.net.num_classes=12", r"model\.net\.num_classes must be 10 .*got 12"),
    ],
)
def test_keys_that_can_only_be_one_value_say_so(make_cfg, override, message, capsys):
    from digitrec.utils.cli import user_errors

    cfg = make_cfg("preprocess=photo", override)
    with pytest.raises(SystemExit), user_errors():
        build_preprocessor(cfg.preprocess)
        instantiate(cfg.model, _recursive_=False)
    (line,) = capsys.readouterr().err.splitlines()
    assert re.search(message, line), line
