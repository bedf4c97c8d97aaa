"""The evaluation report: numbers on a known case, the files, the CLI and train's report."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import run_script

from digitrec.camera.synthetic import SyntheticCamera
from digitrec.config import compose_config
from digitrec.evaluate import evaluate
from digitrec.inference import Recognizer
from digitrec.report import NO_DIGIT_LABEL, EvaluatedImages, classification_metrics, write_report


def test_metrics_on_a_known_case():
    labels = np.array([0, 0, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, NO_DIGIT_LABEL])
    metrics = classification_metrics(labels, predicted)
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert metrics["no_digit"] == 1
    per = metrics["per_class"]
    assert per["0"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert per["1"]["precision"] == pytest.approx(2 / 3) and per["1"]["recall"] == 1.0
    assert per["2"]["recall"] == 0.0 and per["2"]["support"] == 1
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 0.0) / 3, abs=1e-6)
    confusion = np.array(metrics["confusion_matrix"])
    assert confusion.shape == (10, 11)
    assert confusion[0, 0] == 1 and confusion[0, 1] == 1 and confusion[2, NO_DIGIT_LABEL] == 1
    assert confusion.sum() == 5


def test_report_files_and_worst_errors_order(tmp_path):
    result = EvaluatedImages(
        labels=np.array([3, 3, 5, 7]),
        predicted=np.array([3, 8, 6, NO_DIGIT_LABEL]),
        confidences=np.array([0.9, 0.6, 0.95, 0.0]),
        images=np.zeros((4, 28, 28), np.uint8),
        sources=["a", "b", "c", "d"],
    )
    report = write_report(result, tmp_path / "r", {"model": "m", "data": "known"}, worst=5)
    saved = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert saved == report and saved["model"] == "m" and saved["accuracy"] == 0.25
    assert [e["source"] for e in saved["worst_errors"]] == ["c", "b", "d"]
    assert saved["worst_errors"][2]["predicted"] is None
    for png in ("confusion_matrix.png", "worst_errors.png"):
        image = cv2.imread(str(tmp_path / "r" / png))
        assert image is not None and image.shape[0] > 200
    with pytest.raises(ValueError, match="nothing to evaluate"):
        EvaluatedImages(np.array([]), np.array([]), np.array([]), np.zeros((0, 28, 28)), [])


def test_eval_command_on_a_folder_of_photos(photo_checkpoint, tmp_path):
    root = tmp_path / "captures"
    frames = list(SyntheticCamera(level="medium", max_frames=20, seed=41))
    for i, frame in enumerate(frames):
        (root / str(frame.labels[0])).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / str(frame.labels[0]) / f"s_{i}.png"), frame.image)
    (root / "4").mkdir(exist_ok=True)
    (root / "4" / "broken.png").write_bytes(b"nope")
    (root / "4" / "blank.png").write_bytes(
        cv2.imencode(".png", np.full((60, 80), 200, np.uint8))[1]
    )
    done = run_script("evaluate.py", tmp_path, f"model_path={photo_checkpoint}", f"folder={root}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "broken.png" in done.stdout + done.stderr  # skipped and named
    report = json.loads((tmp_path / "h" / "metrics.json").read_text())
    assert report["count"] == 21 and report["no_digit"] >= 1
    recognizer = Recognizer.from_checkpoint(photo_checkpoint)
    right = sum(recognizer.predict(f.image).digit == f.labels[0] for f in frames)
    assert report["accuracy"] == pytest.approx(right / 21)
    assert any(e["source"] == "4/blank.png" for e in report["worst_errors"])
    assert (tmp_path / "h" / "confusion_matrix.png").stat().st_size > 0
    assert (tmp_path / "h" / "worst_errors.png").stat().st_size > 0


def test_eval_on_the_held_out_split_matches_training(make_cfg, data_dir, tmp_path):
    from digitrec.train import train

    summary = train(make_cfg("trainer.max_epochs=1", "report=true"))
    cfg = compose_config(
        "eval",
        [
            f"model_path={summary['best_checkpoint']}",
            f"paths.data_dir={data_dir}",
            f"paths.output_dir={tmp_path / 'eval'}",
        ],
    )
    report = evaluate(cfg)
    assert report["accuracy"] == pytest.approx(summary["metrics"]["test/acc"], abs=1e-6)
    assert report["count"] == 1042
    # train's own report (report=true) is the same
    trained = json.loads((tmp_path / "run" / "report" / "metrics.json").read_text())
    assert trained["accuracy"] == pytest.approx(report["accuracy"], abs=1e-6)
    assert trained["confusion_matrix"] == report["confusion_matrix"]
    with pytest.raises(ValueError, match="split='holdout'"):
        evaluate(compose_config("eval", [*cfg_overrides(cfg), "split=holdout"]))


def cfg_overrides(cfg) -> list[str]:
    return [
        f"model_path={cfg.model_path}",
        f"paths.data_dir={cfg.paths.data_dir}",
        f"paths.output_dir={cfg.paths.output_dir}",
    ]


def test_eval_command_on_a_labels_csv(photo_checkpoint, tmp_path):
    photos = tmp_path / "photos"
    (photos / "writer_a").mkdir(parents=True)
    frames = list(SyntheticCamera(level="clean", max_frames=6, seed=43))
    rows = ["path,label,kind"]
    for i, frame in enumerate(frames):
        cv2.imwrite(str(photos / "writer_a" / f"{i}.png"), frame.image)
        rows.append(f"writer_a/{i}.png,{frame.labels[0]},clean photo")
    (photos / "labels.csv").write_text("\n".join(rows) + "\n")
    done = run_script(
        "evaluate.py", tmp_path, f"model_path={photo_checkpoint}", f"labels={photos / 'labels.csv'}"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "h" / "metrics.json").read_text())
    recognizer = Recognizer.from_checkpoint(photo_checkpoint)
    right = sum(recognizer.predict(f.image).digit == f.labels[0] for f in frames)
    assert report["count"] == 6 and report["accuracy"] == pytest.approx(right / 6)


def test_labels_csv_errors_name_the_file_and_line(tmp_path):
    from digitrec.inference.evaluation import read_labels_csv

    bad = tmp_path / "labels.csv"
    bad.write_text("path,label\na.png,7\nb.png,seven\n")
    with pytest.raises(ValueError, match=r"labels\.csv' line 3: label 'seven' is not 0-9"):
        read_labels_csv(bad)
    bad.write_text("file,digit\na.png,7\n")
    with pytest.raises(ValueError, match="'path' and 'label' columns"):
        read_labels_csv(bad)
    with pytest.raises(FileNotFoundError, match="no such labels file"):
        read_labels_csv(tmp_path / "missing.csv")
