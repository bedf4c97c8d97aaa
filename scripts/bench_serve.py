"""Benchmark: what the web path of ``digitrec-serve`` adds to reading a frame.

Starts the app on a local port with a checkpoint or export, then on ``--frames`` synthetic
640x480 photos (medium level) times, in the same run:

- the Recognizer called directly (``Recognizer.read``) per frame;
- one WebSocket client sending each frame as the page does (4-byte id + JPEG) and waiting for
  the answer: round trip per frame (median, p95), frames per second, and the difference from
  the direct read (target: the web path adds <= 2 ms);
- ``POST /api/predict`` (PNG uploads) with 1 and 4 concurrent clients: requests per second.

    python scripts/bench_serve.py --checkpoint CKPT [--frames 300]
"""

from __future__ import annotations

import argparse
import struct
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import httpx
import numpy as np
from rich.console import Console
from rich.table import Table
from websockets.sync.client import connect

from digitrec.camera.synthetic import SyntheticCamera
from digitrec.data.captures import CaptureWriter
from digitrec.inference import Recognizer
from digitrec.serve.app import create_app
from digitrec.serve.background import served_in_thread


def _ms(values: list[float]) -> str:
    return f"{np.median(values):.2f} / {np.percentile(values, 95):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a checkpoint or exported model")
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()

    recognizer = Recognizer.load(args.checkpoint)
    images = [
        f.image for f in SyntheticCamera(level="medium", max_frames=args.frames, seed=7).frames()
    ]
    jpegs = [cv2.imencode(".jpg", i, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes() for i in images]
    pngs = [cv2.imencode(".png", i)[1].tobytes() for i in images]
    for image in images[:10]:  # warm up
        recognizer.read(image)
    direct = []
    for image in images:
        began = time.perf_counter()
        recognizer.read(image)
        direct.append((time.perf_counter() - began) * 1000)

    with tempfile.TemporaryDirectory() as root:
        app = create_app(recognizer, CaptureWriter(root, session="bench"))
        with served_in_thread(app) as url:
            round_trips = []
            with connect(url.replace("http", "ws", 1) + "ws") as socket_:
                for frame_id, jpeg in enumerate(jpegs, start=1):
                    began = time.perf_counter()
                    socket_.send(struct.pack(">I", frame_id) + jpeg)
                    socket_.recv()
                    round_trips.append((time.perf_counter() - began) * 1000)
            rates = {}
            for clients in (1, 4):
                with httpx.Client() as client:

                    def post(png: bytes, client: httpx.Client = client) -> None:
                        client.post(
                            url + "api/predict", files={"image": ("f.png", png)}
                        ).raise_for_status()

                    began = time.perf_counter()
                    with ThreadPoolExecutor(clients) as pool:
                        list(pool.map(post, pngs))
                    rates[clients] = len(pngs) / (time.perf_counter() - began)

    table = Table(title=f"{args.frames} synthetic 640x480 frames (medium), {args.checkpoint}")
    for column in ("path", "ms per frame (median / p95)", "frames per second"):
        table.add_column(column, justify="right")
    table.add_row("Recognizer.read, direct", _ms(direct), f"{1000 / np.median(direct):.0f}")
    table.add_row(
        "WebSocket round trip (JPEG)", _ms(round_trips), f"{1000 / np.median(round_trips):.0f}"
    )
    for clients, rate in rates.items():
        table.add_row(f"POST /api/predict, {clients} client(s) (PNG)", "", f"{rate:.0f}")
    console = Console(width=120)
    console.print(table)
    added = np.median(round_trips) - np.median(direct)
    console.print(f"the WebSocket path adds {added:.2f} ms per frame (median; target <= 2 ms)")


if __name__ == "__main__":
    main()
