"""Benchmark: 5 epochs of the guide's CNN through digitrec versus a plain PyTorch loop.

Every run trains the guide's CNN (batch 32, Adam lr 1e-3) on the same in-memory tensors of the
embedded data's 80% training split and evaluates on its 20% test split after every epoch:

- "plain loop, PyTorch defaults": the loop a guide reader writes (default Adam, NCHW tensors);
- "plain loop, digitrec's settings": the same loop with the optimizer built from digitrec's
  config and the net in the same memory layout, so the ratio against it is the framework's cost;
- "digitrec": ``experiment=guide`` with its default callbacks (checkpointing, progress bar,
  model summary, timer) and CSV logging. Its epoch time is the ``Timer`` callback's, from the
  first to the end of the last epoch; "whole fit" adds loading the cache and the sanity check.

    python scripts/bench_train.py [--repeats 3] [extra Hydra overrides for the digitrec run...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial

import lightning as L
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from rich.console import Console
from rich.table import Table

from digitrec.config import compose_config
from digitrec.data import Side
from digitrec.data.batches import to_model_input
from digitrec.nets import GuideCNN
from digitrec.train import train
from digitrec.utils.malloc import tune_glibc_malloc


def plain_loop(
    dm, epochs: int, batch_size: int, make_optimizer, channels_last: bool, seed: int
) -> tuple[float, float]:
    """Train with a hand-written loop; returns (seconds for the epochs, final test accuracy)."""
    L.seed_everything(seed, verbose=False)
    train_set, test_set = dm.split(Side.TRAIN), dm.split(Side.TEST)
    net = GuideCNN()
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(net.parameters())

    def evaluate() -> float:
        net.eval()
        correct = 0
        with torch.no_grad():
            for start in range(0, len(test_set), dm.eval_batch_size):
                x = to_model_input(test_set.images[start : start + dm.eval_batch_size])
                y = test_set.labels[start : start + dm.eval_batch_size]
                correct += (net(x).argmax(1) == y).sum().item()
        net.train()
        return correct / len(test_set)

    begin = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(train_set))
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            logits = net(to_model_input(train_set.images[index]))
            loss = F.cross_entropy(logits, train_set.labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        accuracy = evaluate()
    return time.perf_counter() - begin, accuracy


def digitrec_fit(overrides: list[str]) -> tuple[float, float, float]:
    """Train through ``digitrec.train``: (epoch seconds, whole-fit seconds, test accuracy)."""
    with tempfile.TemporaryDirectory() as out:
        cfg = compose_config("train", ["experiment=guide", f"paths.output_dir={out}", *overrides])
        summary = train(cfg)
    return summary["train_loop_seconds"], summary["fit_seconds"], summary["metrics"]["test/acc"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each (the fastest counts)")
    parser.add_argument(
        "--no-tune-malloc",
        dest="tune",
        action="store_false",
        help="leave glibc's allocator at its defaults for every run",
    )
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for the digitrec run")
    args = parser.parse_args()

    overrides = [f"tune_malloc={args.tune}", *args.overrides]
    if args.tune:  # process-wide, so the plain loops get it too
        tune_glibc_malloc()
    cfg = compose_config("train", ["experiment=guide", "paths.output_dir=unused", *overrides])
    dm = instantiate(cfg.data, _recursive_=False)
    dm.prepare_data()
    dm.setup("fit")
    epochs, batch, seed = cfg.trainer.max_epochs, cfg.data.batch_size, cfg.seed
    opt = cfg.model.optimizer
    baselines = {
        "plain loop, PyTorch defaults": (partial(torch.optim.Adam, lr=opt.lr, eps=opt.eps), False),
        "plain loop, digitrec's settings": (instantiate(opt), cfg.model.channels_last),
    }

    times: dict[str, list[tuple[float, ...]]] = {name: [] for name in [*baselines, "digitrec"]}
    for _ in range(args.repeats):  # interleaved, so drifting machine load hits all alike
        for name, (make_optimizer, channels_last) in baselines.items():
            times[name].append(plain_loop(dm, epochs, batch, make_optimizer, channels_last, seed))
        times["digitrec"].append(digitrec_fit(overrides))

    ours = times["digitrec"]
    best_epochs, best_fit = min(r[0] for r in ours), min(r[1] for r in ours)
    table = Table(
        title=f"{epochs} epochs of the guide's CNN, batch {batch}, "
        f"{len(dm.split(Side.TRAIN))} train / {len(dm.split(Side.TEST))} test images, "
        f"{torch.get_num_threads()} threads, "
        f"best of {args.repeats}, malloc {'tuned' if args.tune else 'default'}"
    )
    for column in ("training", "epochs (s)", "whole fit (s)", "test acc", "digitrec / this"):
        table.add_column(column)
    for name in baselines:
        best = min(t for t, _ in times[name])
        table.add_row(
            name, f"{best:.2f}", "-", f"{times[name][-1][1]:.4f}", f"{best_epochs / best:.3f}"
        )
    table.add_row(
        "digitrec (Lightning)",
        f"{best_epochs:.2f}",
        f"{best_fit:.2f}",
        f"{ours[-1][2]:.4f}",
        "1.000",
    )
    Console().print(table)
    print("target: digitrec / plain <= 1.15")


if __name__ == "__main__":
    main()
