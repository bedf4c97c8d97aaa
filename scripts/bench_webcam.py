"""Benchmark: reading photographed digits of writers the model never saw.

Renders ``--frames`` webcam photos (640x480) per level with the synthetic camera from the
held-out test split of the embedded data (``clean``: even light; ``medium``: uneven light, noise,
blur, pencil, off-centre, small or large digits, perspective; ``hard``: plus ruled lines, page
edge and shadows), reads them with a checkpoint through the preprocessing it was trained with and
through the guide's (``preprocess=guide``), and prints the accuracy per level (a frame where no
digit is found counts as wrong) and the preprocessing time per frame.

    python scripts/bench_webcam.py --checkpoint outputs/train/runs/<run>/checkpoints/epoch_NNN.ckpt
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from digitrec.camera.synthetic import SyntheticCamera
from digitrec.inference import Recognizer
from digitrec.utils.threads import for_frame_loops

GUIDE_PREPROCESS = {"_target_": "digitrec.preprocess.GuidePreprocessor", "size": 28}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a digitrec training checkpoint")
    parser.add_argument("--frames", type=int, default=1000, help="photos per level")
    parser.add_argument("--seed", type=int, default=0, help="renderer seed")
    args = parser.parse_args()
    for_frame_loops()  # time frames as the live commands read them

    own = Recognizer.from_checkpoint(args.checkpoint)
    reads_with = own.inputs.config["_target_"].rsplit(".", 1)[-1]
    recognizers = {
        f"checkpoint's ({reads_with})": own,
        "the guide's (preprocess=guide)": Recognizer.from_checkpoint(
            args.checkpoint, preprocess=GUIDE_PREPROCESS
        ),
    }
    table = Table(
        title=f"{args.frames} synthetic photos per level, held-out writers, {args.checkpoint}"
    )
    table.add_column("level")
    for name in recognizers:
        table.add_column(f"accuracy, {name}")
    table.add_column("no digit found")
    table.add_column("preprocess ms (median / p95)")
    for level in ("clean", "medium", "hard"):
        camera = SyntheticCamera(level=level, split="test", seed=args.seed, max_frames=args.frames)
        frames = list(camera.frames())
        labels = [f.labels[0] for f in frames]
        row, timings, missing = [level], [], 0
        for k, recognizer in enumerate(recognizers.values()):
            crops = []
            for frame in frames:
                began = time.perf_counter()
                crops.append(recognizer.locate(frame.image))
                if k == 0:
                    timings.append((time.perf_counter() - began) * 1000)
            digits = [p.digit for p in recognizer.classify_crops(crops)]
            if k == 0:
                missing = sum(c is None for c in crops)
            row.append(f"{np.mean([d == y for d, y in zip(digits, labels, strict=True)]):.4f}")
        row += [f"{missing}", f"{np.median(timings):.2f} / {np.percentile(timings, 95):.2f}"]
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()
