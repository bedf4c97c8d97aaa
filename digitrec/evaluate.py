"""``digitrec-eval``: evaluate a model on a per-digit folder or on a data config's held-out split.

Writes ``metrics.json`` (accuracy, per-digit precision/recall/F1, confusion matrix, worst errors),
``confusion_matrix.png`` and ``worst_errors.png`` to its run dir. See ``conf/eval.yaml``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from digitrec.config import config_dir, register_resolvers
from digitrec.data.split import Side
from digitrec.inference import Recognizer
from digitrec.inference.evaluation import (
    evaluate_files,
    evaluate_folder,
    evaluate_split,
    read_labels_csv,
)
from digitrec.report import print_report, write_report
from digitrec.utils.cli import user_errors

register_resolvers()
log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate ``cfg.model_path`` and write the report into the run dir; return the report."""
    recognizer = Recognizer.load(
        cfg.model_path,
        device=cfg.get("device"),
        precision=cfg.get("precision", "32"),
        min_confidence=cfg.min_confidence,
    )
    about: dict[str, Any] = {"model": str(cfg.model_path)}
    if cfg.get("labels"):
        relpaths, labels = read_labels_csv(cfg.labels)
        result = evaluate_files(recognizer, Path(cfg.labels).parent, relpaths, labels)
        about["data"] = f"labels {cfg.labels}"
    elif cfg.get("folder"):
        result = evaluate_folder(recognizer, cfg.folder)
        about["data"] = f"folder {cfg.folder}"
    else:
        sides = {"train": Side.TRAIN, "val": Side.VAL, "test": Side.TEST}
        if cfg.split not in sides:
            raise ValueError(f"split={cfg.split!r} is not one of {', '.join(sides)}")
        data_cfg = OmegaConf.to_container(cfg.data, resolve=True)
        # the split's images are preprocessed as in training; no augmentation or photo copies
        data_cfg.update(preprocess=recognizer.inputs.trained, augment=None)
        for extra in ("photo_copies", "synthetic_per_digit", "touching_pairs"):  # training only
            if extra in data_cfg:
                data_cfg[extra] = 0
        datamodule = instantiate(data_cfg, _recursive_=False)
        datamodule.prepare_data()
        datamodule.setup("test")
        result = evaluate_split(recognizer, datamodule, sides[cfg.split])
        about["data"] = f"{datamodule.describe()} {cfg.split} split (seed {cfg.seed})"
    return write_report(result, cfg.paths.output_dir, about, worst=cfg.worst)


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="eval")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: evaluate, print the table and where the report went."""
    console = Console(soft_wrap=True, highlight=False)
    with user_errors():
        report = evaluate(cfg)
    print_report(report, console)
    console.print(f"[bold]report[/bold] {cfg.paths.output_dir}")


if __name__ == "__main__":
    main()
