"""Benchmark: 5 epochs of the guide's CNN through digitrec versus a plain PyTorch loop.

Every run trains the guide's CNN (batch 32, Adam lr 1e-3) on the same in-memory tensors of the
embedded data's 80% training split and evaluates on its 20% test split after every epoch:

- "plain loop, PyTorch defaults": the loop a guide reader writes (default Adam, NCHW tensors);
- "plain loop, digitrec's settings": the same loop with the optimizer built from digitrec's
  config and the net in the same memory layout, so the ratio against it is the framework's cost;
- "digitrec": ``experiment=guide`` with its default callbacks (checkpointing, progress bar,
  model summary, timer) and CSV logging. Its epoch time is the ``Timer`` callback's, from the
  first to the end of the last epoch; "whole fit" adds loading the cache and the sanity check.

The plain loops run as in a process that never imported Lightning (which sets
``PYTORCH_NVML_BASED_CUDA_CHECK=1``, slowing every Adam step: see ``digitrec.utils.cuda_check``).
With ``--callback-costs`` one more digitrec run is timed by Lightning's ``SimpleProfiler``:
what each default callback's hooks cost, and the training loop's own parts.

    python scripts/bench_train.py [--repeats 3] [--callback-costs] [extra Hydra overrides...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial
from typing import ClassVar

import lightning as L
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from lightning.pytorch.profilers import SimpleProfiler
from rich.console import Console
from rich.table import Table

from digitrec.config import compose_config
from digitrec.data import Side
from digitrec.data.batches import to_model_input
from digitrec.nets import GuideCNN
from digitrec.train import train
from digitrec.utils.cuda_check import restore_nvml_cuda_check, suspend_nvml_cuda_check
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
    parser.add_argument(
        "--callback-costs",
        action="store_true",
        help="also profile one digitrec run: what each default callback costs",
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
            lightning_setting = suspend_nvml_cuda_check()
            times[name].append(plain_loop(dm, epochs, batch, make_optimizer, channels_last, seed))
            restore_nvml_cuda_check(lightning_setting)
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
    console = Console(width=max(Console().width, 110))
    console.print(table)
    print("target: digitrec / plain <= 1.15")
    if args.callback_costs:
        console.print(callback_costs(overrides))


#: callback hooks that run before the first epoch or after the last
_OUTSIDE_EPOCHS = {
    "setup",
    "teardown",
    "on_fit_start",
    "on_fit_end",
    "on_train_start",
    "on_train_end",
}


class RecordingProfiler(SimpleProfiler):
    """Lightning's simple profiler, kept where this script can read its figures afterwards."""

    made: ClassVar[list[RecordingProfiler]] = []

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        RecordingProfiler.made.append(self)


def callback_costs(overrides: list[str]) -> Table:
    """Where digitrec's epochs go, from one run timed by Lightning's ``SimpleProfiler``: the
    net's work, Lightning's loop around it, validation, and each default callback's hooks."""
    with tempfile.TemporaryDirectory() as report:
        profiler = [
            f"+trainer.profiler._target_={__name__}.RecordingProfiler",
            f"+trainer.profiler.dirpath={report}",
            "+trainer.profiler.filename=fit",
        ]
        epochs, _, _ = digitrec_fit([*overrides, *profiler])
    recorded = RecordingProfiler.made[-1].recorded_durations
    total = {action: sum(durations) for action, durations in recorded.items()}
    step = total["[LightningModule]DigitClassifier.optimizer_step"]
    forward = total["[Strategy]SingleDeviceStrategy.training_step"]
    backward = total["[Strategy]SingleDeviceStrategy.backward"]
    parts = {
        "training_step (forward, loss, metrics)": forward,
        "backward": backward,
        "optimizer (fused Adam)": step - forward - backward,
        "Lightning's batch loop around them": total["run_training_batch"] - step,
        "fetching training batches": total["[_TrainingEpochLoop].train_dataloader_next"],
        "validation steps": total["[Strategy]SingleDeviceStrategy.validation_step"],
    }
    outside: dict[str, float] = {}
    for action, seconds in total.items():
        if action.startswith("[Callback]"):
            name, hook = action.removeprefix("[Callback]").rsplit(".", 1)
            part = f"callback {name.split('{')[0]}"
            # set-up, tear-down, the sanity check and testing are not part of the epochs
            if hook in _OUTSIDE_EPOCHS or hook.startswith(("on_test", "on_sanity")):
                outside[part] = outside.get(part, 0.0) + seconds
            else:
                parts[part] = parts.get(part, 0.0) + seconds
    parts["(of the checkpoint callbacks: writing the files)"] = total.get("save_checkpoint", 0.0)
    table = Table(title=f"one run, profiled: {epochs:.2f} s of epochs (the profiler's own cost in)")
    for column in ("part", "in the epochs (s)", "per epoch (ms)", "share", "outside them (s)"):
        table.add_column(column)
    count = len(recorded["run_training_epoch"])
    for part, seconds in parts.items():
        table.add_row(
            part,
            f"{seconds:.3f}",
            f"{seconds / count * 1000:.1f}",
            f"{seconds / epochs:.1%}",
            f"{outside[part]:.3f}" if part in outside else "",
        )
    return table


if __name__ == "__main__":
    main()
