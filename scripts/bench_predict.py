"""Benchmark: end-to-end reading of one 640x480 webcam frame (preprocessing + net) with PyTorch
eager (float32, and bfloat16 where the CPU has it natively) and ONNX Runtime, batched throughput
of preprocessed crops, and reading a 5-digit number (spaced, and with touching digits).

Timing does not depend on the weights' values, so without ``--checkpoint`` a freshly initialised
net of ``experiment=webcam`` (the BatchNorm CNN with the photo preprocessing) is timed, eager
and exported; pass your own checkpoint to time it instead.

    python scripts/bench_predict.py [--checkpoint PATH] [--frames 300]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

from digitrec.camera.synthetic import SyntheticCamera
from digitrec.config import compose_config
from digitrec.export import export_checkpoint, export_net
from digitrec.inference import Recognizer, TorchBackend
from digitrec.inference.backends import cpu_has_native_bf16
from digitrec.preprocess import to_gray_uint8
from digitrec.synthesis.render import NUMBER_GAPS
from digitrec.utils.threads import for_frame_loops


def untrained_model(experiment: str) -> tuple[torch.nn.Module, dict, dict]:
    """An initialised net as ``experiment`` configures it, its config and the preprocessing."""
    cfg = compose_config("train", [f"experiment={experiment}"])
    net_cfg = OmegaConf.to_container(cfg.model.net, resolve=True)
    return (
        instantiate(net_cfg).eval(),
        net_cfg,
        OmegaConf.to_container(cfg.preprocess, resolve=True),
    )


def timings_ms(run: Callable[[], object], repeats: int) -> np.ndarray:
    for _ in range(min(20, repeats)):  # warm-up
        run()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append((time.perf_counter() - began) * 1000)
    return np.asarray(times)


def number_ms(recognizer: Recognizer, images: list[np.ndarray]) -> np.ndarray:
    """``Recognizer.read``'s time for each image (after a warm-up on the first few)."""
    for image in images[:5]:
        recognizer.read(image)
    return np.asarray([timings_ms(lambda i=i: recognizer.read(i), 1)[0] for i in images])


def frame_breakdown(recognizer: Recognizer, frames: list[np.ndarray]) -> Table:
    """Where a frame's time goes: each part timed inside a frame loop (the parts one after the
    other on every frame, as ``predict`` runs them) beside the same part timed alone in a loop
    of its own (warm caches, no other work between calls)."""
    crops = [recognizer.locate(f) for f in frames]
    parts: dict[str, list[float]] = {
        "locate (preprocessing)": [],
        "  of which the colour conversion": [],
        "classify (net)": [],
        "the rest (predict less the two)": [],
    }
    for frame in frames:
        began = time.perf_counter()
        to_gray_uint8(frame)
        gray_done = time.perf_counter()
        crop = recognizer.locate(frame)
        located = time.perf_counter()
        recognizer.classify_crops([crop])
        classified = time.perf_counter()
        recognizer.predict(frame)
        whole = time.perf_counter() - classified
        # locate converts the colour itself: that part is timed once more on its own
        parts["locate (preprocessing)"].append((located - gray_done) * 1000)
        parts["  of which the colour conversion"].append((gray_done - began) * 1000)
        parts["classify (net)"].append((classified - located) * 1000)
        parts["the rest (predict less the two)"].append((whole - (classified - gray_done)) * 1000)
    alone = {
        "locate (preprocessing)": [
            timings_ms(lambda f=f: recognizer.locate(f), 1)[0] for f in frames
        ],
        "  of which the colour conversion": [
            timings_ms(lambda f=f: to_gray_uint8(f), 1)[0] for f in frames
        ],
        "classify (net)": [
            timings_ms(lambda c=c: recognizer.classify_crops([c]), 1)[0] for c in crops
        ],
    }
    table = Table(title="one eager frame, part by part (ms, median)")
    for column in ("part", "inside the frame loop", "timed alone"):
        table.add_column(column, justify="right")
    for part, times in parts.items():
        table.add_row(
            part,
            f"{np.median(times):.3f}",
            f"{np.median(alone[part]):.3f}" if part in alone else "",
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a digitrec training checkpoint (default: untrained)")
    parser.add_argument("--experiment", default="webcam", help="net + preprocessing when untrained")
    parser.add_argument("--frames", type=int, default=300, help="distinct 640x480 frames")
    parser.add_argument("--batch", type=int, default=256, help="crops per batch for throughput")
    parser.add_argument("--numbers", type=int, default=100, help="5-digit numbers per spacing")
    args = parser.parse_args()
    cv2_default_threads = cv2.getNumThreads()

    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "model.onnx"
        if args.checkpoint:
            name = Path(args.checkpoint).name
            export_checkpoint(args.checkpoint, "onnx", onnx_path)

            def eager(precision: str) -> Recognizer:
                return Recognizer.from_checkpoint(args.checkpoint, precision=precision)
        else:
            name = f"untrained experiment={args.experiment}"
            net, net_cfg, preprocess = untrained_model(args.experiment)
            export_net(net, net_cfg, preprocess, "onnx", onnx_path)

            def eager(precision: str) -> Recognizer:
                return Recognizer(TorchBackend(net, precision=precision), preprocess, name=name)

        backends = {"PyTorch eager": eager("32")}
        if cpu_has_native_bf16():  # bf16 is slower where it is emulated
            backends["PyTorch eager, precision=bf16"] = eager("bf16")
        backends["ONNX Runtime"] = Recognizer.from_onnx(onnx_path)
        frames = [f.image for f in SyntheticCamera(level="medium", max_frames=args.frames, seed=3)]
        numbers = {
            spacing: [
                f.image
                for f in SyntheticCamera(
                    level="medium",
                    digits_per_frame=[5, 5],
                    gap=gap,
                    max_frames=args.numbers,
                    seed=3,
                )
            ]
            for spacing, gap in NUMBER_GAPS.items()
        }
        own = backends["PyTorch eager"]
        for frame in frames[:20]:  # warm-up
            own.predict(frame)
        # OpenCV's own thread pool, for the ratio below; the live commands use one thread
        pooled_ms = np.asarray([timings_ms(lambda f=f: own.predict(f), 1)[0] for f in frames])
        for_frame_loops()
        crops = [c.image for f in frames if (c := own.locate(f)) is not None]
        preprocess_ms = np.asarray([timings_ms(lambda f=f: own.locate(f), 1)[0] for f in frames])
        batch = np.stack((crops * (args.batch // len(crops) + 1))[: args.batch])

        table = Table(
            title=f"one 640x480 frame, {torch.get_num_threads()} torch threads, 1 OpenCV thread, "
            f"{name} ({own.inputs.config['_target_'].rsplit('.', 1)[-1]})"
        )
        for column in (
            "backend",
            "frame ms median",
            "frame ms p95",
            "net ms (1 crop)",
            f"crops/s (batch {args.batch})",
            "5-digit number ms: spaced",
            "touching",
        ):
            table.add_column(column, justify="right")
        medians = {}
        for name, recognizer in backends.items():
            for frame in frames[:20]:  # warm-up
                recognizer.predict(frame)
            frame_ms = np.asarray(
                [timings_ms(lambda f=f: recognizer.predict(f), 1)[0] for f in frames]  # noqa: B023
            )
            net_ms = timings_ms(lambda r=recognizer: r.probabilities(batch[:1]), 300)
            batch_ms = timings_ms(lambda r=recognizer: r.probabilities(batch), 20)
            medians[name] = np.median(frame_ms)
            table.add_row(
                name,
                f"{np.median(frame_ms):.2f}",
                f"{np.percentile(frame_ms, 95):.2f}",
                f"{np.median(net_ms):.3f}",
                f"{args.batch / (np.median(batch_ms) / 1000):,.0f}",
                *(f"{np.median(number_ms(recognizer, n)):.2f}" for n in numbers.values()),
            )
        console = Console(width=max(Console().width, 132))
        console.print(table)
        console.print(
            f"preprocessing alone: median {np.median(preprocess_ms):.2f} ms, "
            f"p95 {np.percentile(preprocess_ms, 95):.2f} ms over {len(frames)} frames; "
            f"ONNX Runtime / eager frame time: "
            f"{medians['ONNX Runtime'] / medians['PyTorch eager']:.2f}"
        )
        console.print(frame_breakdown(own, frames))
        console.print(
            f"eager frames with OpenCV's default {cv2_default_threads} threads: median "
            f"{np.median(pooled_ms):.2f} ms, p95 {np.percentile(pooled_ms, 95):.2f} ms; one "
            f"thread (as digitrec-predict, -serve and -capture run): "
            f"{medians['PyTorch eager'] / np.median(pooled_ms):.2f}x the time"
        )


if __name__ == "__main__":
    main()
