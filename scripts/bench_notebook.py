"""Benchmark: phone photos of a whole notebook page, the hard case of photographed handwriting.

Renders ``--frames`` portrait 1080x1920 frames per case (``digitrec.camera.NotebookRenderer``):
a small digit (1-2 line spacings tall) written with a pen as thin as the printed rules on a
ruled and on a squared page (the rules slightly tilted and bowed), and a big thick marker digit
out of focus; half the digits by MNIST's held-out writers (strokes thinned to the pen), half by
the handwriting synthesiser. Reads each with the checkpoint's ``Recognizer`` and prints the
accuracy, how often the box found is the digit's, and the time per frame; then ``--numbers``
frames per page of a number of 3-5 digits written on a ruled and on a squared page (spaced as
people space them), read with ``Recognizer.read``: the exact-string accuracy, the digits in place.

    python scripts/bench_notebook.py --checkpoint CKPT [--frames 200] [--numbers 100]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from digitrec.camera.notebook import PAGES, NotebookRenderer, handwriting_ink, mnist_ink
from digitrec.camera.synthetic import embedded_digits_of_split
from digitrec.data.photo import boxes_overlap
from digitrec.inference import Recognizer
from digitrec.inference.evaluation import digits_in_place
from digitrec.synthesis import HandwritingSynthesizer
from digitrec.utils.threads import for_frame_loops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a checkpoint or exported model")
    parser.add_argument("--frames", type=int, default=200, help="frames per case")
    parser.add_argument("--numbers", type=int, default=100, help="numbers per page")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for_frame_loops()  # time frames as the live commands read them

    recognizer = Recognizer.load(args.checkpoint)
    sources = {
        "MNIST held-out writers": mnist_ink(*embedded_digits_of_split("test")),
        "synthesised styles": handwriting_ink(HandwritingSynthesizer()),
    }
    table = Table(title=f"{args.frames} portrait 1080x1920 phone photos per case")
    for column in ("page", "accuracy", "digit's box found", "ms per frame (median / p95)"):
        table.add_column(column, justify="right")
    for page in PAGES:
        renderer = NotebookRenderer(page=page)
        right, found, times = 0, 0, []
        for k in range(args.frames):
            rng = np.random.default_rng([args.seed, PAGES.index(page), k])
            ink = list(sources.values())[k % len(sources)]
            digit = int(rng.integers(10))
            frame = renderer.render(ink, digit, rng)
            began = time.perf_counter()
            prediction = recognizer.predict(frame.image)
            times.append((time.perf_counter() - began) * 1000)
            right += prediction.digit == digit
            found += prediction.box is not None and boxes_overlap(prediction.box, frame.boxes[0])
        table.add_row(
            page,
            f"{right / args.frames:.3f}",
            f"{found / args.frames:.3f}",
            f"{np.median(times):.1f} / {np.percentile(times, 95):.1f}",
        )
    console = Console(width=120)
    console.print(table)

    numbers = Table(title=f"{args.numbers} phone photos per page of a number of 3-5 digits")
    for column in ("page", "exact string", "digits in place", "ms per frame (median / p95)"):
        numbers.add_column(column, justify="right")
    for page in ("ruled", "squared"):
        renderer = NotebookRenderer(page=page)
        exact, in_place, total, times = 0, 0, 0, []
        for k in range(args.numbers):
            rng = np.random.default_rng([args.seed, len(PAGES) + PAGES.index(page), k])
            ink = list(sources.values())[k % len(sources)]
            digits = rng.integers(10, size=int(rng.integers(3, 6))).tolist()
            frame = renderer.render_number(ink, digits, rng)
            began = time.perf_counter()
            text = recognizer.read(frame.image).text
            times.append((time.perf_counter() - began) * 1000)
            truth = "".join(map(str, digits))
            exact += text == truth
            in_place += digits_in_place(truth, text)
            total += len(truth)
        numbers.add_row(
            page,
            f"{exact / args.numbers:.3f}",
            f"{in_place / total:.3f}",
            f"{np.median(times):.1f} / {np.percentile(times, 95):.1f}",
        )
    console.print(numbers)


if __name__ == "__main__":
    main()
