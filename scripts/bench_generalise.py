"""Benchmark: how well a model reads writers it never saw, digit by digit and number by number.

Single digits, each set rendered as 640x480 photos at the clean / medium / hard levels and read
through the checkpoint's ``Recognizer``:

- MNIST's held-out writers (the embedded test split);
- the handwriting synthesiser's styles, drawn afresh from the camera's seed (never the drawings a
  training run made), reported per style as well;
- with ``--real LABELS.csv``: real photos listed in a CSV (``path,label``), per source folder
  (the first part of each path: one writer or collection) as well.

Numbers of 2-8 digits (MNIST's held-out writers and the synthesiser, medium level), spaced as
people space them and with neighbours touching or overlapping: the exact-string accuracy, the
share of digits read in place and the time ``Recognizer.read`` takes for a 5-digit number.
Prints tables and the most frequent confusions; ``--json`` saves every figure.

    python scripts/bench_generalise.py --checkpoint CKPT [--frames 500] [--real DIR/labels.csv]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from digitrec.camera.synthetic import SyntheticCamera
from digitrec.inference import Recognizer
from digitrec.inference.evaluation import digits_in_place, evaluate_files, read_labels_csv
from digitrec.report import NO_DIGIT_LABEL
from digitrec.synthesis.render import NUMBER_GAPS
from digitrec.utils.threads import for_frame_loops

LEVELS = ("clean", "medium", "hard")


def read_singles(recognizer: Recognizer, camera: SyntheticCamera) -> tuple[list[int], list[int]]:
    """True and read digits (``NO_DIGIT_LABEL`` when none is found) of every frame of ``camera``."""
    frames = list(camera.frames())
    predictions = recognizer.predict_batch([f.image for f in frames])
    truth = [f.labels[0] for f in frames]
    read = [NO_DIGIT_LABEL if p.digit is None else p.digit for p in predictions]
    return truth, read


def per_digit(truth: list[int], read: list[int]) -> list[float]:
    """Accuracy of each true digit 0-9 (nan where it never occurs)."""
    truth_a, read_a = np.asarray(truth), np.asarray(read)
    return [
        float(np.mean(read_a[truth_a == d] == d)) if np.any(truth_a == d) else float("nan")
        for d in range(10)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a checkpoint or exported model")
    parser.add_argument("--frames", type=int, default=500, help="photos per set and level")
    parser.add_argument("--numbers", type=int, default=300, help="numbers per set and spacing")
    parser.add_argument("--seed", type=int, default=100, help="renderer seed")
    parser.add_argument("--real", help="a CSV of labelled real photos (path,label)")
    parser.add_argument("--json", help="write every figure to this JSON file")
    args = parser.parse_args()
    for_frame_loops()  # time frames as the live commands read them

    recognizer = Recognizer.load(args.checkpoint)
    console = Console(width=160)
    results: dict = {"checkpoint": args.checkpoint, "singles": {}, "numbers": {}}
    confusions: Counter = Counter()

    singles = Table(title=f"single digits: {args.frames} photos per set and level")
    for column in ["set", "level", "accuracy", *map(str, range(10))]:
        singles.add_column(column, justify="right")
    style_hits: dict[str, list[bool]] = {}
    for source in ("embedded", "handwriting"):
        name = "MNIST held-out writers" if source == "embedded" else "synthesised styles"
        for level in LEVELS:
            camera = SyntheticCamera(
                level=level, split="test", source=source, seed=args.seed, max_frames=args.frames
            )
            truth, read = read_singles(recognizer, camera)
            confusions.update((t, r) for t, r in zip(truth, read, strict=True) if t != r)
            accuracy = float(np.mean(np.asarray(truth) == np.asarray(read)))
            digits = per_digit(truth, read)
            results["singles"][f"{source}/{level}"] = {"accuracy": accuracy, "per_digit": digits}
            singles.add_row(name, level, f"{accuracy:.3f}", *(f"{a:.2f}" for a in digits))
        if source == "handwriting":
            # per style: the same photos again, each style alone (medium level)
            for style in camera.handwriting.style_names():
                cam = SyntheticCamera(
                    level="medium",
                    source=source,
                    styles=[style],
                    seed=args.seed,
                    max_frames=max(20, args.frames // 10),
                )
                cam.prompt(int(style.split("/")[0]))
                truth, read = read_singles(recognizer, cam)
                style_hits[style] = [t == r for t, r in zip(truth, read, strict=True)]
    console.print(singles)

    styles = Table(title="synthesised styles alone (medium level)")
    styles.add_column("style")
    styles.add_column("accuracy", justify="right")
    for style, hits in style_hits.items():
        styles.add_row(style, f"{np.mean(hits):.3f}")
    results["styles"] = {style: float(np.mean(hits)) for style, hits in style_hits.items()}
    console.print(styles)

    if args.real:
        relpaths, labels = read_labels_csv(args.real)
        evaluated = evaluate_files(recognizer, Path(args.real).parent, relpaths, labels)
        truth, read = evaluated.labels.tolist(), evaluated.predicted.tolist()
        confusions.update((t, r) for t, r in zip(truth, read, strict=True) if t != r)
        real = Table(title=f"real photos: {args.real}")
        real.add_column("source")
        real.add_column("photos", justify="right")
        real.add_column("accuracy", justify="right")
        by_source: dict[str, list[bool]] = {}
        for path, t, r in zip(evaluated.sources, truth, read, strict=True):
            by_source.setdefault(Path(path).parts[0], []).append(t == r)
        for source, hits in sorted(by_source.items()):
            real.add_row(source, str(len(hits)), f"{np.mean(hits):.3f}")
        overall = float(np.mean(np.asarray(truth) == np.asarray(read)))
        real.add_row("all", str(len(truth)), f"{overall:.3f}")
        console.print(real)
        console.print(
            "per digit: " + "  ".join(f"{d}: {a:.2f}" for d, a in enumerate(per_digit(truth, read)))
        )
        results["real"] = {
            "accuracy": overall,
            "per_digit": per_digit(truth, read),
            "per_source": {s: float(np.mean(h)) for s, h in by_source.items()},
            "errors": [
                [p, t, r] for p, t, r in zip(evaluated.sources, truth, read, strict=True) if t != r
            ],
        }

    numbers = Table(title=f"numbers of 2-8 digits: {args.numbers} per set and spacing (medium)")
    for column in ("set", "spacing", "exact string", "digits in place", "ms (median, 5 digits)"):
        numbers.add_column(column, justify="right")
    for source in ("embedded", "handwriting"):
        for spacing, gap in NUMBER_GAPS.items():
            camera = SyntheticCamera(
                level="medium",
                split="test",
                source=source,
                digits_per_frame=[2, 8],
                gap=gap,
                seed=args.seed,
                max_frames=args.numbers,
            )
            exact, in_place, total, five = 0, 0, 0, []
            for frame in camera.frames():
                truth_text = "".join(map(str, frame.labels))
                began = time.perf_counter()
                text = recognizer.read(frame.image).text
                if len(truth_text) == 5:
                    five.append((time.perf_counter() - began) * 1000)
                exact += text == truth_text
                in_place += digits_in_place(truth_text, text)
                total += len(truth_text)
            figures = {
                "exact": exact / args.numbers,
                "digits": in_place / total,
                "ms_5_digits": float(np.median(five)) if five else float("nan"),
            }
            results["numbers"][f"{source}/{spacing}"] = figures
            numbers.add_row(
                "MNIST writers" if source == "embedded" else "synthesised",
                spacing,
                f"{figures['exact']:.3f}",
                f"{figures['digits']:.3f}",
                f"{figures['ms_5_digits']:.1f}",
            )
    console.print(numbers)

    common = ", ".join(
        f"{t}->{'none' if r == NO_DIGIT_LABEL else r}: {n}"
        for (t, r), n in confusions.most_common(12)
    )
    console.print(f"most frequent confusions (true->read): {common}")
    results["confusions"] = [[t, r, n] for (t, r), n in confusions.most_common()]
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
